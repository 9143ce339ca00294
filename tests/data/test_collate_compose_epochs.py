"""pad_collate on batches of one and on one-frame, two-person items; Compose applies every transform in
order; the epoch (not just "an epoch was set") selects the random stream; augmentation defaults."""

import pytest
import torch

from s2i.data import (
    Compose,
    GaussianNoise,
    JointDropout,
    RandomFlip,
    RandomRotation,
    RandomScale,
    RandomShear,
    SkeletonDataset,
    pad_collate,
)

from helpers import synthetic_ntu


def item(m, t, conf=False, label=0):
    x = torch.from_numpy(synthetic_ntu(1, t, m, seed=m * 10 + t)[0])
    it = {"joints": x, "length": t, "label": label, "index": label}
    if conf:
        it["confidence"] = torch.rand(m, t, 25)
    return it


def test_collate_a_batch_of_one_with_confidence():
    it = item(2, 5, conf=True, label=4)
    b = pad_collate([it])
    torch.testing.assert_close(b["joints"][0], it["joints"])
    torch.testing.assert_close(b["confidence"][0], it["confidence"])
    assert b["label"].tolist() == [4] and b["length"].tolist() == [5]


def test_collate_one_frame_two_person_items_keeps_both_persons():
    a, c = item(2, 1, conf=True), item(1, 3, conf=True)
    b = pad_collate([a, c])
    assert b["joints"].shape == (2, 2, 3, 25, 3)
    torch.testing.assert_close(b["joints"][0, :, :1], a["joints"])
    torch.testing.assert_close(b["confidence"][0, :, :1], a["confidence"])
    torch.testing.assert_close(b["joints"][1, :1], c["joints"])
    assert torch.isnan(b["joints"][0, :, 1:]).all() and torch.isnan(b["joints"][1, 1]).all()
    assert (b["confidence"][1, 1] == 0).all() and (b["confidence"][0, :, 1:] == 0).all()


def test_compose_applies_each_transform_in_order():
    x = torch.from_numpy(synthetic_ntu(2, 4, 1))
    add = lambda v, g=None: v + 1.0
    double = lambda v, g=None: v * 2.0
    torch.testing.assert_close(Compose([add, double])(x), (x + 1) * 2)
    torch.testing.assert_close(Compose([double, add])(x), x * 2 + 1)
    torch.testing.assert_close(Compose([RandomScale((3.0, 3.0))])(x), 3 * x)


def test_each_epoch_has_its_own_stream_and_returning_to_one_repeats_it(tmp_path):
    from s2i import SkeletonSequence
    from s2i.store import StoreWriter

    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        w.append(SkeletonSequence(synthetic_ntu(1, 60, 1)[0], "ntu25", meta={"label": 0}))
        w.finalize({}, {}, {})
    ds = SkeletonDataset(tmp_path / "st", temporal_crop=(0.3, 0.6), seed=5, transform=RandomScale((0.5, 2.0)))
    seen = {}
    for epoch in (0, 1, 2, 1, 0):
        ds.set_epoch(epoch)
        x = ds[0]["joints"]
        if epoch in seen:
            torch.testing.assert_close(x, seen[epoch], equal_nan=True)
        seen[epoch] = x
    assert not torch.equal(seen[1][0, :10], seen[2][0, :10]) and not torch.equal(seen[0][0, :10], seen[1][0, :10])


def test_augmentation_defaults():
    x = torch.zeros(64, 1, 20, 25, 3)
    noise = GaussianNoise()(x, torch.Generator().manual_seed(0))
    assert abs(noise.std().item() - 0.01) < 0.001
    assert RandomFlip("ntu25").p == 0.5
    assert RandomScale().scale == (0.9, 1.1)
    y = RandomScale()(torch.ones(400, 1, 1, 1, 3), torch.Generator().manual_seed(0))[:, 0, 0, 0, 0]
    assert 0.9 <= y.min() < 0.92 and 1.08 < y.max() <= 1.1
    assert RandomShear().magnitude == 0.3 and JointDropout().p == 0.1 and RandomRotation().degrees == (30.0,) * 3


def test_augmentations_show_their_settings():
    """The reprs name each transform and its settings (they appear in error messages and logs)."""
    aug = Compose([RandomFlip("ntu25", 0.4), RandomRotation(15), RandomShear(0.2), RandomScale((0.8, 1.2)),
                   GaussianNoise(0.02), JointDropout(0.05)])
    assert repr(aug) == ("Compose([RandomFlip(ntu25, p=0.4), RandomRotation(degrees=(15, 15, 15)), "
                         "RandomShear(magnitude=0.2), RandomScale(scale=(0.8, 1.2)), GaussianNoise(std=0.02), "
                         "JointDropout(p=0.05)])")
    assert repr(RandomRotation((10.0, 20.0, 30.0))) == "RandomRotation(degrees=(10.0, 20.0, 30.0))"


def test_crop_window_edges():
    from s2i.data import crop_window

    g = torch.Generator().manual_seed(0)
    assert crop_window(20, (1.0, 1.0), g) == (0, 20)  # the whole sequence is a valid crop
    for length, crop in ((2, (0.5, 0.5)), (3, (0.1, 0.1))):  # two frames are cropped; at least one frame
        a, b = crop_window(length, crop, g)
        assert b - a == 1
    with pytest.raises(ValueError, match="crop must satisfy"):
        crop_window(20, (0.5, 1.5), g)


def test_dataset_applies_its_transform_and_epoch_0_is_the_initial_stream(tmp_path):
    from s2i import SkeletonSequence
    from s2i.store import StoreWriter

    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        w.append(SkeletonSequence(synthetic_ntu(1, 30, 1)[0], "ntu25", meta={"label": 0}))
        w.finalize({}, {}, {})
    ds = SkeletonDataset(tmp_path / "st", transform=RandomScale((2.0, 2.0)))
    assert ds.spec.name == "ntu25"
    torch.testing.assert_close(ds[0]["joints"][:1], 2 * torch.from_numpy(ds.store.joints(0)))
    seeded = SkeletonDataset(tmp_path / "st", temporal_crop=(0.3, 0.6), seed=1)
    first = seeded[0]["joints"]
    seeded.set_epoch(0)
    torch.testing.assert_close(seeded[0]["joints"], first, equal_nan=True)


def _collate_in_worker(items):
    batch = pad_collate(items)
    return batch, batch["joints"].is_shared(), batch["confidence"].is_shared()


def test_collate_in_a_worker_pads_straight_into_shared_memory():
    """In a DataLoader worker the batch is made in shared memory (no second copy to send it), same values."""
    items = [item(2, 7, conf=True, label=1), item(1, 4, conf=True, label=2), item(2, 5, conf=True, label=3)]
    here = pad_collate(items)
    assert not here["joints"].is_shared()
    loader = torch.utils.data.DataLoader(items, batch_size=3, num_workers=1, collate_fn=_collate_in_worker)
    (there, joints_shared, conf_shared), = list(loader)
    assert joints_shared and conf_shared
    for key in ("joints", "confidence", "length", "label", "index"):
        assert torch.equal(there[key].nan_to_num(-7.0), here[key].nan_to_num(-7.0)), key
