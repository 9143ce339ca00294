"""Data-set value ranges compared against values: the 1st/99th percentiles of the training split's stream
values (computed here with NumPy), used as given by the encoder — never a per-sequence min-max, never
train + test."""

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.encode import S2IConfig, S2IEncoder, dataset_value_range, encode, estimate_value_range, value_range_key
from s2i.encode.persons import resolve_persons, store_has_two_person
from s2i.encode.value_range import precompute_value_ranges
from s2i.skeleton import collate_sequences
from s2i.store import SkeletonStore, StoreWriter

from helpers import synthetic_ntu

TRAIN, TEST = [1, 3, 4, 6, 7], [0, 2, 5]
#: raw coordinates, one person, no normalisation: the stream values are the stored joints themselves
RAW = S2IConfig(center=False, rotate=False, persons="first", max_persons=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Test sequences are shifted far away: a range that sees them is visibly different."""
    out = tmp_path_factory.mktemp("vr") / "st"
    with StoreWriter(out, "ntu25", 3, 25) as w:
        for i in range(8):
            j = synthetic_ntu(1, 20 + i, 1, seed=10 + i)[0]
            if i in TEST:
                j = j + np.array([5.0, -4.0, 3.0], dtype=np.float32)
            w.append(SkeletonSequence(j, "ntu25", meta={"label": i % 2}))
        w.finalize({"xsub": {"train": TRAIN, "test": TEST}}, {}, {})
    return SkeletonStore(out)


def percentiles(store, ids):
    vals = np.concatenate([store.joints(i)[0].reshape(-1, 3) for i in ids])
    return np.percentile(vals, 1, axis=0), np.percentile(vals, 99, axis=0)


def test_dataset_range_is_the_training_percentiles(store):
    lo, hi = dataset_value_range(store, "xsub", RAW)
    want_lo, want_hi = percentiles(store, TRAIN)
    np.testing.assert_allclose(lo, want_lo, atol=1e-5)
    np.testing.assert_allclose(hi, want_hi, atol=1e-5)
    leak_lo, leak_hi = percentiles(store, TRAIN + TEST)
    assert np.abs(np.asarray(hi) - leak_hi).max() > 1.0  # train + test would differ by metres


def test_precomputed_ranges_are_training_percentiles_too(store):
    cfg = resolve_persons(S2IConfig(), store_has_two_person(store))  # the key of the resolved policy
    pre = precompute_value_ranges(store, streams=("joint",))
    got = pre["xsub"][value_range_key(cfg)]
    batch = collate_sequences([store[i] for i in TRAIN], max_persons=2)
    vals, ln = S2IEncoder("ntu25", cfg).stream_values(torch.from_numpy(batch.joints), torch.from_numpy(batch.lengths))
    t = torch.arange(vals.shape[2])
    flat = vals[(t[None] < ln[:, None])[:, None, :, None].expand(vals.shape[:-1])].double().numpy()
    np.testing.assert_allclose(got["lo"], np.percentile(flat, 1, axis=0), atol=1e-5)
    np.testing.assert_allclose(got["hi"], np.percentile(flat, 99, axis=0), atol=1e-5)


def test_estimate_ignores_padded_frames_and_uses_the_percentiles():
    x = synthetic_ntu(3, 30, 1, seed=4)
    lengths = np.array([30, 12, 5])
    x[1, :, 12:] = 100.0  # padding past the length must not count
    x[2, :, 5:] = -100.0
    lo, hi = estimate_value_range(x, "ntu25", RAW, lengths=lengths, percentiles=(5, 95))
    vals = np.concatenate([x[n, 0, : lengths[n]].reshape(-1, 3) for n in range(3)])
    np.testing.assert_allclose(lo, np.percentile(vals, 5, axis=0), atol=1e-5)
    np.testing.assert_allclose(hi, np.percentile(vals, 95, axis=0), atol=1e-5)


def test_encoder_maps_values_with_the_given_range_not_per_sequence():
    """Exact pixels: nearest time map with one column per frame and the raw layout with one row per joint,
    so pixel (channel c, row v, column t) is (x[t, v, c] - lo_c) / (hi_c - lo_c), clipped to [0, 1]."""
    x = synthetic_ntu(2, 16, 1, seed=2)
    x[1] = x[1] * 3.0  # a larger sequence: per-sequence scaling would hide the difference
    lo, hi = [-0.3, -0.2, 2.9], [0.4, 0.9, 3.4]
    cfg = RAW.model_copy(update={"layout": "raw", "height": 25, "width": 16, "part_resample": "nearest",
                                 "time_resample": "nearest", "range_lo": lo, "range_hi": hi})
    img = encode(x, "ntu25", cfg)
    lo_a, hi_a = np.array(lo)[None, :, None, None], np.array(hi)[None, :, None, None]
    want = np.clip((x[:, 0].transpose(0, 3, 2, 1) - lo_a) / (hi_a - lo_a), 0, 1)  # (N, C, V, T)
    np.testing.assert_allclose(img, want, atol=1e-5)
    assert (img[1] == 1).mean() > 0.05 and (img[0] == 1).mean() < (img[1] == 1).mean()  # the big one clips
    seq = encode(x, "ntu25", cfg.model_copy(update={"value_range": "sequence"}))
    for n in range(2):  # per sequence: each channel spans exactly [0, 1]
        np.testing.assert_allclose(seq[n].reshape(3, -1).min(1), 0, atol=1e-6)
        np.testing.assert_allclose(seq[n].reshape(3, -1).max(1), 1, atol=1e-6)
