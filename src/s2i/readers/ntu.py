"""NTU RGB+D 60/120 raw ``.skeleton`` files (Kinect v2, 25 joints) with the field's body denoising.

Layout (ntu_metadata/README.md): frame count; per frame a body count; per body a 10-value info line,
the joint count, then one 12-value line per joint (x y z depthX depthY colorX colorY orientation(4)
trackingState). We keep camera-space x y z (metres); a body absent from a frame is NaN there. Only
x y z and the tracking state are converted to numbers (the other columns are checked for count only),
which keeps parsing at about 9 ms for a 124-frame file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_text, register_reader

__all__ = ["NTU_NAME", "parse_ntu_name", "parse_ntu_skeleton", "read_ntu", "denoise_bodies", "RawBody"]

NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
MAX_BODIES = 2
MAX_FILE_BYTES = 256 * 2**20  # the largest real file is a few MB
# Denoising thresholds used by the field (ST-GCN / CTR-GCN NTU preprocessing).
NOISE_LENGTH = 11          # drop bodies tracked in this many frames or fewer
NOISE_SPREAD_RATIO = 0.8   # a frame is noisy when x-spread > 0.8 * y-spread (objects are wide)
NOISE_SPREAD_FRAMES = 0.69754  # drop a body when more than this fraction of its frames are noisy


def parse_ntu_name(name: str) -> dict[str, int] | None:
    """SsssCcccPpppRrrrAaaa -> setup, camera, subject, replication, action (1-based) or None."""
    m = NTU_NAME.search(name)
    if not m:
        return None
    s, c, p, r, a = (int(g) for g in m.groups())
    return {"setup": s, "camera": c, "subject": p, "replication": r, "action": a}


@dataclass
class RawBody:
    """One tracked body: the frames it appears in, its (25, 3) coordinates and (25,) tracking
    states (0 not tracked, 1 inferred, 2 tracked) in each of them."""

    body_id: str
    frames: list[int] = field(default_factory=list)
    xyz: list[np.ndarray] = field(default_factory=list)
    state: list[np.ndarray] = field(default_factory=list)


def parse_ntu_skeleton(path: str | Path) -> tuple[int, list[RawBody]]:
    """Parse a raw file into (frame count, bodies in first-seen order); errors name file and line."""
    p = Path(path)
    lines = read_text(p, MAX_FILE_BYTES, "NTU .skeleton text file", encoding="ascii").split("\n")
    n_frames, records = _walk_records(p, lines)
    if not records:
        return n_frames, []
    xyz, state = _parse_joint_lines(p, lines, records)
    bodies: dict[str, RawBody] = {}
    for r, (f, body_id, _) in enumerate(records):
        body = bodies.setdefault(body_id, RawBody(body_id))
        body.frames.append(f)
        body.xyz.append(xyz[r])
        body.state.append(state[r])
    return n_frames, list(bodies.values())


class _Lines:
    """A cursor over the file's lines that reads the count lines (one integer each)."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path, self.lines, self.pos = path, lines, 0

    def next_int(self, what: str) -> int:
        lines = self.lines
        while self.pos < len(lines) and not lines[self.pos].strip():
            self.pos += 1
        if self.pos >= len(lines):
            raise ReaderError(self.path, f"file ends early, expected {what}", self.pos)
        tok = lines[self.pos].split()
        self.pos += 1
        if len(tok) != 1 or not tok[0].lstrip("-").isdigit():
            raise ReaderError(self.path, f"expected {what} (one integer), got {lines[self.pos - 1].strip()[:60]!r}",
                              self.pos)
        return int(tok[0])


def _walk_records(p: Path, lines: list[str]) -> tuple[int, list[tuple[int, str, int]]]:
    """Walk the structure (counts and info lines) -> (frame count, [(frame, body id, first joint line)]).
    Joint lines are only located here, not parsed."""
    cur = _Lines(p, lines)
    n_frames = cur.next_int("the frame count")
    if not 0 <= n_frames <= 100_000:
        raise ReaderError(p, f"implausible frame count {n_frames}", 1)
    records: list[tuple[int, str, int]] = []
    for f in range(n_frames):
        n_bodies = cur.next_int(f"the body count of frame {f}")
        if not 0 <= n_bodies <= 16:
            raise ReaderError(p, f"implausible body count {n_bodies} in frame {f}", cur.pos)
        for _ in range(n_bodies):
            if cur.pos >= len(lines):
                raise ReaderError(p, f"file ends early in frame {f}, expected a body info line", cur.pos)
            info = lines[cur.pos].split()
            cur.pos += 1
            if len(info) != 10:
                raise ReaderError(p, f"frame {f}: body info line needs 10 values, got {len(info)}", cur.pos)
            n_joints = cur.next_int(f"the joint count of frame {f}")
            if n_joints != 25:
                raise ReaderError(p, f"frame {f}: expected 25 joints (Kinect v2), got {n_joints}", cur.pos)
            if cur.pos + n_joints > len(lines):
                raise ReaderError(p, f"file ends early in frame {f}: {len(lines) - cur.pos} of 25 joint lines",
                                  cur.pos)
            records.append((f, info[0], cur.pos))
            cur.pos += n_joints
    return n_frames, records


def _parse_joint_lines(p: Path, lines: list[str], records: list[tuple[int, str, int]]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Parse every joint line of the file in one go -> xyz (R, 25, 3) metres, tracking state (R, 25)."""
    starts = np.array([r[2] for r in records])
    line_of = (starts[:, None] + np.arange(25)[None, :]).ravel()  # 0-based line index of each joint
    parts = [lines[i].split() for i in line_of]
    counts = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if (counts != 12).any():
        k = int(np.argmax(counts != 12))
        raise ReaderError(p, f"frame {records[k // 25][0]}: joint lines need 12 values each, got {counts[k]}",
                          int(line_of[k]) + 1)
    try:
        vals = np.array([q[:3] + q[11:] for q in parts], dtype=np.float64)
    except ValueError:
        k = next(i for i, q in enumerate(parts) if not _floats_ok(" ".join(q[:3] + q[11:])))
        raise ReaderError(p, f"frame {records[k // 25][0]}: joint line is not numeric: "
                          f"{lines[line_of[k]].strip()[:60]!r}", int(line_of[k]) + 1) from None
    xyz = vals[:, :3].astype(np.float32)  # check after the cast: 1e300 is finite only in float64
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise ReaderError(p, f"frame {records[k // 25][0]}: non-finite joint coordinate (joint {k % 25})",
                          int(line_of[k]) + 1)
    return xyz.reshape(len(records), 25, 3), vals[:, 3].astype(np.float32).reshape(len(records), 25)


def _floats_ok(line: str) -> bool:
    try:
        [float(t) for t in line.split()]
        return True
    except ValueError:
        return False


def _dense(body: RawBody, n_frames: int) -> np.ndarray:
    out = np.full((n_frames, 25, 3), np.nan, dtype=np.float32)
    out[np.asarray(body.frames)] = np.stack(body.xyz)
    return out


def _motion(body: RawBody) -> float:
    xyz = np.stack(body.xyz)
    return float(xyz.var(axis=0).sum()) if len(body.frames) > 1 else 0.0


def _noisy_spread(body: RawBody) -> bool:
    xyz = np.stack(body.xyz)
    xs = xyz[:, :, 0].max(1) - xyz[:, :, 0].min(1)
    ys = xyz[:, :, 1].max(1) - xyz[:, :, 1].min(1)
    return float((xs > NOISE_SPREAD_RATIO * ys).mean()) > NOISE_SPREAD_FRAMES


def denoise_bodies(bodies: list[RawBody]) -> tuple[list[RawBody], list[str]]:
    """The field's multi-body denoising: drop short-lived bodies and object-like (wide) bodies, then
    rank the rest by motion. Returns (kept bodies, most active first; log of decisions)."""
    log: list[str] = []
    kept = bodies
    if len(kept) > 1:
        long_enough = [b for b in kept if len(b.frames) > NOISE_LENGTH]
        for b in kept:
            if b not in long_enough:
                log.append(f"drop-short body {b.body_id}: tracked in {len(b.frames)} <= {NOISE_LENGTH} frames")
        kept = long_enough or kept
    if len(kept) > 1:
        upright = [b for b in kept if not _noisy_spread(b)]
        for b in kept:
            if b not in upright:
                log.append(f"drop-object body {b.body_id}: x/y spread marks it as an object")
        kept = upright or kept
    return sorted(kept, key=_motion, reverse=True), log


def _two_actors(bodies: list[RawBody], n_frames: int, log: list[str]) -> np.ndarray:
    """Merge ranked bodies into at most two actors: a body joins an actor when their frames do not
    overlap (the same person re-tracked under a new id); otherwise it is dropped."""
    actors: list[np.ndarray] = []
    occupied: list[np.ndarray] = []
    for b in bodies:
        frames = np.asarray(b.frames)
        for k in range(len(actors)):
            if not occupied[k][frames].any():
                actors[k][frames] = np.stack(b.xyz)
                occupied[k][frames] = True
                log.append(f"merge body {b.body_id} into actor {k + 1} (no overlapping frames)")
                break
        else:
            if len(actors) < MAX_BODIES:
                actors.append(_dense(b, n_frames))
                occ = np.zeros(n_frames, dtype=bool)
                occ[frames] = True
                occupied.append(occ)
            else:
                log.append(f"drop-extra body {b.body_id}: overlaps both kept actors and moves less")
    if not actors:
        return np.full((1, max(n_frames, 1), 25, 3), np.nan, dtype=np.float32)
    return np.stack(actors)


@register_reader("ntu", lambda p: p.suffix == ".skeleton")
def read_ntu(path: Path) -> SkeletonSequence:
    """Read and denoise one NTU ``.skeleton`` file -> (M <= 2, T, 25, 3), NaN where a body is absent."""
    n_frames, bodies = parse_ntu_skeleton(path)
    if n_frames == 0 or not bodies:
        raise ReaderError(path, f"no skeleton data ({n_frames} frames, {len(bodies)} bodies)")
    ranked, log = denoise_bodies(bodies)
    joints = _two_actors(ranked, n_frames, log)
    # frames where no actor is present at all are trimmed from both ends
    present = ~np.isnan(joints).all(axis=(0, 2, 3))
    idx = np.flatnonzero(present)
    joints = joints[:, idx[0]: idx[-1] + 1]
    meta: dict = {"source": str(path), "bodies_raw": len(bodies), "denoise": log}
    parsed = parse_ntu_name(Path(path).name)
    if parsed:
        meta.update(parsed)
        meta["label"] = parsed["action"] - 1
        meta["view"] = parsed["camera"]
    return SkeletonSequence(joints, format="ntu25", fps=30.0, meta=meta)
