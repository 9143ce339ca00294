"""The store Dataset (splits, resampling, crops, collation) and the skeleton augmentations."""

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
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
from s2i.data.dataset import crop_window
from s2i.formats import get_format

from helpers import synthetic_ntu


@pytest.fixture()
def store(make_store):
    seqs = [SkeletonSequence(synthetic_ntu(1, 20 + 10 * i, 1 + i % 2, seed=i)[0], "ntu25", meta={"label": i % 3})
            for i in range(6)]
    return make_store(seqs, {"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}}, num_classes=3).path


def test_items_are_raw_frames_with_the_sequence_label(store):
    ds = SkeletonDataset(store, "xsub", "test")
    assert len(ds) == 2 and ds.num_classes == 3
    for k, i in enumerate([4, 5]):  # split position k is not the sequence id i: the label must follow i
        item = ds[k]
        assert item["index"] == i and item["label"] == i % 3
        raw = torch.from_numpy(ds.store.joints(i))
        assert item["joints"].shape == (2, raw.shape[1], 25, 3) and item["length"] == raw.shape[1]
        torch.testing.assert_close(item["joints"][: raw.shape[0]], raw, equal_nan=True)  # not resampled
    assert torch.isnan(ds[0]["joints"][1]).all()  # sequence 4 has one person: the second is padding
    assert ds.labels.tolist() == [1, 2]


def test_store_pickles_by_path_for_spawned_workers(store):
    import pickle

    ds = SkeletonDataset(store, "xsub", "train")
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # the frames are not in the pickle
    again = pickle.loads(blob)
    torch.testing.assert_close(again[2]["joints"], ds[2]["joints"], equal_nan=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn",
                                         collate_fn=pad_collate)
    assert next(iter(loader))["joints"].shape == (2, 2, 30, 25, 3)


def test_seeded_crops_are_windows_reproducible_and_change_per_epoch(store):
    ds = SkeletonDataset(store, "xsub", "test", temporal_crop=(0.5, 0.6), seed=3)
    a, b = ds[0], ds[0]
    torch.testing.assert_close(a["joints"], b["joints"], equal_nan=True)
    raw = torch.from_numpy(ds.store.joints(4))
    assert 30 <= a["length"] <= 36
    starts = [s for s in range(61 - a["length"]) if torch.equal(raw[0, s:s + a["length"]], a["joints"][0])]
    assert len(starts) == 1  # a window of the raw frames, not a resampling
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["joints"][0, :30], a["joints"][0, :30])


def test_crop_windows_cover_both_ends():
    g = torch.Generator().manual_seed(0)
    wins = [crop_window(20, (0.5, 0.5), g) for _ in range(400)]
    assert {b - a for a, b in wins} == {10}
    assert min(a for a, _ in wins) == 0 and max(b for _, b in wins) == 20  # can start first, end last
    assert crop_window(20, None, g) == (0, 20)
    with pytest.raises(ValueError, match="crop must satisfy"):
        crop_window(20, (0.0, 1.0), g)


def test_variable_length_pad_collate(store):
    ds = SkeletonDataset(store, "xsub", "test")
    batch = pad_collate([ds[0], ds[1]])
    assert batch["joints"].shape == (2, 2, 70, 25, 3)
    assert batch["length"].tolist() == [60, 70] and batch["label"].tolist() == [1, 2]
    assert torch.isnan(batch["joints"][0, :, 60:]).all() and torch.isnan(batch["joints"][0, 1]).all()


def bone_lengths(x, spec):
    p = torch.as_tensor(spec.parent_indices)
    return torch.linalg.vector_norm(x - x[..., p, :], dim=-1)


def test_rotation_keeps_bone_lengths_and_is_reproducible():
    spec = get_format("ntu25")
    x = torch.from_numpy(synthetic_ntu(4, 10, 2))
    rot = RandomRotation(45)
    y = rot(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(bone_lengths(y, spec), bone_lengths(x, spec), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y, rot(x, torch.Generator().manual_seed(0)))
    assert not torch.allclose(y, x)
    single = rot(x[0], torch.Generator().manual_seed(0))
    assert single.shape == x[0].shape


def test_flip_is_an_involution_and_swaps_sides():
    spec = get_format("ntu25")
    x = torch.from_numpy(synthetic_ntu(2, 5))
    flip = RandomFlip(spec, p=1.0)
    y = flip(x)
    torch.testing.assert_close(y[..., spec.index("ShoulderLeft"), 0], -x[..., spec.index("ShoulderRight"), 0])
    torch.testing.assert_close(flip(y), x)


def test_dropout_shear_scale_noise():
    x = torch.from_numpy(synthetic_ntu(64, 6, 1))
    d = JointDropout(0.2)(x, torch.Generator().manual_seed(1))
    frac = torch.isnan(d[..., 0]).float().mean().item()
    assert 0.12 < frac < 0.28
    assert (torch.isnan(d[..., 0]).all(2) == torch.isnan(d[..., 0]).any(2)).all()  # whole joint tracks
    s = RandomScale((2.0, 2.0))(x)
    torch.testing.assert_close(s, 2 * x)
    sh = RandomShear(0.0)(x)
    torch.testing.assert_close(sh, x)
    pipe = Compose([RandomRotation(10), RandomShear(0.2), GaussianNoise(0.001)])
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    torch.testing.assert_close(pipe(x, g()), pipe(x, g()))
    x2 = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 2, 4, 17, 2)).astype(np.float32))
    assert RandomRotation(30)(x2).shape == x2.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_augmentations_on_gpu_match_cpu():
    x = torch.from_numpy(synthetic_ntu(4, 10, 2))
    pipe = Compose([RandomRotation(30), RandomShear(0.3), RandomScale(), RandomFlip("ntu25")])
    cpu = pipe(x, torch.Generator().manual_seed(0))
    gpu = pipe(x.cuda(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-5)
