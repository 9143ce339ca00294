"""The data-set statistics a store's manifest carries (``manifest["stats"]``, shown by ``s2i inspect`` and the
quality report), compared value for value with numbers worked out by hand for three small sequences."""

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.store.stats import StatsAccumulator

nan = np.nan


def three_sequences():
    """(M, T, V=3, C=2) sequences: lengths 1, 2, 3; persons present 2, 1, 1; 7 present person-frames. The
    first one has two persons and merge decisions, so sorting (not first appearance) orders the tables."""
    c = np.zeros((2, 1, 3, 2))
    c[0, 0, 0] = [-1, 7]
    c[1, 0, 0] = [2, 2]
    c[1, 0, 1] = nan
    a = np.full((2, 2, 3, 2), nan)  # person 1 absent
    a[0, 0] = [[1, 2], [0, 0], [nan, 5]]  # joint 2 missing (one NaN coordinate is enough)
    a[0, 1] = [[3, -4], [0, 0], [2, 2]]
    b = np.full((1, 3, 3, 2), 0.5)
    b[0, 0, 1] = nan
    return [
        SkeletonSequence(c.astype(np.float32), "tri",
                         meta={"denoise": ["merge: bodies 1 and 3", "merge: 4"], "denoise_mode": "lone"}),
        SkeletonSequence(a.astype(np.float32), "tri", meta={"denoise": ["drop-short: body 2", "  "],
                                                             "denoise_mode": "spread"}),
        SkeletonSequence(b.astype(np.float32), "tri", meta={"denoise": ["drop-short"], "denoise_mode": "spread"}),
    ]


def accumulated(seqs):
    acc = StatsAccumulator(num_joints=3, dims=2)
    for s in seqs:
        acc.update(s)
    return acc.result(np.array([s.joints.shape[1] for s in seqs], dtype=np.int64))


def test_statistics_of_three_sequences_by_hand():
    r = accumulated(three_sequences())
    assert r["sequences"] == 3 and r["frames_total"] == 6
    assert r["length"] == pytest.approx({"min": 1, "p5": 1.1, "p25": 1.5, "median": 2, "p75": 2.5, "p95": 2.9,
                                         "max": 3, "mean": 2.0})
    assert r["length_histogram"] == {"edges": [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0],
                                     "counts": [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]}
    assert r["persons_per_sequence"] == {"1": 2, "2": 1}
    assert list(r["persons_per_sequence"]) == ["1", "2"]
    assert r["coordinate_min"] == [-1.0, -4.0] and r["coordinate_max"] == [3.0, 7.0]
    assert r["coordinate_mean"] == pytest.approx([11 / 18, 13 / 18], rel=1e-12)
    # per joint, over the 7 person-frames of present persons: missing b twice, c once; zero b 3x, c 2x
    assert r["missing_joint_fraction"] == [0.0, 0.285714, 0.142857]
    assert r["zero_joint_fraction"] == [0.0, 0.428571, 0.285714]
    assert r["denoising_decisions"] == {"drop-short": 2, "merge": 2}
    assert r["denoising_sequences"] == {"drop-short": 2, "merge": 1}
    assert list(r["denoising_sequences"]) == ["drop-short", "merge"]
    assert r["denoising_modes"] == {"spread": 2, "lone": 1}


def test_no_sequences_give_empty_statistics():
    r = StatsAccumulator(num_joints=3, dims=2).result(np.zeros(0, dtype=np.int64))
    assert r == {"sequences": 0, "frames_total": 0, "length": {}, "length_histogram": {"edges": [], "counts": []},
                 "persons_per_sequence": {}, "coordinate_min": None, "coordinate_max": None,
                 "coordinate_mean": None, "missing_joint_fraction": [0.0, 0.0, 0.0],
                 "zero_joint_fraction": [0.0, 0.0, 0.0], "denoising_decisions": {}, "denoising_sequences": {},
                 "denoising_modes": {}}


def test_a_sequence_without_any_person_counts_as_zero_persons():
    empty = SkeletonSequence(np.full((2, 4, 3, 2), nan, dtype=np.float32), "tri", meta={"denoise_mode": ""})
    r = accumulated([empty])
    assert r["sequences"] == 1 and r["frames_total"] == 4 and r["persons_per_sequence"] == {"0": 1}
    assert r["coordinate_min"] is None and r["coordinate_max"] is None and r["coordinate_mean"] is None
    assert r["missing_joint_fraction"] == [0.0, 0.0, 0.0] and r["zero_joint_fraction"] == [0.0, 0.0, 0.0]
    assert r["denoising_modes"] == {} and r["denoising_decisions"] == {}


def test_the_coordinate_mean_is_summed_in_float64():
    # 2**24 + 1 is not a float32: a float32 sum of these two values would give a mean of 2**23
    j = np.zeros((1, 2, 3, 2), dtype=np.float32)
    j[0, 0] = 2.0**24
    j[0, 1] = 1.0
    r = accumulated([SkeletonSequence(j, "tri")])
    assert r["coordinate_mean"] == [(2.0**24 + 1) / 2] * 2
