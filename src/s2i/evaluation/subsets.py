"""Labelled subsets for the semi-supervised protocol and validation splits carved from training data.

Both are pure functions of (labels, fraction, seed): every process of a distributed run computes the
same subset (a known flaw of a widely used implementation draws a different subset per rank).
"""

from __future__ import annotations

import numpy as np

__all__ = ["per_class_subset", "train_val_split"]


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


def train_val_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, validation positions): a stratified hold-out of the training data for model
    selection, so the test set is never used to pick an epoch or a hyper-parameter."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    val = per_class_subset(labels, val_fraction, seed)
    val = np.array([i for i in val if (labels == labels[i]).sum() > 1], dtype=np.int64)  # keep singletons in train
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val
