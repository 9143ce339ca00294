"""Data-set value ranges: keyed by the options that change values, from training data only, cached."""

import json

import numpy as np
import pytest

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
