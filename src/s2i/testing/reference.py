"""A deliberately naive S2I encoder: plain Python loops over sequences, frames and rows.

It is written independently of :mod:`s2i.encode.encoder` straight from S2I.md, to serve as the test
oracle for the fast encoder and as the "naive per-sequence, per-frame" baseline of
``benchmarks/encode.py``. Never use it for real work: it is hundreds of times slower.
It covers layout parts/raw, linear/nearest resampling, all streams, persons stack/first/mean and the
three value ranges; random temporal crops and arclength rows are tested by properties instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..encode.config import S2IConfig
from ..encode.persons import batch_has_two_person, resolve_persons
from ..formats import FormatSpec, get_format

__all__ = ["encode_reference"]


def _bands(rows: int, parts: int) -> list[int]:
    sizes = []
    for i in range(parts):
        sizes.append(rows // parts + (1 if i < rows % parts else 0))
    return sizes


def _row_sources(spec: FormatSpec, cfg: S2IConfig) -> list[tuple[int, int, int, float]]:
    """For each image row: (person block, joint a, joint b, weight of b)."""
    persons = cfg.max_persons if cfg.persons == "stack" else 1
    if cfg.layout == "parts":
        chains = [[spec.joints.index(j) for j in spec.parts[p]]
                  for p in ("torso", "left_arm", "right_arm", "left_leg", "right_leg")]
    elif cfg.layout == "raw":
        chains = [list(range(spec.num_joints))]
    else:
        raise NotImplementedError("the reference covers layout parts and raw")
    out = []
    for p, block in enumerate(_bands(cfg.height, persons)):
        for chain, rows in zip(chains, _bands(block, len(chains))):
            for r in range(rows):
                pos = 0.0 if rows == 1 else r * (len(chain) - 1) / (rows - 1)
                if cfg.part_resample == "nearest":
                    pos = math.floor(pos + 0.5)
                a = min(int(math.floor(pos)), len(chain) - 1)
                b = min(a + 1, len(chain) - 1)
                out.append((p, chain[a], chain[b], 0.0 if a == b else pos - a))
    return out


def _first_seen_frame(point: Callable[[int, tuple[str, ...]], np.ndarray], spec: FormatSpec, t: int) -> int:
    """The first frame whose centre joints are all present (0 when none is)."""
    for f in range(t):
        if not np.isnan(point(f, spec.center)).any():
            return f
    return 0


def _rotate_each_joint(x: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """``rot @`` every joint of every person and frame, one at a time."""
    m, t, v, _ = x.shape
    for pm in range(m):
        for f in range(t):
            for j in range(v):
                x[pm, f, j] = rot @ x[pm, f, j]
    return x


def _mean_shoulder_height(point: Callable[[int, tuple[str, ...]], np.ndarray], spec: FormatSpec, t: int
                          ) -> float | None:
    """Mean centre-to-shoulders length over the frames where it is defined (None when never)."""
    assert spec.shoulders is not None
    lengths = [d for f in range(t)
               if not np.isnan(d := np.linalg.norm(point(f, spec.shoulders) - point(f, spec.center)))]
    return float(np.mean(lengths)) if lengths else None


def _normalise(seq: np.ndarray, spec: FormatSpec, cfg: S2IConfig) -> np.ndarray:
    """One sequence (M, T, V, C) float64 -> centred / aligned / scaled copy."""
    x = seq.copy()
    t, c = x.shape[1], x.shape[3]
    def point(frame: int, names: tuple[str, ...]) -> np.ndarray:
        return np.mean([seq[0, frame, spec.joints.index(j)] for j in names], axis=0)
    f0 = _first_seen_frame(point, spec, t)
    origin = point(f0, spec.center)
    if np.isnan(origin).any():
        origin = np.zeros(c)
    if cfg.center:
        x = x - origin
    rotate = (c == 3) if cfg.rotate is None else (cfg.rotate and c == 3)
    if rotate and (spec.hips or spec.shoulders):
        rot = _alignment(spec, point, f0)
        if rot is not None:
            x = _rotate_each_joint(x, rot)
    elif spec.y_down:
        x[..., 1] = -x[..., 1]
    if cfg.scale and spec.shoulders:
        height = _mean_shoulder_height(point, spec, t)
        if height is not None and height > 1e-6:
            x = x / height
    return x


def _alignment(spec: FormatSpec, point: Callable[[int, tuple[str, ...]], np.ndarray], f0: int) -> np.ndarray | None:
    """Rows = new axes: hips (or shoulders) left -> right as x, the spine orthogonalised as y."""
    pair = spec.hips or spec.shoulders
    top_pair = spec.shoulders or spec.hips
    assert pair is not None and top_pair is not None
    xa = point(f0, (pair[1],)) - point(f0, (pair[0],))
    ya = point(f0, top_pair) - point(f0, spec.center)
    if np.isnan(xa).any() or np.isnan(ya).any() or np.linalg.norm(ya) <= 1e-6:
        return None
    xa = xa / np.linalg.norm(xa)
    ya = ya - np.dot(ya, xa) * xa
    ya = ya / np.linalg.norm(ya)
    rot = np.stack([xa, ya, np.cross(xa, ya)])
    return rot if np.isfinite(rot).all() else None


def _fill(x: np.ndarray) -> np.ndarray:
    m, t, v, _ = x.shape
    out = x.copy()
    for pm in range(m):
        for j in range(v):
            seen = [f for f in range(t) if not np.isnan(x[pm, f, j]).any()]
            for f in range(t):
                if np.isnan(x[pm, f, j]).any():
                    before = [s for s in seen if s < f]
                    after = [s for s in seen if s > f]
                    if before:
                        out[pm, f, j] = x[pm, before[-1], j]
                    elif after:
                        out[pm, f, j] = x[pm, after[0], j]
                    else:
                        out[pm, f, j] = 0.0
    return out


def _stream(x: np.ndarray, stream: str, parents: list[int], length: int) -> np.ndarray:
    """Bones (joint - parent) and/or motion (next frame - this frame, zero after the last)."""
    v = x.shape[2]
    if stream in ("bone", "bone_motion"):
        x = np.stack([x[:, :, j] - x[:, :, parents[j]] for j in range(v)], axis=2)
    if stream in ("motion", "bone_motion"):
        mot = np.zeros_like(x)
        for f in range(length - 1):
            mot[:, f] = x[:, f + 1] - x[:, f]
        x = mot
    return x


def _limits(x: np.ndarray, cfg: S2IConfig, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel values mapped to 0 and 1."""
    if cfg.value_range == "sequence":
        return x[:, :length].reshape(-1, 3).min(axis=0), x[:, :length].reshape(-1, 3).max(axis=0)
    if cfg.value_range == "fixed":
        return np.array(cfg.range_lo or (-1.0,) * 3), np.array(cfg.range_hi or (1.0,) * 3)
    return np.array(cfg.range_lo), np.array(cfg.range_hi)


def _person_slots(x: np.ndarray, persons: int) -> np.ndarray:
    """Cut or NaN-pad the person axis to ``persons`` slots."""
    m, t, v, c = x.shape
    pad = np.full((max(persons - m, 0), t, v, c), np.nan)
    return np.concatenate([x, pad])[:persons]


def _confidence(joints: np.ndarray, confidence: np.ndarray | None, cfg: S2IConfig, persons: int) -> np.ndarray:
    """(M', T, V) third channel of 2D data: the given scores (NaN as 0) or 1 where a joint is present."""
    m, t, v, _ = joints.shape
    if confidence is None:
        conf = (~np.isnan(joints).any(-1)).astype(np.float64)
    else:
        conf = np.nan_to_num(confidence.astype(np.float64))
    if cfg.persons != "mean":
        conf = np.concatenate([conf, np.zeros((max(persons - m, 0), t, v))])[:persons]
    return conf


def _to_unit(x: np.ndarray, cfg: S2IConfig, length: int, c: int) -> np.ndarray:
    """Map each channel's limits to 0 and 1 and clip (a confidence channel keeps 0..1)."""
    lo, hi = _limits(x, cfg, length)
    if c == 2:
        lo[2], hi[2] = 0.0, 1.0
    return np.clip((x - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0)


def _draw(image: np.ndarray, x: np.ndarray, rows: list[tuple[int, int, int, float]], cfg: S2IConfig,
          length: int) -> None:
    """Fill ``image`` (3, H, W): one output frame per column, one row source per row."""
    for col in range(cfg.width):
        pos = 0.0 if cfg.width == 1 else col * (length - 1) / (cfg.width - 1)
        if cfg.time_resample == "nearest":
            pos = math.floor(pos + 0.5)
        f0 = min(int(math.floor(pos)), length - 1)
        f1 = min(f0 + 1, length - 1)
        wf = 0.0 if f0 == f1 else pos - f0
        frame = (1 - wf) * x[:, f0] + wf * x[:, f1]
        for row, (p, a, b, wr) in enumerate(rows):
            image[:, row, col] = (1 - wr) * frame[p, a] + wr * frame[p, b]


def _encode_one(joints: np.ndarray, confidence: np.ndarray | None, length: int, spec: FormatSpec,
                cfg: S2IConfig, rows: list[tuple[int, int, int, float]], image: np.ndarray) -> None:
    """One sequence (M, T, V, C) -> ``image`` (3, H, W): normalise, slots, fill, stream, confidence, persons
    mean, value range, then the pixels."""
    c = joints.shape[-1]
    parents = [spec.joints.index(p) if p is not None else i for i, p in enumerate(spec.parents)]
    x = _normalise(joints.astype(np.float64), spec, cfg)
    persons = cfg.max_persons if cfg.persons == "stack" else 1
    if cfg.persons != "mean":
        x = _person_slots(x, persons)
    present = [not np.isnan(x[pm]).all() for pm in range(x.shape[0])]
    x = _stream(_fill(x), cfg.stream, parents, length)
    if c == 2:
        x = np.concatenate([x, _confidence(joints, confidence, cfg, persons)[..., None]], axis=-1)
    if cfg.persons == "mean":
        kept = [x[pm] for pm in range(x.shape[0]) if present[pm]] or [np.zeros_like(x[0])]
        x = np.mean(kept, axis=0, keepdims=True)
    _draw(image, _to_unit(x, cfg, length, c), rows, cfg, length)


def encode_reference(joints: np.ndarray, fmt: str | FormatSpec, config: S2IConfig | None = None,
                     lengths: np.ndarray | None = None, confidence: np.ndarray | None = None
                     ) -> np.ndarray:
    """(N, M, T, V, C) -> (N, 3, H, W), one sequence, one column, one row at a time."""
    spec = get_format(fmt)
    cfg = resolve_persons(config, batch_has_two_person(joints))
    if cfg.temporal_crop is not None or cfg.part_resample == "arclength":
        raise NotImplementedError("the reference does not cover random crops or arclength rows")
    n, t = joints.shape[0], joints.shape[2]
    rows = _row_sources(spec, cfg)
    images = np.zeros((n, 3, cfg.height, cfg.width), dtype=np.float64)
    for i in range(n):
        length = t if lengths is None else int(lengths[i])
        _encode_one(joints[i], None if confidence is None else confidence[i], length, spec, cfg, rows, images[i])
    return images.astype(np.float32)
