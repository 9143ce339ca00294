"""NW-UCLA Multiview Action3D JSON files (the CTR-GCN ``all_sqe`` release; Kinect v1, 20 joints).

Each file is ``{"file_name", "label" (1..10), "skeletons": T x 20 x [x, y, z]}``, named
``aAA_sSS_eEE_vVV.json`` (original action id, subject, repetition, view).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_json, register_reader

__all__ = ["read_nw_ucla", "UCLA_ACTIONS", "UCLA_NAME"]

UCLA_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")
#: label 0..9 -> action name (dataset paper; file action ids 01-06, 08, 09, 11, 12)
UCLA_ACTIONS = ("pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
                "stand up", "donning", "doffing", "throw", "carry")


def _is_ucla(path: Path) -> bool:
    return path.suffix == ".json" and bool(UCLA_NAME.fullmatch(path.stem))


def _frames(path: Path, data: object) -> np.ndarray:
    """The ``skeletons`` list as (T, 20, 3) float32, every frame checked."""
    if not isinstance(data, dict) or "skeletons" not in data:
        raise ReaderError(path, "expected a JSON object with a 'skeletons' key (NW-UCLA all_sqe format)")
    frames = data["skeletons"]
    if not isinstance(frames, list) or not frames:
        raise ReaderError(path, "'skeletons' must be a non-empty list of frames")
    for f, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != 20 or any(
                not isinstance(j, list) or len(j) != 3 for j in frame):
            raise ReaderError(path, f"frame {f}: expected 20 joints of [x, y, z]")
    try:
        joints = np.asarray(frames, dtype=np.float32)
    except (TypeError, ValueError):
        raise ReaderError(path, "joint coordinates must be numbers") from None
    if not np.isfinite(joints).all():
        f = int(np.argwhere(~np.isfinite(joints))[0][0])
        raise ReaderError(path, f"frame {f}: non-finite coordinate")
    return joints


def _meta(path: Path, data: dict) -> dict:
    """Source, the ids in the file name (action, subject, repetition, view) and the 0-based label."""
    meta: dict = {"source": str(path)}
    m = UCLA_NAME.fullmatch(Path(path).stem)
    if m:
        action, subject, repetition, view = (int(g) for g in m.groups())
        meta.update(action=action, subject=subject, repetition=repetition, view=view)
    label = data.get("label")
    if label is not None:
        if not isinstance(label, int) or isinstance(label, bool) or not 1 <= label <= 10:
            raise ReaderError(path, f"'label' must be an integer 1..10, got {label!r}")
        meta["label"] = label - 1
        meta["label_name"] = UCLA_ACTIONS[label - 1]
    return meta


@register_reader("nw-ucla", _is_ucla)
def read_nw_ucla(path: Path) -> SkeletonSequence:
    """Read one NW-UCLA JSON file -> (1, T, 20, 3) in the kinect_v1 format, label 0..9."""
    data = read_json(Path(path), 64 * 2**20, "NW-UCLA JSON file")
    joints = _frames(path, data)
    return SkeletonSequence(joints[None], format="kinect_v1", fps=30.0, meta=_meta(path, data))
