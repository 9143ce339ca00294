"""evaluation/subsets.py pinned on values (issue 36, mutation round 2): the labelled subset's size per class and
its draw, the bounds of the fractions with their messages, the group hold-out's stopping rule, and the
metadata errors of group_values."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from s2i.evaluation.subsets import group_values, held_out_groups, per_class_subset, train_val_split

# classes 0 (10 samples), 1 (3) and 2 (1), interleaved
LABELS = np.array([0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0])


def test_per_class_subset_draws_a_rounded_share_of_each_class_in_class_order():
    got = per_class_subset(LABELS, 0.25, seed=5)
    rng = np.random.default_rng(5)  # one generator, the classes in sorted order, round(share), at least one
    expected = np.sort(np.concatenate([rng.choice(np.flatnonzero(np.equal(LABELS, c)), size=k, replace=False)
                                       for c, k in ((0, 2), (1, 1), (2, 1))]))
    assert got.tolist() == expected.tolist()
    assert [int((LABELS[got] == c).sum()) for c in (0, 1, 2)] == [2, 1, 1]  # round(2.5) = 2, round(0.75) = 1, 1
    assert [int((LABELS[per_class_subset(LABELS, 0.35, 1)] == c).sum()) for c in (0, 1, 2)] == [4, 1, 1]


def test_per_class_subset_of_everything_and_of_nothing():
    assert per_class_subset(LABELS, 1.0, seed=3).tolist() == list(range(len(LABELS)))  # each sample once
    empty = per_class_subset(np.array([], dtype=np.int64), 0.5, seed=0)
    assert empty.dtype == np.int64 and empty.shape == (0,)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.01])
def test_per_class_subset_refuses_fractions_outside_0_1(fraction):
    with pytest.raises(ValueError) as e:
        per_class_subset(LABELS, fraction, 0)
    assert str(e.value) == f"fraction must be in (0, 1], got {fraction}"


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_train_val_split_refuses_fractions_outside_0_1_open(fraction):
    with pytest.raises(ValueError) as e:
        train_val_split(LABELS, fraction, 0)
    assert str(e.value) == f"val_fraction must be in (0, 1), got {fraction}"


def test_stratified_carve_keeps_singleton_classes_in_training():
    tr, va = train_val_split(LABELS, 0.3, seed=2)
    assert va.tolist() == [int(i) for i in per_class_subset(LABELS, 0.3, 2) if i != 4]  # class 2's one sample
    assert tr.tolist() == sorted(set(range(len(LABELS))) - set(va.tolist()))
    assert va.dtype == np.int64 and tr.dtype.kind == "i"
    pair = np.array([0, 0, 1, 1, 1, 1])  # a class of two gives one of them to validation
    tr, va = train_val_split(pair, 0.5, 1)
    assert [int((pair[va] == c).sum()) for c in (0, 1)] == [1, 2] and len(tr) == 3
    lone = np.array([0, 1, 2])  # nothing to hold out: every class is a singleton
    tr, va = train_val_split(lone, 0.5, 0)
    assert tr.tolist() == [0, 1, 2] and va.tolist() == [] and va.dtype == np.int64


def test_group_carve_stops_at_the_first_group_reaching_the_fraction():
    """Four views of two samples each: 25 % of 8 samples is exactly one view, so one view is held out (with
    ``>`` instead of ``>=`` it would take two); the view is the first of the seeded permutation."""
    groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    labels = np.zeros(8, dtype=np.int64)
    for seed in range(4):
        tr, va = train_val_split(labels, 0.25, seed, groups)
        first = np.random.default_rng(seed).permutation(np.unique(groups))[0]
        assert va.tolist() == np.flatnonzero(groups == first).tolist()
        assert tr.tolist() == np.flatnonzero(groups != first).tolist()
        assert held_out_groups(groups, va) == [str(first)]
    tr, va = train_val_split(labels, 0.3, 0, groups)  # 2.4 samples: two views
    assert len(va) == 4 and len(held_out_groups(groups, va)) == 2
    tr, va = train_val_split(labels[:4], 0.99, 0, groups[:4])  # two views: one always stays for training
    assert len(va) == 2 and len(tr) == 2


def test_group_carve_errors_name_the_counts_and_the_groups():
    with pytest.raises(ValueError) as e:
        train_val_split(LABELS, 0.2, 0, np.array(["a", "b"]))
    assert str(e.value) == f"2 group values for {len(LABELS)} samples"
    with pytest.raises(ValueError) as e:
        train_val_split(LABELS[:3], 0.2, 0, np.array(["v1", "v1", "v1"]))
    assert str(e.value) == "a group hold-out needs at least two groups in the training set, found ['v1']"


def test_held_out_groups_are_sorted_text_and_none_without_groups():
    assert held_out_groups(None, np.array([0, 1])) == []
    assert held_out_groups(np.array([3, 12, 3, 7]), np.array([1, 0, 2])) == ["12", "3"]


def test_group_values_read_the_key_and_name_the_first_sequence_without_it():
    store = SimpleNamespace(path=Path("/data/store"), meta=[
        {"name": "s0", "view": 1}, {"name": "s1"}, {"name": "s2", "view": 3}, {"view": 2, "subject": 5}])
    assert group_values(store, np.array([2, 0, 3]), "view").tolist() == ["3", "1", "2"]
    with pytest.raises(ValueError) as e:
        group_values(store, np.array([0, 3, 1]), "subject")
    assert str(e.value) == ("/data/store/meta.jsonl:1: sequence 's0' has no 'subject' (val_group needs it on every "
                            "training sequence; 2 lack it; fields there: ['name', 'view'])")
    with pytest.raises(ValueError, match=r"meta.jsonl:2: sequence 's1' has no 'view'.* 1 lack it"):
        group_values(store, np.array([3, 1]), "view")
    unnamed = SimpleNamespace(path=Path("/s"), meta=[{"view": 1}])
    with pytest.raises(ValueError, match=r"^/s/meta.jsonl:1: sequence 0 has no 'subject'"):
        group_values(unnamed, np.array([0]), "subject")
