"""Kinetics-skeleton JSON files (ST-GCN release: OpenPose COCO-18 2D keypoints on Kinetics-400).

A file ``<youtube_id>.json`` is ``{"data": [{"frame_index" (1-based), "skeleton": [{"pose": [x0, y0,
..., x17, y17], "score": [s0..s17]}, ...]}, ...], "label", "label_index"}`` with x, y normalised to
[0, 1] by the image size and (0, 0) meaning "not detected" (NaN here, confidence 0). People are not
tracked across frames in this format, so each frame's people are ranked by mean score into slots, as
ST-GCN's feeder does (it ranks by the score sum, the same order for 18 scores per person); entries
sharing a frame_index are pooled, and frames without an entry stay all-NaN.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_json, register_reader

__all__ = ["read_kinetics", "load_kinetics_labels", "YOUTUBE_ID"]

YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
NUM_JOINTS = 18
FPS = 30.0  # ST-GCN converted every clip to 30 fps before running OpenPose
MAX_FRAMES = 100_000        # a Kinetics clip has <= 300; refuse absurd frame indices before allocating
MAX_PERSON_FRAMES = 500_000  # slots x frames cap (~100 MB of float32 joints + confidence)
MAX_BYTES = 1 << 30
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_kinetics(path: Path) -> bool:
    return path.suffix == ".json" and bool(YOUTUBE_ID.fullmatch(path.stem))


def _is_int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _numbers(p: Path, values: Any, n: int, what: str, where: str) -> np.ndarray:
    """A length-``n`` list of numbers as float64, else a ReaderError naming ``where``."""
    if not isinstance(values, list) or len(values) != n:
        got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
        raise ReaderError(p, f"{where}: '{what}' must be a list of {n} numbers, got {got}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ReaderError(p, f"{where}: '{what}' must hold numbers only")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        raise ReaderError(p, f"{where}: '{what}' holds an integer too large for a coordinate") from None
    return arr


def _stack(values: list[Any], n: int) -> np.ndarray | None:
    """(len(values), n) float64 when every entry is a list of n plain numbers, else None."""
    if not values:
        return np.zeros((0, n))
    try:
        arr = np.array(values)
    except (TypeError, ValueError):  # ragged lists
        return None
    if arr.dtype.kind not in "fi" or arr.ndim != 2 or arr.shape[1] != n:
        return None
    return arr.astype(np.float64)


def _people(p: Path, frames: list[Any]) -> tuple[list[int], list[Any], list[Any], int]:
    """Per detected person: its 0-based frame, pose and score lists; and the last frame_index."""
    frame_of: list[int] = []
    poses: list[Any] = []
    scores: list[Any] = []
    last = 0
    for k, fr in enumerate(frames):
        if not isinstance(fr, dict):
            raise ReaderError(p, f"data[{k}]: a frame must be an object with 'frame_index' and 'skeleton'")
        fi, people = fr.get("frame_index"), fr.get("skeleton", [])
        if not _is_int(fi) or not 1 <= fi <= MAX_FRAMES:
            raise ReaderError(p, f"data[{k}]: 'frame_index' must be an integer 1..{MAX_FRAMES}, got {fi!r}")
        if not isinstance(people, list):
            raise ReaderError(p, f"data[{k}] (frame_index {fi}): 'skeleton' must be a list of people")
        last = max(last, fi)
        for j, person in enumerate(people):
            if not isinstance(person, dict):
                raise ReaderError(p, f"data[{k}].skeleton[{j}]: a person must be an object with 'pose', 'score'")
            frame_of.append(fi - 1)
            poses.append(person.get("pose"))
            scores.append(person.get("score"))
    return frame_of, poses, scores, last


def _check_people(p: Path, frame_of: list[int], poses: list[Any], scores: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Validate and stack all people at once (fast path); name the first bad one on failure."""
    pose_arr, score_arr = _stack(poses, 2 * NUM_JOINTS), _stack(scores, NUM_JOINTS)
    if pose_arr is None or score_arr is None:
        for i, (ps, sc) in enumerate(zip(poses, scores)):
            where = f"person {i} (frame_index {frame_of[i] + 1})"
            _numbers(p, ps, 2 * NUM_JOINTS, "pose", where)
            _numbers(p, sc, NUM_JOINTS, "score", where)
        raise ReaderError(p, "'pose' and 'score' must be lists of numbers")  # not reached in practice
    for what, arr in (("pose", pose_arr), ("score", score_arr)):
        bad = ~np.isfinite(arr) | (np.abs(arr) > FLOAT32_MAX)
        if bad.any():
            i, k = (int(v) for v in np.argwhere(bad)[0])
            raise ReaderError(p, f"person {i} (frame_index {frame_of[i] + 1}): non-finite value (NaN, inf or"
                              f" beyond float32) in '{what}' at position {k}")
    neg = (score_arr < 0).any(1)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ReaderError(p, f"person {i} (frame_index {frame_of[i] + 1}): negative 'score'")
    return pose_arr, score_arr


def _slots(p: Path, frame_of: list[int], pose_arr: np.ndarray, score_arr: np.ndarray, last: int,
           max_persons: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(M, T, V, 2) joints and (M, T, V) confidence: each frame's people ranked by mean score into slots."""
    n_people = len(frame_of)
    frame_idx = np.asarray(frame_of, dtype=np.int64)
    per_frame = np.bincount(frame_idx, minlength=last) if n_people else np.zeros(last, dtype=np.int64)
    most = int(per_frame.max()) if n_people else 0
    m = max(1, most if max_persons is None else min(max_persons, most))
    if m * last > MAX_PERSON_FRAMES:
        raise ReaderError(p, f"{m} person slots x {last} frames exceeds the {MAX_PERSON_FRAMES} limit")
    joints = np.full((m, last, NUM_JOINTS, 2), np.nan, dtype=np.float32)
    confidence = np.zeros((m, last, NUM_JOINTS), dtype=np.float32)
    if n_people:
        # rank within each frame: highest mean score first, file order breaking ties
        order = np.lexsort((np.arange(n_people), -score_arr.mean(1), frame_idx))
        f_sorted = frame_idx[order]
        group_start = np.searchsorted(f_sorted, f_sorted, side="left")
        rank = np.arange(n_people) - group_start
        keep = rank < m
        sel, slot, fr = order[keep], rank[keep], f_sorted[keep]
        xy = pose_arr[sel].reshape(-1, NUM_JOINTS, 2)
        sc = np.clip(score_arr[sel], 0.0, 1.0)
        missing = (xy == 0).all(-1)
        xy[missing] = np.nan
        sc[missing] = 0.0
        joints[slot, fr] = xy
        confidence[slot, fr] = sc
    return joints, confidence, most


def _labels(p: Path, data: dict, meta: dict) -> None:
    label_index, label = data.get("label_index"), data.get("label")
    if label_index is not None:
        if not _is_int(label_index) or label_index < 0:
            raise ReaderError(p, f"'label_index' must be a non-negative integer, got {label_index!r}")
        meta["label"] = label_index
    if label is not None:
        if not isinstance(label, str):
            raise ReaderError(p, f"'label' must be a string, got {type(label).__name__}")
        meta["label_name"] = label


@register_reader("kinetics", _is_kinetics)
def read_kinetics(path: Path, max_persons: int | None = 2) -> SkeletonSequence:
    """Read one Kinetics-skeleton JSON -> (M, T, 18, 2) openpose18 + confidence, T = last frame_index.

    Each frame's people are ranked by mean score and the best ``max_persons`` kept (None keeps all);
    slot 0 therefore also has the highest score summed over the clip. Scores are clipped to [0, 1].
    """
    p = Path(path)
    if max_persons is not None and (not _is_int(max_persons) or max_persons < 1):
        raise ValueError(f"max_persons must be a positive int or None, got {max_persons!r}")
    data = read_json(p, MAX_BYTES, "skeleton JSON file")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ReaderError(p, "expected a JSON object with a 'data' list of frames (Kinetics-skeleton format)")
    frames = data["data"]
    if not frames:
        raise ReaderError(p, "'data' holds no frames")

    frame_of, poses, scores, last = _people(p, frames)
    pose_arr, score_arr = _check_people(p, frame_of, poses, scores)
    joints, confidence, most = _slots(p, frame_of, pose_arr, score_arr, last, max_persons)
    meta: dict = {"source": str(p), "youtube_id": p.stem, "max_people_per_frame": most}
    if not poses:
        meta["all_missing"] = True
    _labels(p, data, meta)
    return SkeletonSequence(joints, format="openpose18", confidence=confidence, fps=FPS, meta=meta)


def load_kinetics_labels(label_json_path: str | Path) -> dict[str, dict]:
    """Load the official label file ``{youtube_id: {"has_skeleton", "label", "label_index"}}``."""
    p = Path(label_json_path)
    data = read_json(p, MAX_BYTES, "skeleton JSON file")
    if not isinstance(data, dict):
        raise ReaderError(p, "expected a JSON object {youtube_id: {has_skeleton, label, label_index}}")
    for vid, entry in data.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("has_skeleton"), bool)
                or not isinstance(entry.get("label"), str) or not _is_int(entry.get("label_index"))):
            raise ReaderError(p, f"entry {vid!r}: expected {{'has_skeleton': bool, 'label': str,"
                              f" 'label_index': int}}, got {str(entry)[:80]}")
    return data
