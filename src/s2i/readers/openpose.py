"""OpenPose output of your own video: a folder of per-frame ``*_keypoints.json`` files.

OpenPose (``--write_json DIR``) writes one file per frame, ``VIDEO_000000000012_keypoints.json``, with
``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...]}, ...]}``: 25 keypoints (BODY_25 ->
``openpose25``) or 18 (COCO -> ``openpose18``), pixel coordinates, a score per keypoint (0 = not
detected -> NaN). Frames are ordered by the number in the file name. Several people per frame are
tracked across frames by nearest-person matching (mean distance of the joints both have, to each
track's last position; a person farther than ``max_jump`` x the image diagonal starts a new track); the
``max_persons`` tracks with the highest total score are kept, in order of first appearance.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_json, register_reader

__all__ = ["is_openpose_folder", "openpose_frames", "read_openpose", "track_people"]

FRAME_NAME = re.compile(r"(.*?)_?(\d+)_keypoints$")
FORMATS = {25: "openpose25", 18: "openpose18"}


def openpose_frames(folder: Path) -> list[Path]:
    """The ``*_keypoints.json`` files of a folder, in frame order."""
    files = [p for p in folder.glob("*_keypoints.json") if p.is_file()]

    def key(p: Path) -> tuple[int, str]:
        m = FRAME_NAME.fullmatch(p.stem)
        return (int(m.group(2)) if m else -1, p.name)

    return sorted(files, key=key)


def is_openpose_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*_keypoints.json"))


def _people(p: Path, expect: int | None) -> tuple[list[np.ndarray], int | None]:
    """(people as (K, 3) arrays, keypoints per person) of one frame file."""
    data = read_json(p, 64 * 2**20, "OpenPose JSON file")
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise ReaderError(p, "expected an OpenPose frame: a JSON object with a 'people' list")
    out = []
    for k, person in enumerate(data["people"]):
        kp = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(kp, list) or len(kp) % 3 or len(kp) // 3 not in FORMATS:
            n = len(kp) if isinstance(kp, list) else "no"
            raise ReaderError(p, f"people[{k}].pose_keypoints_2d: expected 75 (BODY_25) or 54 (COCO-18)"
                                 f" numbers (x, y, score per keypoint), got {n}")
        if expect is not None and len(kp) // 3 != expect:
            raise ReaderError(p, f"people[{k}]: {len(kp) // 3} keypoints, earlier frames have {expect}")
        expect = len(kp) // 3
        try:
            arr = np.asarray(kp, dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError):
            raise ReaderError(p, f"people[{k}].pose_keypoints_2d: values must be numbers") from None
        if not np.isfinite(arr).all():
            raise ReaderError(p, f"people[{k}].pose_keypoints_2d: non-finite value")
        out.append(arr)
    return out, expect


def _extent(frames: list[list[np.ndarray]]) -> float:
    """The diagonal of the box around every detected keypoint (1.0 when there is none)."""
    pts = [p[:, :2][p[:, 2] > 0] for f in frames for p in f]
    allpts = np.concatenate(pts) if any(len(x) for x in pts) else np.zeros((1, 2))
    return float(np.linalg.norm(allpts.max(0) - allpts.min(0))) or 1.0


def _match(people: list[np.ndarray], last: list[np.ndarray], max_dist: float) -> dict[int, int]:
    """person -> track: (distance, person, track) pairs nearest first, each person and track used once."""
    cand = []
    for k, person in enumerate(people):
        for j, prev in enumerate(last):
            both = (person[:, 2] > 0) & ~np.isnan(prev[:, 0])
            if both.any():
                cand.append((float(np.linalg.norm(person[both, :2] - prev[both], axis=1).mean()), k, j))
    cand.sort()
    assigned: dict[int, int] = {}
    used: set[int] = set()
    for d, k, j in cand:
        if k in assigned or j in used or d > max_dist:
            continue
        assigned[k] = j
        used.add(j)
    return assigned


def _track(frames: list[list[np.ndarray]], v: int, max_dist: float) -> list[dict[int, np.ndarray]]:
    """Tracks as {frame: (V, 3) person}: matched people extend their track, the others start one."""
    tracks: list[dict[int, np.ndarray]] = []
    last: list[np.ndarray] = []
    for ti, people in enumerate(frames):
        assigned = _match(people, last, max_dist)
        for k, person in enumerate(people):
            seen = person[:, 2] > 0
            if not seen.any():
                continue
            if k not in assigned:
                tracks.append({})
                last.append(np.full((v, 2), np.nan))
                assigned[k] = len(tracks) - 1
            j = assigned[k]
            tracks[j][ti] = person
            last[j][seen] = person[seen, :2]
    return tracks


def _strongest(tracks: list[dict[int, np.ndarray]], t: int, v: int, max_persons: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The ``max_persons`` tracks of highest total score, in order of first appearance, as arrays."""
    total = [sum(float(p[:, 2].sum()) for p in tr.values()) for tr in tracks]
    keep = sorted(sorted(range(len(tracks)), key=lambda j: -total[j])[:max_persons])
    joints = np.full((max(len(keep), 1), t, v, 2), np.nan, dtype=np.float32)
    conf = np.zeros((max(len(keep), 1), t, v), dtype=np.float32)
    for m, j in enumerate(keep):
        for ti, person in tracks[j].items():
            seen = person[:, 2] > 0
            joints[m, ti, seen] = person[seen, :2]
            conf[m, ti] = person[:, 2]
    return joints, conf


def track_people(frames: list[list[np.ndarray]], max_persons: int = 2, max_jump: float = 0.25
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-person tracking: per-frame lists of (V, 3) [x, y, score] -> ((M, T, V, 2), (M, T, V)).

    Each person of a frame joins the nearest open track (by mean distance over joints seen in both),
    greedily by distance; a person farther than ``max_jump`` x the frame's extent from every track
    starts a new one. The ``max_persons`` tracks with the highest total score are kept.
    """
    v = next((p.shape[0] for f in frames for p in f), 1)
    tracks = _track(frames, v, max_jump * _extent(frames))
    return _strongest(tracks, len(frames), v, max_persons)


@register_reader("openpose", lambda p: p.name.endswith("_keypoints.json"))
def read_openpose(path: str | Path, max_persons: int = 2) -> SkeletonSequence:
    """Read an OpenPose ``--write_json`` folder (or one ``*_keypoints.json`` file) -> (M, T, V, 2)
    ``openpose25`` / ``openpose18`` with per-keypoint scores as confidence."""
    p = Path(path)
    files = openpose_frames(p) if p.is_dir() else [p]
    if not files:
        raise ReaderError(p, "no *_keypoints.json files in this folder (OpenPose --write_json output)")
    frames, expect = [], None
    for f in files:
        people, expect = _people(f, expect)
        frames.append(people)
    if expect is None:
        raise ReaderError(p, f"no person detected in any of the {len(files)} frame file(s)")
    joints, conf = track_people(frames, max_persons)
    meta = {"source": str(p), "name": p.name if p.is_dir() else p.stem, "frames_files": len(files),
            "people_per_frame_max": max(len(f) for f in frames), "tracks_kept": int(joints.shape[0]),
            "units": "px"}
    return SkeletonSequence(joints, format=FORMATS[expect], confidence=conf, meta=meta)
