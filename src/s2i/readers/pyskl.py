"""PYSKL / MMAction2 skeleton annotation pickles, read with a restricted unpickler, and written back.

Layout (pyskl tools/data/README.md): ``{'split': {name: [frame_dir, ...]}, 'annotations': [{'frame_dir',
'label', 'keypoint' (M, T, V, C), optional 'keypoint_score' (M, T, V), 'total_frames', 'img_shape',
...}, ...]}``; older MMAction2 files are the bare annotation list. Unpickling runs no code from the
file: only plain containers and numeric/string NumPy arrays can be rebuilt, and array and dtype states
are checked before NumPy sees them (a forged dtype state can make NumPy read memory as pointers).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..formats import FormatSpecError, get_format
from ..skeleton import SkeletonSequence, SkeletonValidationError
from .base import ReaderError
from .safe_pickle import safe_load_pickle

__all__ = ["safe_load_pickle", "read_pyskl", "write_pyskl", "infer_pyskl_format"]


# --- PYSKL annotations --------------------------------------------------------------------------

def infer_pyskl_format(v: int, c: int, has_score: bool) -> str | None:
    """Format from the keypoint shape: (25, 3) ntu25; (17, 2) coco17; (17, 3) + scores coco17 (the
    third channel is then taken as a score); None when ambiguous (pass ``format``)."""
    if (v, c) == (25, 3):
        return "ntu25"
    if (v, c) == (17, 2) or ((v, c) == (17, 3) and has_score):
        return "coco17"
    return None


def _scalar_meta(value: Any) -> Any:
    """A plain-Python copy of simple annotation fields (scalars, short tuples of scalars), else None."""
    if isinstance(value, (np.generic,)) and value.dtype.kind in "biufUS":
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (tuple, list)) and len(value) <= 8:
        items = [_scalar_meta(v) for v in value]
        if all(isinstance(v, (str, bool, int, float)) for v in items):
            return tuple(items)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size <= 8 and value.dtype.kind in "biuf":
        return tuple(value.tolist())
    return None


def _keypoints(p: Path, where: str, ann: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The annotation's (M, T, V, C) keypoints and optional (M, T, V) scores, checked."""
    if "keypoint" not in ann:
        extra = " (PYSKL Kinetics kpfiles are not supported)" if "raw_file" in ann else ""
        raise ReaderError(p, f"{where}: no 'keypoint' array{extra}")
    kp = ann["keypoint"]
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in "iuf" or kp.ndim != 4:
        shape = getattr(kp, "shape", None)
        raise ReaderError(p, f"{where}: 'keypoint' must be a numeric array (M, T, V, C),"
                          f" got {type(kp).__name__} {shape}")
    m, t, v, _ = kp.shape
    score = ann.get("keypoint_score")
    if score is not None and (
            not isinstance(score, np.ndarray) or score.dtype.kind not in "iuf" or score.shape != (m, t, v)):
        raise ReaderError(p, f"{where}: 'keypoint_score' must be a numeric array of shape {(m, t, v)},"
                          f" got {getattr(score, 'shape', type(score).__name__)}")
    return kp, score


def _coordinates(p: Path, where: str, kp: np.ndarray, score: np.ndarray | None,
                 fmt: str | None) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """(format spec, float32 coordinates, float32 confidence or None) of the keypoints."""
    _, _, v, c = kp.shape
    name_fmt = fmt or infer_pyskl_format(v, c, score is not None)
    if name_fmt is None:
        raise ReaderError(p, f"{where}: cannot tell the skeleton format of keypoints with V={v}, C={c};"
                          " pass --format (format= in Python)")
    try:
        spec = get_format(name_fmt)
    except FormatSpecError as e:
        raise ReaderError(p, str(e)) from None
    if v != spec.num_joints:
        raise ReaderError(p, f"{where}: format {spec.name} has {spec.num_joints} joints, keypoints have V={v}")
    if c == spec.dims:
        sel = kp
    elif spec.dims == 2 and c == 3:  # (x, y, score) packed
        sel = kp[..., :2]
        if score is None:
            score = kp[..., 2]
    else:
        raise ReaderError(p, f"{where}: format {spec.name} is {spec.dims}D, keypoints have C={c}")
    with np.errstate(over="ignore", invalid="ignore"):
        xyz = sel.astype(np.float32)
        conf = None if score is None else np.nan_to_num(np.asarray(score, dtype=np.float32), nan=0.0,
                                                         posinf=0.0, neginf=0.0)
    if np.isinf(xyz).any():
        raise ReaderError(p, f"{where}: infinite keypoint coordinate (or beyond float32 range)")
    return spec, xyz, conf


def _annotation_meta(p: Path, where: str, i: int, name: Any, ann: dict) -> dict[str, Any]:
    """Source, index, name, an integer label and the simple scalar fields of the annotation."""
    meta: dict[str, Any] = {"source": str(p), "index": i}
    for k, val in ann.items():
        if k in ("keypoint", "keypoint_score"):
            continue
        sv = _scalar_meta(val)
        if sv is not None:
            meta[k] = sv
    meta.pop("frame_dir", None)
    meta["name"] = str(name)
    if "label" in ann:
        lab = ann["label"]
        if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
            meta["label"] = int(lab)
        else:
            raise ReaderError(p, f"{where}: 'label' must be an integer, got {lab!r:.40}")
    return meta


def _annotation(p: Path, i: int, ann: Any, fmt: str | None) -> SkeletonSequence:
    if not isinstance(ann, dict):
        raise ReaderError(p, f"annotation {i}: expected a dict, got {type(ann).__name__}")
    name = ann.get("frame_dir", f"#{i}")
    where = f"annotation {i} ({str(name)[:60]})"
    kp, score = _keypoints(p, where, ann)
    spec, xyz, conf = _coordinates(p, where, kp, score, fmt)
    meta = _annotation_meta(p, where, i, name, ann)
    m, t, v, _ = kp.shape
    if m == 0 or t == 0:
        meta["all_missing"] = True
        return SkeletonSequence(np.full((1, 1, v, spec.dims), np.nan, np.float32), format=spec.name,
                                confidence=None if conf is None else np.zeros((1, 1, v), np.float32), meta=meta)
    zero = (xyz == 0).all(axis=-1)
    xyz[zero] = np.nan
    keep = np.asarray(~np.isnan(xyz).all(axis=(1, 2, 3)))
    if not keep.any():
        meta["all_missing"] = True
        keep[0] = True
    elif not keep.all():
        meta["persons_dropped"] = int((~keep).sum())
    if conf is not None:
        conf = conf[keep]
    try:
        return SkeletonSequence(xyz[keep], format=spec.name, confidence=conf, meta=meta)
    except SkeletonValidationError as e:
        raise ReaderError(p, f"{where}: {e}") from None


def read_pyskl(path: str | Path, format: str | None = None) -> tuple[list[SkeletonSequence], dict[str, list[str]]]:
    """Read a PYSKL annotation pickle -> (sequences, split). Zero keypoints become NaN and persons
    that are zero throughout are dropped; meta holds frame_dir as ``name``, ``label`` and the simple
    scalar fields (total_frames, img_shape, ...). ``format`` overrides the V/C-based inference."""
    p = Path(path)
    obj = safe_load_pickle(p)
    if isinstance(obj, list):
        anns, split = obj, {}
    elif isinstance(obj, dict) and "annotations" in obj:
        anns, split = obj["annotations"], obj.get("split", {})
    else:
        raise ReaderError(p, "expected a PYSKL dict {'split', 'annotations'} or a list of annotations,"
                          f" got {type(obj).__name__}")
    if not isinstance(anns, list):
        raise ReaderError(p, f"'annotations' must be a list, got {type(anns).__name__}")
    if not isinstance(split, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v)
            for k, v in split.items()):
        raise ReaderError(p, "'split' must map split names to lists of frame_dir strings")
    seqs = [_annotation(p, i, ann, format) for i, ann in enumerate(anns)]
    return seqs, {k: list(v) for k, v in split.items()}


_SHAPE_KEYS = ("img_shape", "original_shape")


def write_pyskl(path: str | Path, sequences: list[SkeletonSequence], split: dict[str, list[str]]) -> None:
    """Write sequences as a PYSKL annotation pickle (protocol 4), atomically. frame_dir is
    meta["name"] (else the source file's stem) and must be unique; NaN joints are written as 0;
    ``label`` is written when meta has one, ``keypoint_score`` when the sequence has confidence."""
    anns: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, seq in enumerate(sequences):
        name = seq.meta.get("name")
        if name is None and seq.meta.get("source"):
            name = Path(str(seq.meta["source"])).stem
        if name is None:
            raise ValueError(f"sequence {i}: needs meta['name'] or meta['source'] to make a frame_dir")
        name = str(name)
        if name in seen:
            raise ValueError(f"sequences {seen[name]} and {i} share the frame_dir {name!r}; set distinct meta['name']")
        seen[name] = i
        ann: dict[str, Any] = {
            "frame_dir": name,
            "total_frames": seq.num_frames,
            "keypoint": np.nan_to_num(seq.joints, nan=0.0).astype(np.float32),
        }
        if seq.confidence is not None:
            ann["keypoint_score"] = np.nan_to_num(seq.confidence, nan=0.0).astype(np.float32)
        label = seq.meta.get("label")
        if label is not None:
            ann["label"] = int(label)
        for k in _SHAPE_KEYS:
            shp = seq.meta.get(k)
            if isinstance(shp, (tuple, list)) and len(shp) == 2:
                ann[k] = (int(shp[0]), int(shp[1]))
        anns.append(ann)
    if not isinstance(split, dict):
        raise ValueError("split must be a dict {name: [frame_dir, ...]}")
    out_split: dict[str, list[str]] = {}
    for k, names in split.items():
        out_split[str(k)] = [str(n) for n in names]
        unknown = [n for n in out_split[k] if n not in seen]
        if unknown:
            raise ValueError(f"split {k!r} names {len(unknown)} frame_dir(s) not among the sequences,"
                             f" e.g. {unknown[0]!r}")
    with atomic_path(path, suffix=".pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump({"split": out_split, "annotations": anns}, f, protocol=4)

