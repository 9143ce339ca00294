"""MediaPipe Pose landmarks of your own video (33 landmarks: x, y, z, visibility) -> ``mediapipe33``.

Accepted layouts (what scripts around ``mp.solutions.pose`` / the Pose Landmarker commonly write):

- CSV, one row per frame: an optional ``frame`` column, then ``x, y, z, visibility`` of the 33
  landmarks in MediaPipe order (132 values); the header names a column ``*visibility*``;
- CSV, one row per landmark: columns ``frame, landmark, x, y, z, visibility`` (``landmark`` = index
  0..32 or the name, e.g. ``left_wrist``);
- JSON: a list of frames, each a list of 33 ``{"x", "y", "z", "visibility"}`` objects, or an object
  ``{"frame": N, "landmarks": [...]}``; a frame without a detection is ``[]`` / ``null`` (NaN). JSON is
  read as UTF-8, as the standard requires (a CSV may also be Latin-1 / cp1252).

x, y are normalised image coordinates (y down), z is relative to the hips; visibility becomes the
confidence. Errors name the file, the line or frame, and what was expected.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, read_bytes, read_json, register_reader
from .text_frames import decode_text

__all__ = ["read_mediapipe"]

V = 33
FIELDS = ("x", "y", "z", "visibility")
_WHAT, _MAX_BYTES = "MediaPipe landmark file", 1 << 30


def _is_mediapipe(path: Path) -> bool:
    if path.suffix.lower() not in (".csv", ".json") or path.name.endswith("_keypoints.json"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lower()
    except OSError:
        return False
    return b"visibility" in head


def _row_csv(p: Path, rows: list[list[str]], header: list[str]) -> tuple[np.ndarray, list[int]]:
    """One row per frame: [frame,] 132 values."""
    width = len(header)
    if width not in (V * 4, V * 4 + 1):
        raise ReaderError(p, f"header has {width} columns; expected {V * 4} (x, y, z, visibility of 33"
                             f" landmarks) or {V * 4 + 1} with a frame column", 1)
    out: list[list[float]] = []
    frames: list[int] = []
    for n, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != width:
            raise ReaderError(p, f"expected {width} values like the header, got {len(row)}", n)
        vals = _numbers(p, row, n)
        frames.append(int(vals[0]) if width == V * 4 + 1 else len(frames))
        out.append(vals[-V * 4:])
    return np.asarray(out).reshape(-1, V, 4), frames


def _numbers(p: Path, row: list[str], n: int) -> list[float]:
    try:
        return [float(x) if x.strip() else float("nan") for x in row]
    except ValueError:
        bad = next(x for x in row if not _isnum(x))
        raise ReaderError(p, f"not a number: {bad[:40]!r}", n) from None


def _isnum(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return not x.strip()
    return True


def _long_csv(p: Path, rows: list[list[str]], header: list[str]) -> tuple[np.ndarray, list[int]]:
    """One row per landmark: frame, landmark, x, y, z, visibility."""
    col = {h: k for k, h in enumerate(header)}
    names = {n: k for k, n in enumerate(get_format("mediapipe33").joints)}
    data: dict[int, np.ndarray] = {}
    for n, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ReaderError(p, f"expected {len(header)} values like the header, got {len(row)}", n)
        lm = row[col["landmark"]].strip()
        j = int(lm) if lm.isdigit() else names.get(lm.lower())
        if j is None or not 0 <= j < V:
            raise ReaderError(p, f"landmark {lm[:40]!r}: expected 0..32 or a MediaPipe name (e.g. left_wrist)", n)
        frame = _numbers(p, [row[col["frame"]]], n)[0]
        vals = _numbers(p, [row[col[f]] for f in FIELDS], n)
        data.setdefault(int(frame), np.full((V, 4), np.nan))[j] = vals
    frames = sorted(data)
    return np.stack([data[f] for f in frames]) if frames else np.zeros((0, V, 4)), frames


def _read_csv(p: Path, text: str) -> tuple[np.ndarray, list[int]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ReaderError(p, "empty file: expected a header and one row per frame (or per landmark)")
    header = [h.strip().lower() for h in rows[0]]
    if {"frame", "landmark", *FIELDS} <= set(header):
        return _long_csv(p, rows[1:], header)
    return _row_csv(p, rows[1:], header)


def _landmarks(p: Path, f: int, frame: Any) -> np.ndarray:
    if isinstance(frame, dict):
        frame = frame.get("landmarks", frame.get("pose_landmarks"))
    if not frame:
        return np.full((V, 4), np.nan)
    if not isinstance(frame, list) or len(frame) != V:
        n = len(frame) if isinstance(frame, list) else type(frame).__name__
        raise ReaderError(p, f"frame {f}: expected a list of 33 landmarks, got {n}")
    out = np.full((V, 4), np.nan)
    for j, lm in enumerate(frame):
        if not isinstance(lm, dict) or not all(isinstance(lm.get(k, 0.0), (int, float)) for k in FIELDS):
            raise ReaderError(p, f"frame {f}, landmark {j}: expected an object with numeric x, y, z, visibility")
        out[j] = [lm.get("x"), lm.get("y"), lm.get("z", 0.0), lm.get("visibility", 1.0)]
    return out


def _read_json(p: Path) -> tuple[np.ndarray, list[int]]:
    data = read_json(p, _MAX_BYTES, _WHAT)
    if isinstance(data, dict):
        data = data.get("frames", data.get("landmarks"))
    if not isinstance(data, list):
        raise ReaderError(p, "expected a JSON list of frames (each 33 landmarks) or {\"frames\": [...]}")
    frames = [int(fr["frame"]) if isinstance(fr, dict) and isinstance(fr.get("frame"), int) else k
              for k, fr in enumerate(data)]
    return np.stack([_landmarks(p, k, fr) for k, fr in enumerate(data)]) if data else np.zeros((0, V, 4)), frames


@register_reader("mediapipe", _is_mediapipe)
def read_mediapipe(path: str | Path) -> SkeletonSequence:
    """Read MediaPipe Pose landmarks (CSV or JSON, see the module doc) -> (1, T, 33, 3) ``mediapipe33``
    with visibility as confidence."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        arr, frames = _read_json(p)
    else:
        arr, frames = _read_csv(p, decode_text(p, read_bytes(p, _MAX_BYTES, _WHAT), _WHAT))
    if not len(arr):
        raise ReaderError(p, "no frames")
    with np.errstate(all="ignore"):
        joints = arr[..., :3].astype(np.float32)[None]
        conf = np.nan_to_num(arr[..., 3]).astype(np.float32)[None]
    bad = np.isinf(joints)
    if bad.any():
        raise ReaderError(p, f"frame {frames[int(np.argwhere(bad)[0][1])]}: value out of range")
    meta = {"source": str(p), "name": p.stem, "first_frame": frames[0], "last_frame": frames[-1],
            "frame_index": list(frames), "units": "normalised image coordinates"}
    return SkeletonSequence(joints, format="mediapipe33", confidence=conf, meta=meta)
