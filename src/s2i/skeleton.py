"""SkeletonSequence: the one data type every reader returns and every encoder consumes.

A sequence holds joint coordinates of shape (M persons, T frames, V joints, C coords) as float32.
Missing joints are NaN (never silent zeros); :attr:`SkeletonSequence.valid` is the matching mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SkeletonBatch", "SkeletonSequence", "SkeletonValidationError", "collate_sequences"]


class SkeletonValidationError(ValueError):
    """A sequence's arrays do not have the shape, type or values the type promises."""


@dataclass
class SkeletonSequence:
    """One skeleton sequence with its format name and metadata.

    joints: (M, T, V, C) float32, C = 2 or 3, NaN where a joint is missing.
    confidence: optional (M, T, V) float32 per-joint scores (2D detectors, Kinect tracking state).
    fps: frame rate in Hz when known.
    format: name of the skeleton format (see :mod:`s2i.formats`) that gives the joint order.
    meta: label (int, 0-based), label_name, subject, view, setup, source (file path), and any
        reader-specific extras (e.g. denoising decisions).
    """

    joints: np.ndarray
    format: str
    confidence: np.ndarray | None = None
    fps: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.joints = np.asarray(self.joints)
        if self.joints.dtype != np.float32:
            if not np.issubdtype(self.joints.dtype, np.floating) and not np.issubdtype(
                self.joints.dtype, np.integer
            ):
                raise SkeletonValidationError(
                    f"{self._where()}: joints must be numeric, got dtype {self.joints.dtype}"
                )
            self.joints = self.joints.astype(np.float32)
        if self.confidence is not None:
            self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.validate()

    def _where(self) -> str:
        src = self.meta.get("source")
        return f"sequence from {src}" if src else "sequence"

    def validate(self) -> None:
        """Check shapes and values; raise :class:`SkeletonValidationError` saying what and where."""
        j = self.joints
        if j.ndim != 4:
            raise SkeletonValidationError(
                f"{self._where()}: joints must have 4 axes (M persons, T frames, V joints, C coords),"
                f" got shape {j.shape}"
            )
        m, t, v, c = j.shape
        if c not in (2, 3):
            raise SkeletonValidationError(
                f"{self._where()}: last axis must hold 2 or 3 coordinates, got C={c} (shape {j.shape})"
            )
        if m < 1 or t < 1 or v < 1:
            raise SkeletonValidationError(
                f"{self._where()}: needs at least one person, frame and joint, got shape {j.shape}"
            )
        inf = np.isinf(j)
        if inf.any():
            pm, pt, pv, _ = (int(i) for i in np.argwhere(inf)[0])
            raise SkeletonValidationError(
                f"{self._where()}: infinite coordinate at person {pm}, frame {pt}, joint {pv}"
                " (use NaN for missing joints)"
            )
        if self.confidence is not None and self.confidence.shape != (m, t, v):
            raise SkeletonValidationError(
                f"{self._where()}: confidence must have shape (M, T, V) = {(m, t, v)},"
                f" got {self.confidence.shape}"
            )
        if self.fps is not None and not (self.fps > 0):
            raise SkeletonValidationError(f"{self._where()}: fps must be positive, got {self.fps}")

    # --- derived views -------------------------------------------------------------------
    @property
    def num_persons(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[1])

    @property
    def num_joints(self) -> int:
        return int(self.joints.shape[2])

    @property
    def dims(self) -> int:
        return int(self.joints.shape[3])

    @property
    def valid(self) -> np.ndarray:
        """(M, T, V) bool mask: True where the joint was observed (no NaN coordinate)."""
        return ~np.isnan(self.joints).any(axis=-1)

    @property
    def label(self) -> int | None:
        return self.meta.get("label")

    def __repr__(self) -> str:
        m, t, v, c = self.joints.shape
        return (
            f"SkeletonSequence(format={self.format!r}, persons={m}, frames={t}, joints={v}, dims={c},"
            f" fps={self.fps}, label={self.label})"
        )


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
