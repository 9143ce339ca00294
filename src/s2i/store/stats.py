"""Data-set statistics, streamed while a store is written (value ranges live in :mod:`s2i.encode.value_range`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..skeleton import SkeletonSequence

__all__ = ["StatsAccumulator"]


class StatsAccumulator:
    """Exact running statistics over appended sequences in O(V) memory (never the data itself)."""

    def __init__(self, num_joints: int, dims: int) -> None:
        self.n = 0
        self.frames_total = 0
        self.lo = np.full(dims, np.inf)
        self.hi = np.full(dims, -np.inf)
        self.sum = np.zeros(dims)
        self.count = 0
        self.missing_per_joint = np.zeros(num_joints, dtype=np.int64)
        self.zero_per_joint = np.zeros(num_joints, dtype=np.int64)
        self.joint_slots = 0
        self.persons: Counter[int] = Counter()
        self.empty_person_slots = 0
        self.decisions: Counter[str] = Counter()          # decisions of each kind
        self.decision_sequences: Counter[str] = Counter()  # sequences with at least one decision of a kind
        self.denoise_modes: Counter[str] = Counter()

    def update(self, seq: SkeletonSequence) -> None:
        j = seq.joints
        m, t, v, _ = j.shape
        self.n += 1
        self.frames_total += t
        nan = np.isnan(j).any(-1)
        present = ~nan.all(axis=(1, 2))
        self.persons[int(present.sum())] += 1
        self.empty_person_slots += int((~present).sum())
        self.missing_per_joint += nan[present].sum(axis=(0, 1)) if present.any() else 0
        self.zero_per_joint += (j[present] == 0).all(-1).sum(axis=(0, 1)) if present.any() else 0
        self.joint_slots += int(present.sum()) * t
        valid = j[~nan]
        if valid.size:
            self.lo = np.minimum(self.lo, valid.min(0))
            self.hi = np.maximum(self.hi, valid.max(0))
            self.sum += valid.sum(0, dtype=np.float64)
            self.count += valid.shape[0]
        kinds = [str(d).split(maxsplit=1)[0].rstrip(":") for d in seq.meta.get("denoise", []) or [] if str(d).strip()]
        self.decisions.update(kinds)  # the decision kind: drop-short, drop-object, merge, ...
        self.decision_sequences.update(set(kinds))
        if seq.meta.get("denoise_mode"):
            self.denoise_modes[str(seq.meta["denoise_mode"])] += 1

    def result(self, lengths: np.ndarray) -> dict[str, Any]:
        q = np.percentile(lengths, [0, 5, 25, 50, 75, 95, 100]).tolist() if len(lengths) else []
        slots = max(self.joint_slots, 1)
        return {
            "sequences": self.n,
            "frames_total": self.frames_total,
            "length": dict(zip(["min", "p5", "p25", "median", "p75", "p95", "max"], q)) | (
                {"mean": float(np.mean(lengths))} if len(lengths) else {}),
            "length_histogram": _histogram(lengths),
            "persons_per_sequence": {str(k): v for k, v in sorted(self.persons.items())},
            "coordinate_min": self.lo.tolist() if self.count else None,
            "coordinate_max": self.hi.tolist() if self.count else None,
            "coordinate_mean": (self.sum / max(self.count, 1)).tolist() if self.count else None,
            "missing_joint_fraction": (self.missing_per_joint / slots).round(6).tolist(),
            "zero_joint_fraction": (self.zero_per_joint / slots).round(6).tolist(),
            "denoising_decisions": dict(self.decisions),
            "denoising_sequences": dict(sorted(self.decision_sequences.items())),
            "denoising_modes": dict(self.denoise_modes),
        }


def _histogram(lengths: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    if not len(lengths):
        return {"edges": [], "counts": []}
    counts, edges = np.histogram(lengths, bins=bins)
    return {"edges": edges.round(1).tolist(), "counts": counts.tolist()}
