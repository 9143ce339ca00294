"""MSR Action3D skeleton text files (Kinect v1, 20 joints, the dataset's own joint order).

Two released variants share one layout, 4 numbers per line and 20 lines (joints) per frame:
``aAA_sSS_eEE_skeleton3D.txt`` (Real3D: x y z c, camera space, metres; meta coordinates="world") and
``aAA_sSS_eEE_skeleton.txt`` (screen: u v d c, depth-image pixels and raw depth units;
meta coordinates="screen"). c is a [0, 1] per-joint score kept as confidence; 15 fps (Li et al. 2010).
Missing data: a joint whose three coordinates are all 0 was not tracked (whole frames are zero in
20 files, all of a13_s09_e02), and a coordinate >= 1e9 is the sensor's int32 overflow value
2147483647 (screen variant, v column): both become NaN with confidence 0, counted in meta.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_text, register_reader

__all__ = ["read_msr_action3d", "parse_msr_name", "MSR_NAME", "MSR_ACTIONS"]

MSR_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_skeleton(3D)?")
#: action names, index = 0-based label (PROVENANCE.txt)
MSR_ACTIONS: tuple[str, ...] = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw",
    "draw x", "draw tick", "draw circle", "hand clap", "two hand wave", "side-boxing", "bend",
    "forward kick", "side kick", "jogging", "tennis swing", "tennis serve", "golf swing",
    "pick up & throw",
)
NUM_JOINTS = 20
FPS = 15.0  # "captured at about 15 frames per second" (Li et al. 2010)
#: coordinates at or above this are the int32 overflow sentinel (2147483647 printed as 2.14748e9)
OVERFLOW = 1e9
MAX_BYTES = 512 * 2**20  # the largest real file is ~0.6 MB


def parse_msr_name(name: str) -> dict[str, int | str] | None:
    """``aAA_sSS_eEE_skeleton[3D]`` -> {action, subject, repetition, coordinates} or None."""
    m = MSR_NAME.search(name)
    if not m:
        return None
    a, s, e = (int(g) for g in m.groups()[:3])
    return {"action": a, "subject": s, "repetition": e, "coordinates": "world" if m.group(4) else "screen"}


def _is_msr(path: Path) -> bool:
    return path.suffix == ".txt" and bool(MSR_NAME.fullmatch(path.stem))


def _first_bad_number(lines: list[str], rows: np.ndarray) -> int:
    """Index into ``rows`` of the first line holding a token that is not a number."""
    for k, i in enumerate(rows):
        try:
            [float(t) for t in lines[i].split()]
        except ValueError:
            return k
    return 0


def _parse_values(p: Path, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, 20, 4) values [x, y, z, c] and the 0-based line of each joint row; errors name the line."""
    lines = text.split("\n")
    counts = np.fromiter((len(ln.split()) for ln in lines), dtype=np.int64, count=len(lines))
    rows = np.flatnonzero(counts)  # line indices (0-based) of the non-blank lines = data rows
    bad = np.flatnonzero(counts[rows] != 4)
    if bad.size:
        i = int(rows[bad[0]])
        raise ReaderError(p, f"expected 4 numbers (x y z c) per line, got {counts[i]}: {lines[i].strip()[:60]!r}",
                          i + 1)
    if rows.size == 0:
        raise ReaderError(p, "empty file: no joint lines")
    if rows.size % NUM_JOINTS:
        start = int(rows[rows.size - rows.size % NUM_JOINTS])
        raise ReaderError(p, f"{rows.size} joint lines is not a multiple of 20 (20 joints per frame): the last"
                          f" frame, starting at line {start + 1}, has only {rows.size % NUM_JOINTS}", start + 1)
    try:
        vals = np.array(text.split(), dtype=np.float64)
    except ValueError:
        i = int(rows[_first_bad_number(lines, rows)])
        raise ReaderError(p, f"not a number in joint line: {lines[i].strip()[:60]!r}", i + 1) from None
    vals = vals.reshape(-1, NUM_JOINTS, 4)
    finite = np.isfinite(vals).all(axis=-1)
    if not finite.all():
        r = int(np.flatnonzero(~finite.ravel())[0])
        raise ReaderError(p, f"non-finite value in frame {r // NUM_JOINTS}, joint {r % NUM_JOINTS}",
                          int(rows[r]) + 1)
    conf = vals[..., 3]
    out_of_range = (conf < 0) | (conf > 1)
    if out_of_range.any():
        r = int(np.flatnonzero(out_of_range.ravel())[0])
        raise ReaderError(p, f"confidence (4th number) must be in [0, 1], got {conf.ravel()[r]}", int(rows[r]) + 1)
    return vals, rows


def _coordinates(p: Path, xyz: np.ndarray, missing: np.ndarray) -> str:
    """world or screen: from the file name, else screen when the mean |z| exceeds 50."""
    parsed = parse_msr_name(p.name)
    if parsed:
        return str(parsed["coordinates"])
    z = np.abs(xyz[..., 2][~missing])
    return "screen" if z.size and float(z.mean()) > 50 else "world"


def _name_meta(p: Path, meta: dict) -> None:
    """Action, subject, repetition and label from an aAA_sSS_eEE file name."""
    parsed = parse_msr_name(p.name)
    if not parsed:
        return
    action = int(parsed["action"])
    meta.update(action=action, subject=parsed["subject"], repetition=parsed["repetition"])
    if 1 <= action <= len(MSR_ACTIONS):
        meta["label"] = action - 1
        meta["label_name"] = MSR_ACTIONS[action - 1]


@register_reader("msr_action3d", _is_msr)
def read_msr_action3d(path: Path, coordinates: str | None = None) -> SkeletonSequence:
    """Read one MSR Action3D skeleton file -> (1, T, 20, 3) in the msr_action3d format, label 0..19.

    ``coordinates`` ("world" or "screen") overrides the variant taken from the file name; without
    either, files whose mean |z| exceeds 50 are taken as screen (raw depth ~ 245 x metres).
    """
    p = Path(path)
    if coordinates not in (None, "world", "screen"):
        raise ValueError(f"coordinates must be 'world', 'screen' or None, got {coordinates!r}")
    vals, _ = _parse_values(p, read_text(p, MAX_BYTES, "MSR Action3D text file", encoding="ascii"))
    conf = vals[..., 3]
    xyz = vals[..., :3]
    zero = (xyz == 0).all(axis=-1)
    overflow = (np.abs(xyz) >= OVERFLOW).any(axis=-1)
    missing = zero | overflow
    joints = np.where(missing[..., None], np.nan, xyz).astype(np.float32)
    confidence = conf.astype(np.float32)
    confidence[missing] = 0.0

    meta: dict = {"source": str(p), "coordinates": coordinates or _coordinates(p, xyz, missing)}
    _name_meta(p, meta)
    if zero.any():
        meta["zero_joints"] = int(zero.sum())
    if overflow.any():
        meta["overflow_joints"] = int(overflow.sum())
    if missing.any():
        meta["missing_frames"] = int(missing.all(axis=1).sum())
    if missing.all():
        meta["all_missing"] = True
    return SkeletonSequence(joints[None], format="msr_action3d", confidence=confidence[None], fps=FPS,
                            meta=meta)
