"""Value ranges are robust to broken coordinates: an outlier sequence is left out and reported, a range that is
still not finite is refused (issue 34, item 8)."""

import json
import warnings

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.encode import S2IConfig, dataset_value_range, estimate_value_range
from s2i.encode.value_range import value_range_estimate
from s2i.skeleton import collate_sequences

from helpers import synthetic_ntu

TRAIN = list(range(10))


def _seqs(broken=None, value=1e30):
    out = []
    for i in range(12):
        j = synthetic_ntu(1, 20 + 3 * i, 1, seed=i)[0]
        if broken is not None and i in broken:
            j[0, 0, 0, 0] = value  # the centre joint of the first frame: every value of the sequence moves
        out.append(SkeletonSequence(j, "ntu25", meta={"label": i % 3}))
    return out


@pytest.mark.parametrize("stream", ["joint", "bone", "motion"])
def test_one_broken_coordinate_leaves_the_range_of_the_other_sequences(make_store, stream):
    splits = {"xsub": {"train": TRAIN, "test": [10, 11]}}
    clean = make_store(_seqs(), splits, name="clean")
    broken = make_store(_seqs({3}), splits, name="broken")
    cfg = S2IConfig(stream=stream)
    with pytest.warns(UserWarning, match=r"1 of 10 sequences \(3\) left out"):
        lo, hi = dataset_value_range(broken, "xsub", cfg)
    assert max(abs(v) for v in lo + hi) < 10  # not -9e29: one sequence cannot flatten every image
    reference = make_store([s for i, s in enumerate(_seqs()) if i != 3], {"xsub": {"train": list(range(9))}},
                           name="without")
    assert (lo, hi) == dataset_value_range(reference, "xsub", cfg)  # exactly the range without that sequence
    assert dataset_value_range(clean, "xsub", cfg) != (lo, hi)


def test_the_outliers_are_reported_and_normal_data_loses_nothing(make_store):
    clean = _seqs()
    batch = collate_sequences(clean[:10])
    est = value_range_estimate(batch.joints, "ntu25", lengths=batch.lengths)
    assert est.outliers == [] and est.outlier_values == 0
    bad = collate_sequences(_seqs({3, 7})[:10])
    est = value_range_estimate(bad.joints, "ntu25", lengths=bad.lengths)
    assert est.outliers == [3, 7] and est.outlier_values > 0 and est.largest > 1e29
    store = make_store(_seqs({3, 7}), {"xsub": {"train": TRAIN, "test": [10, 11]}})
    with pytest.warns(UserWarning, match=r"2 of 10 sequences \(3, 7\) left out of the value range"):
        dataset_value_range(store, "xsub", S2IConfig())
    fine = make_store(clean, {"xsub": {"train": TRAIN, "test": [10, 11]}}, name="clean")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to report on normal data
        for stream in ("joint", "bone", "motion", "bone_motion"):
            dataset_value_range(fine, "xsub", S2IConfig(stream=stream))


def test_a_range_that_is_not_finite_or_absurd_is_refused():
    x = synthetic_ntu(1, 20, 1, seed=0)[0][None].astype(np.float32)
    x[..., 0, 0] = np.inf  # every centre joint broken: no finite value is left
    with pytest.raises(ValueError, match="is not finite or beyond|no finite stream values"):
        estimate_value_range(x, "ntu25")
    every = collate_sequences(_seqs(set(range(12))))  # all broken alike: none stands out, the range is absurd
    with pytest.raises(ValueError, match=r"the given sequences: value range .* is not finite or beyond"):
        estimate_value_range(every.joints, "ntu25", lengths=every.lengths)


def test_a_cached_absurd_range_is_recomputed_not_used(make_store):
    store = make_store(_seqs(), {"xsub": {"train": TRAIN, "test": [10, 11]}})
    good = dataset_value_range(store, "xsub", S2IConfig())
    cache = json.loads((store.path / "value_ranges.json").read_text())
    for entry in cache["xsub"].values():
        entry["lo"] = [-9e29, entry["lo"][1], entry["lo"][2]]
    (store.path / "value_ranges.json").write_text(json.dumps(cache))
    assert dataset_value_range(store, "xsub", S2IConfig()) == good
