"""Data-set value ranges: keyed by the options that change values, from training data only, cached."""

import json

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.encode import (
    S2IConfig,
    dataset_value_range,
    estimate_value_range,
    precompute_value_ranges,
    resolve_persons,
    store_has_two_person,
    value_range_key,
)
from s2i.skeleton import collate_sequences

from helpers import synthetic_ntu


@pytest.fixture()
def store(make_store):
    """Train sequences near the origin, test sequences 10x larger: a leak would show at once."""
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 1, seed=i)[0] * (10.0 if i >= 5 else 1.0), "ntu25",
                             meta={"label": i % 2, "name": f"s{i}"}) for i in range(8)]
    return make_store(seqs, {"xsub": {"train": [0, 1, 2, 3, 4], "test": [5, 6, 7]}})


def _expected(store, ids, cfg):
    batch = collate_sequences([store[i] for i in ids], max_persons=cfg.max_persons)
    return estimate_value_range(batch.joints, "ntu25", cfg, lengths=batch.lengths)


def test_range_comes_from_the_training_part_only(store):
    cfg = S2IConfig(center=False, rotate=False)
    lo, hi = dataset_value_range(store, "xsub", cfg)
    np.testing.assert_allclose(lo, _expected(store, [0, 1, 2, 3, 4], cfg)[0], atol=1e-5)
    np.testing.assert_allclose(hi, _expected(store, [0, 1, 2, 3, 4], cfg)[1], atol=1e-5)
    leak = _expected(store, list(range(8)), cfg)
    assert max(abs(a - b) for a, b in zip(hi, leak[1])) > 0.1  # train + test would differ clearly


def test_options_that_change_values_get_their_own_range(store, tmp_path):
    plain = dataset_value_range(store, "xsub", S2IConfig())
    scaled = dataset_value_range(store, "xsub", S2IConfig(scale=True))
    bone = dataset_value_range(store, "xsub", S2IConfig(stream="bone"))
    assert plain != scaled and plain != bone
    assert value_range_key(S2IConfig(scale=True)) != value_range_key(S2IConfig())
    assert value_range_key(S2IConfig(height=64, layout="raw")) == value_range_key(S2IConfig())  # layout only
    cache = json.loads((store.path / "value_ranges.json").read_text())
    key = value_range_key(resolve_persons(S2IConfig(scale=True), store_has_two_person(store)))
    assert key in cache["xsub"]
    # a cached value is served as it was stored (the cache is used, not recomputed)
    cache["xsub"][key]["lo"] = [-7.0, -7.0, -7.0]
    (store.path / "value_ranges.json").write_text(json.dumps(cache))
    assert dataset_value_range(store, "xsub", S2IConfig(scale=True))[0] == [-7.0, -7.0, -7.0]


def test_precomputed_ranges_are_the_ones_looked_up(store):
    pre = precompute_value_ranges(store, streams=("joint", "motion"))
    key = value_range_key(resolve_persons(S2IConfig(stream="motion"), store_has_two_person(store)))
    got = dataset_value_range(store, "xsub", S2IConfig(stream="motion"))
    assert (pre["xsub"][key]["lo"], pre["xsub"][key]["hi"]) == got


def test_unknown_split_names_the_available_ones(store):
    from s2i.store import StoreError

    with pytest.raises(StoreError, match="no split 'xview'.*xsub"):
        dataset_value_range(store, "xview")


# --- by value, for the mutation survivors (issue 18) ----------------------------------------------------
def _seeded_pick(ids, sample, seed=0):
    return np.sort(np.random.default_rng(seed).choice(np.asarray(ids), size=min(sample, len(ids)), replace=False))


def _rounded(store, ids, cfg):
    lo, hi = _expected(store, ids, cfg)
    return [round(x, 6) for x in lo], [round(x, 6) for x in hi]


def test_a_range_stored_by_prepare_is_served_as_stored(make_store):
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 1, seed=i)[0], "ntu25", meta={"label": 0}) for i in range(4)]
    key = value_range_key(resolve_persons(S2IConfig(), False))
    stored = {"xsub": {key: {"lo": [-5.0, -4.0, -3.0], "hi": [5.0, 4.0, 3.0], "sample": [256, 0]}}}
    store = make_store(seqs, {"xsub": {"train": [0, 1], "test": [2, 3]}}, stats={"value_ranges": stored})
    assert dataset_value_range(store, "xsub", S2IConfig()) == ([-5.0, -4.0, -3.0], [5.0, 4.0, 3.0])
    assert not (store.path / "value_ranges.json").exists()


def test_the_cache_keeps_lo_hi_and_the_seeded_sample(store, monkeypatch):
    cfg = S2IConfig(center=False, rotate=False)
    key = value_range_key(resolve_persons(cfg, store_has_two_person(store)))
    lo, hi = dataset_value_range(store, "xsub", cfg)  # sample 256 >= 5 training sequences: all of them
    assert (lo, hi) == _rounded(store, [0, 1, 2, 3, 4], cfg)
    assert json.loads((store.path / "value_ranges.json").read_text()) == {
        "xsub": {key: {"lo": lo, "hi": hi, "sample": [256, 0]}}}
    # another sample size is not served from the cache: three of the five, drawn with the seed
    small = dataset_value_range(store, "xsub", cfg, sample=3)
    assert small == _rounded(store, _seeded_pick([0, 1, 2, 3, 4], 3).tolist(), cfg) and small != (lo, hi)
    assert dataset_value_range(store, "xsub", cfg, sample=3, seed=5) == _rounded(
        store, _seeded_pick([0, 1, 2, 3, 4], 3, seed=5).tolist(), cfg)
    # a damaged cache is recomputed and rewritten; a store that cannot be written still gives the range
    (store.path / "value_ranges.json").write_text("{not json")
    assert dataset_value_range(store, "xsub", cfg) == (lo, hi)
    assert json.loads((store.path / "value_ranges.json").read_text())["xsub"][key]["lo"] == lo
    (store.path / "value_ranges.json").unlink()

    def read_only(*a, **k):
        raise PermissionError("read-only store")

    monkeypatch.setattr(type(store), "write_json", read_only)
    assert dataset_value_range(store, "xsub", cfg) == (lo, hi)


def test_one_training_sequence_is_enough_and_none_is_an_error(make_store):
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 1, seed=i)[0], "ntu25", meta={"label": 0}) for i in range(3)]
    store = make_store(seqs, {"one": {"train": [1], "test": [0, 2]}, "none": {"train": [], "test": [0, 1, 2]}})
    cfg = S2IConfig()
    assert dataset_value_range(store, "one", cfg) == _rounded(store, [1], cfg)
    with pytest.raises(ValueError) as e:
        dataset_value_range(store, "none", cfg)
    assert str(e.value) == f"{store.path}: no training sequences to estimate a value range from"
    # precompute skips the split without training sequences and goes on with the next ones
    pre = precompute_value_ranges(store, streams=("joint",))
    assert sorted(pre) == ["one"]
    assert pre["one"] == {value_range_key(resolve_persons(cfg, False)): {
        "lo": _rounded(store, [1], cfg)[0], "hi": _rounded(store, [1], cfg)[1], "sample": [256, 0]}}


def test_precomputed_ranges_use_the_seeded_sample_and_the_data_person_policy(make_store):
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 2 if i == 0 else 1, seed=i)[0], "ntu25", meta={"label": 0})
            for i in range(13)]
    train = list(range(12))  # 3 of 12: an unseeded draw matches the seeded one 1 time in 220, not 1 in 10
    store = make_store(seqs, {"xsub": {"train": train, "test": [12]}})
    assert store_has_two_person(store)
    cfg = resolve_persons(S2IConfig(), True)
    pre = precompute_value_ranges(store, streams=("joint",), sample=3, seed=2)
    key = value_range_key(cfg)
    assert key.endswith("persons=stack2")
    lo, hi = _rounded(store, _seeded_pick(train, 3, seed=2).tolist(), cfg)
    assert pre == {"xsub": {key: {"lo": lo, "hi": hi, "sample": [3, 2]}}}


def test_value_range_key_names_each_option():
    assert value_range_key(S2IConfig()) == "joint|center=1|rotate=auto|scale=0|persons=stack2"
    assert value_range_key(S2IConfig(stream="bone", center=False, rotate=False, scale=True, persons="first")) == \
        "bone|center=0|rotate=0|scale=1|persons=first"
    assert value_range_key(S2IConfig(rotate=True, persons="stack", max_persons=3)).split("|")[2:] == \
        ["rotate=1", "scale=0", "persons=stack3"]


def test_a_split_without_training_part_uses_every_sequence(make_store):
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 1, seed=i)[0], "ntu25", meta={"label": 0}) for i in range(3)]
    store = make_store(seqs, {"cv": {"test": [0, 1]}})
    cfg = S2IConfig()
    assert dataset_value_range(store, "cv", cfg) == _rounded(store, [0, 1, 2], cfg)
    assert dataset_value_range(store, None, cfg, sample=2) == _rounded(store, _seeded_pick([0, 1, 2], 2).tolist(), cfg)
    cache = json.loads((store.path / "value_ranges.json").read_text())
    assert list(cache) == ["all"] and list(cache["all"].values())[0]["sample"] == [2, 0]


def test_a_constant_channel_gets_a_range_of_one_thousandth():
    x = synthetic_ntu(1, 30, 1, seed=0)[0][None].astype(np.float32)  # (1, M, T, V, 3)
    x[..., 2] = 3.0
    lo, hi = estimate_value_range(x, "ntu25", S2IConfig(center=False, rotate=False))
    assert lo[2] == 3.0 and hi[2] == 3.0 + 1e-3 and hi[0] > lo[0] + 0.01


def test_values_are_subsampled_with_the_seed_and_estimated_in_float32():
    x = synthetic_ntu(2, 40, 1, seed=3).astype(np.float64)  # (2, M, T, V, 3): 2 * 40 * 25 values per channel
    cfg = S2IConfig(center=False, rotate=False)
    full = estimate_value_range(x, "ntu25", cfg)
    assert full == estimate_value_range(x.astype(np.float32), "ntu25", cfg)
    assert full == estimate_value_range(x, "ntu25", cfg, max_samples=2000)  # exactly all values: no sampling
    some = estimate_value_range(x, "ntu25", cfg, max_samples=300)
    assert some != full and some == estimate_value_range(x, "ntu25", cfg, max_samples=300, seed=0)
    assert estimate_value_range(x, "ntu25", cfg, max_samples=300, seed=1) != some


def test_the_confidence_channel_of_2d_data_is_estimated_from_the_confidence(make_store):
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(3):
        joints = rng.normal(0, 100, (1, 20, 17, 2)).astype(np.float32)
        conf = rng.uniform(0.2, 0.6, (1, 20, 17)).astype(np.float32)
        seqs.append(SkeletonSequence(joints, "coco17", confidence=conf, meta={"label": 0}))
    store = make_store(seqs, {"xsub": {"train": [0, 1, 2]}})
    all_conf = torch.from_numpy(np.stack([s.confidence for s in seqs])).double().flatten()
    want = torch.quantile(all_conf, torch.tensor([0.01, 0.99], dtype=torch.float64)).tolist()
    batch = collate_sequences([store[i] for i in range(3)])
    lo, hi = estimate_value_range(batch.joints, "coco17", S2IConfig(), lengths=batch.lengths,
                                  confidence=batch.confidence)
    np.testing.assert_allclose([lo[2], hi[2]], want, rtol=1e-6)
    lo, hi = dataset_value_range(store, "xsub", S2IConfig())
    np.testing.assert_allclose([lo[2], hi[2]], want, atol=2e-6)
