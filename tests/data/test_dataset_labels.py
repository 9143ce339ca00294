"""SkeletonDataset reads each item's label, frames and confidence by its sequence id, never by its
position in the split; a crop cuts joints and confidence with the same window."""

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.data import SkeletonDataset, pad_collate
from s2i.store import StoreWriter

from helpers import synthetic_ntu

LABELS = [7, 3, 0, 5, 1, 6, 2, 4]  # a different label for every sequence, not a function of its id
SPLITS = {"xsub": {"train": [6, 0, 4, 2], "test": [5, 1, 7, 3]}}  # neither subset is 0..n-1 in order


@pytest.fixture(scope="module")
def store3d(tmp_path_factory):
    out = tmp_path_factory.mktemp("labels") / "st"
    with StoreWriter(out, "ntu25", 3, 25) as w:
        for i, lab in enumerate(LABELS):
            w.append(SkeletonSequence(synthetic_ntu(1, 12 + 3 * i, 1, seed=i)[0], "ntu25", meta={"label": lab}))
        w.finalize(SPLITS, {"num_classes": 8}, {})
    return out


@pytest.fixture(scope="module")
def store2d(tmp_path_factory):
    """2D coco17 sequences whose confidence encodes (sequence, person, frame, joint)."""
    out = tmp_path_factory.mktemp("labels2d") / "st"
    rng = np.random.default_rng(0)
    with StoreWriter(out, "coco17", 2, 17, with_confidence=True) as w:
        for i, lab in enumerate(LABELS):
            m, t = 1 + (i // 2) % 2, 10 + i  # test ids 5, 1: one person; 7, 3: two
            conf = (i * 1000 + np.arange(m)[:, None, None] * 100 + np.arange(t)[None, :, None]
                    + np.arange(17)[None, None, :] / 100).astype(np.float32) / 10_000
            joints = rng.normal(size=(m, t, 17, 2)).astype(np.float32)
            w.append(SkeletonSequence(joints, "coco17", confidence=conf, meta={"label": lab}))
        w.finalize(SPLITS, {"num_classes": 8}, {})
    return out


@pytest.mark.parametrize("subset", ["train", "test", None])
def test_every_item_carries_its_own_sequence_label_and_frames(store3d, subset):
    ds = SkeletonDataset(store3d, "xsub", subset)
    ids = sorted(SPLITS["xsub"]["train"] + SPLITS["xsub"]["test"]) if subset is None else SPLITS["xsub"][subset]
    assert len(ds) == len(ids)
    for k, i in enumerate(ids):
        item = ds[k]
        assert (item["index"], item["label"], item["length"]) == (i, LABELS[i], 12 + 3 * i)
        torch.testing.assert_close(item["joints"][:1], torch.from_numpy(ds.store.joints(i)))
    assert ds.labels.tolist() == [LABELS[i] for i in ids]
    batch = pad_collate([ds[k] for k in range(len(ds))])
    assert batch["label"].tolist() == [LABELS[i] for i in ids] and batch["index"].tolist() == ids


def test_confidence_follows_the_sequence_and_the_crop_window(store2d):
    ds = SkeletonDataset(store2d, "xsub", "test", temporal_crop=(0.5, 0.7), seed=1)
    for k, i in enumerate(SPLITS["xsub"]["test"]):
        item = ds[k]
        raw_j, raw_c = ds.store.joints(i), ds.store.confidence(i)
        m, n = raw_j.shape[0], item["length"]
        starts = [s for s in range(raw_j.shape[1] - n + 1)
                  if np.array_equal(raw_j[:, s:s + n], item["joints"][:m].numpy())]
        assert len(starts) == 1
        s = starts[0]
        np.testing.assert_array_equal(item["confidence"][:m].numpy(), raw_c[:, s:s + n])
        assert item["confidence"].shape == (2, n, 17)
        assert (item["confidence"][m:] == 0).all()  # an absent person has zero confidence
        assert item["label"] == LABELS[i]
    batch = pad_collate([ds[0], ds[1]])
    np.testing.assert_array_equal(batch["confidence"][0, :, : ds[0]["length"]].numpy(), ds[0]["confidence"].numpy())
    assert (batch["confidence"][0, :, ds[0]["length"]:] == 0).all()
