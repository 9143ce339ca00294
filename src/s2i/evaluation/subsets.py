"""Labelled subsets for the semi-supervised protocol and validation splits carved from training data.

All are pure functions of (labels or groups, fraction, seed): every process of a distributed run computes
the same subset (a known flaw of a widely used implementation draws a different subset per rank).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..store import SkeletonStore

__all__ = ["group_values", "held_out_groups", "per_class_subset", "train_val_split"]


def per_class_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Positions (sorted) of ``fraction`` of each class's samples, at least one per class."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(members))))
        picked.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def train_val_split(labels: np.ndarray, val_fraction: float, seed: int,
                    groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, validation positions): a hold-out of the training data for model selection, so
    the test set is never used to pick an epoch or a hyper-parameter.

    Without ``groups`` the hold-out is stratified by class. With ``groups`` (one value per sample: a view, a
    subject) it is whole groups, drawn in a seeded order until at least ``val_fraction`` of the samples are
    held out: the validation samples come from views or subjects the training part never sees, as in a
    cross-view or cross-subject test, which a random carve of the same views cannot imitate."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    if groups is not None:
        return _group_split(np.asarray(groups), len(labels), val_fraction, seed)
    val = per_class_subset(labels, val_fraction, seed)
    val = np.array([i for i in val if (labels == labels[i]).sum() > 1], dtype=np.int64)  # keep singletons in train
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def _group_split(groups: np.ndarray, n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group values for {n} samples")
    values = np.unique(groups)
    if len(values) < 2:
        raise ValueError(f"a group hold-out needs at least two groups in the training set, found {values.tolist()}")
    order = np.random.default_rng(seed).permutation(values)
    for k in range(1, len(order)):  # at least one group stays for training
        mask = np.isin(groups, order[:k])
        if mask.sum() >= val_fraction * n:
            break
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def group_values(store: SkeletonStore, ids: np.ndarray, key: str) -> np.ndarray:
    """The metadata value ``key`` (e.g. ``view``, ``subject``) of each sequence ``ids`` of ``store``."""
    meta = store.meta
    missing = [int(i) for i in ids if key not in meta[int(i)]]
    if missing:
        i = missing[0]
        raise ValueError(f"{store.path / 'meta.jsonl'}:{i + 1}: sequence {meta[i].get('name', i)!r} has no {key!r} "
                         f"(val_group needs it on every training sequence; {len(missing)} lack it; "
                         f"fields there: {sorted(meta[i])})")
    return np.array([str(meta[int(i)][key]) for i in ids])


def held_out_groups(groups: np.ndarray | None, val: np.ndarray) -> list[str]:
    """The group values (sorted, as text) of validation positions ``val``; none without groups."""
    return [] if groups is None else sorted({str(v) for v in np.asarray(groups)[val]})
