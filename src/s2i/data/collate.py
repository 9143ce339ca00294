"""Pad a list of sequences of one format into the encoder's batch layout (N, M, T, V, C) + lengths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..skeleton import SkeletonSequence

__all__ = ["SkeletonBatch", "collate_sequences"]


@dataclass
class SkeletonBatch:
    """joints (N, M, T, V, C) NaN-padded, lengths (N,) valid frames, confidence (N, M, T, V) or None."""

    joints: np.ndarray
    lengths: np.ndarray
    confidence: np.ndarray | None
    format: str


def collate_sequences(seqs: Sequence[SkeletonSequence], max_persons: int | None = None) -> SkeletonBatch:
    """Stack sequences of one format, padding persons and frames with NaN (never zeros)."""
    if not seqs:
        raise ValueError("cannot collate an empty list of sequences")
    fmts = {s.format for s in seqs}
    if len(fmts) != 1:
        raise ValueError(f"sequences of one batch must share a format, got {sorted(fmts)}")
    shapes = {s.joints.shape[2:] for s in seqs}
    if len(shapes) != 1:
        raise ValueError(f"sequences of one batch must share (V, C), got {sorted(shapes)}")
    v, c = shapes.pop()
    m = max(s.num_persons for s in seqs)
    if max_persons is not None:
        m = min(m, max_persons)
    t = max(s.num_frames for s in seqs)
    joints = np.full((len(seqs), m, t, v, c), np.nan, dtype=np.float32)
    has_conf = any(s.confidence is not None for s in seqs)
    conf = np.zeros((len(seqs), m, t, v), dtype=np.float32) if has_conf else None
    for i, s in enumerate(seqs):
        k = min(s.num_persons, m)
        joints[i, :k, : s.num_frames] = s.joints[:k]
        if conf is not None:
            conf[i, :k, : s.num_frames] = s.confidence[:k] if s.confidence is not None else s.valid[:k]
    lengths = np.array([s.num_frames for s in seqs], dtype=np.int64)
    return SkeletonBatch(joints, lengths, conf, fmts.pop())
