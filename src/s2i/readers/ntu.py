"""NTU RGB+D 60/120 raw ``.skeleton`` files (Kinect v2, 25 joints) with the field's body denoising.

The denoising rules are those of the reference scripts every recent NTU result was computed with:
``get_raw_skes_data.py`` + ``get_raw_denoised_data.py`` of microsoft/SGN ``data/ntu/`` (copied unchanged
into CTR-GCN and MAMP). ``denoise="reference"`` reproduces their frames, actors and actor order;
``denoise="keep-gaps"`` keeps the same actors at their true frame positions. Where the scripts crash (every
body of a multi-body file tracked in <= 11 frames) s2i keeps all bodies and logs ``keep-short``.

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

__all__ = ["DENOISE_MODES", "NTU_ACTIONS", "NTU_NAME", "RawBody", "assign_actors", "denoise_bodies", "denoise_sequence",
           "parse_ntu_name", "parse_ntu_skeleton", "pooled_variance", "read_ntu", "spread_noisy_frames"]

NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
MAX_FILE_BYTES = 256 * 2**20  # the largest real file is a few MB
# Denoising thresholds of the field's reference scripts (microsoft/SGN data/ntu/get_raw_denoised_data.py).
NOISE_LENGTH = 11          # drop bodies tracked in this many frames or fewer
NOISE_SPREAD_RATIO = 0.8   # a frame is noisy when x-spread > 0.8 * y-spread (objects are wide)
NOISE_SPREAD_FRAMES = 0.69754  # drop a body when at least this fraction of its frames are noisy
#: ``reference``: the frames, actors and actor order of the reference scripts; ``keep-gaps``: the same
#: bodies and actors at their true frame positions (NaN where an actor is untracked).
DENOISE_MODES = ("reference", "keep-gaps")


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


def pooled_variance(xyz: np.ndarray) -> float:
    """The reference's motion of a body: the sum over x, y, z of the variance of all its joint positions
    pooled together ((n, 25, 3) -> (n * 25, 3)), so body size counts as well as movement. Computed in
    float32 like the reference, so near-ties rank the same way."""
    pooled = np.ascontiguousarray(xyz, dtype=np.float32).reshape(-1, 3)
    return float(np.sum(np.var(pooled, axis=0)))


def spread_noisy_frames(xyz: np.ndarray) -> np.ndarray:
    """(n,) True where a frame of a body is object-like: x-spread > 0.8 * y-spread. The spreads are
    float32 differences and the comparison is in float64, as the reference scripts compute it under
    the NumPy < 1.24 they require (``np.int``)."""
    xyz = np.asarray(xyz, dtype=np.float32)
    xs = (xyz[:, :, 0].max(1) - xyz[:, :, 0].min(1)).astype(np.float64)
    ys = (xyz[:, :, 1].max(1) - xyz[:, :, 1].min(1)).astype(np.float64)
    return ~(xs <= NOISE_SPREAD_RATIO * ys)


def _ids(bodies: list[RawBody]) -> str:
    return ", ".join(f"{b.body_id} ({len(b.frames)})" for b in bodies)


def _denoise_by_length(bodies: list[RawBody], log: list[str]) -> list[RawBody]:
    """Rule 1: drop bodies tracked in <= 11 frames. When that would drop every body the reference
    scripts stop with an IndexError; s2i keeps them all instead and says so."""
    long_enough = [b for b in bodies if len(b.frames) > NOISE_LENGTH]
    if not long_enough:
        log.append(f"keep-short: every body is tracked in <= {NOISE_LENGTH} frames ({_ids(bodies)}); none "
                   "dropped (the reference scripts fail on such a file with an IndexError)")
        return bodies
    for b in bodies:
        if b not in long_enough:
            log.append(f"drop-short body {b.body_id}: tracked in {len(b.frames)} <= {NOISE_LENGTH} frames")
    return long_enough


def _denoise_by_spread(bodies: list[RawBody], motion: dict[str, float], log: list[str]) -> list[RawBody]:
    """Rule 2, in first-seen order and only while more than one body is left: drop a body when the
    fraction of its frames with x-spread > 0.8 * y-spread is >= 0.69754; otherwise, when some frames
    are noisy, lower its motion to the pooled variance over its clean frames (never raise it)."""
    kept = list(bodies)
    for b in bodies:
        noisy = spread_noisy_frames(np.stack(b.xyz))
        ratio = float(noisy.mean())
        if len(kept) == 1:  # the reference stops here: the last body is kept whatever its spread
            if ratio >= NOISE_SPREAD_FRAMES:
                log.append(f"keep-object body {b.body_id}: {ratio:.3f} of its frames are object-like, but it "
                           "is the only body left")
            break
        if not noisy.any():
            continue
        if ratio >= NOISE_SPREAD_FRAMES:
            kept.remove(b)
            log.append(f"drop-object body {b.body_id}: {int(noisy.sum())} of {len(noisy)} frames ({ratio:.3f} "
                       f">= {NOISE_SPREAD_FRAMES}) have x-spread > {NOISE_SPREAD_RATIO} * y-spread")
        else:
            clean = pooled_variance(np.stack(b.xyz)[~noisy])
            old = motion[b.body_id]
            motion[b.body_id] = min(old, clean)
            log.append(f"clean-motion body {b.body_id}: motion {old:.6f} -> {motion[b.body_id]:.6f} over its "
                       f"{int((~noisy).sum())} clean frames")
    return kept


def denoise_bodies(bodies: list[RawBody]) -> tuple[list[RawBody], list[str]]:
    """The reference scripts' body denoising (microsoft/SGN ``data/ntu/get_raw_denoised_data.py``, used
    unchanged by CTR-GCN, MAMP and later work) -> (kept bodies, actor-1 candidate first; log).

    A file with one body keeps it as it is. Otherwise: drop bodies tracked in <= 11 frames (if any are
    left), then drop object-like bodies by x/y spread while more than one is left, then rank the rest by
    motion (pooled variance, lowered to the clean frames by the spread rule), highest first; ties keep
    first-seen order (a stable sort, as the reference's).
    """
    log: list[str] = []
    if len(bodies) <= 1:
        return list(bodies), log
    motion = {b.body_id: pooled_variance(np.stack(b.xyz)) for b in bodies}
    kept = _denoise_by_length(bodies, log)
    if len(kept) > 1:
        kept = _denoise_by_spread(kept, motion, log)
    if len(kept) > 1:
        kept = sorted(kept, key=lambda b: motion[b.body_id], reverse=True)
        log.append("rank bodies by pooled variance: " + ", ".join(f"{b.body_id} {motion[b.body_id]:.6f}"
                                                                  for b in kept))
    return kept, log


def _positions(body: RawBody, frame_pos: np.ndarray, mode: str, log: list[str]) -> np.ndarray:
    """Where a body's frames go on the output time axis. ``reference``: its first frame's place and the
    next ones after it, one by one (the reference assumes a body is tracked in consecutive frames, so
    frames after a tracking gap move earlier). ``keep-gaps``: its true frames."""
    true = frame_pos[np.asarray(body.frames)]
    gaps = int(true[-1] - true[0] + 1 - len(true))
    if gaps <= 0:
        return true
    if mode == "keep-gaps":
        log.append(f"keep-gaps body {body.body_id}: {gaps} untracked frame(s) between its frames "
                   f"{true[0]}-{true[-1]} are NaN")
        return true
    shifted = true[0] + np.arange(len(true))
    log.append(f"gap-shift body {body.body_id}: tracked in {len(true)} frames over {true[0]}-{true[-1]} with "
               f"{gaps} untracked; placed at {shifted[0]}-{shifted[-1]} (frames after a gap move earlier, as in "
               "the reference)")
    return shifted


def assign_actors(ranked: list[RawBody], spans: list[tuple[int, int]], log: list[str]) -> list[list[int]]:
    """Rule 3: bodies (indices into ``ranked``, whose frame ranges are ``spans``) -> actor 1 and actor 2.

    The first body is actor 1. Each next one joins actor 1 when its range does not overlap actor 1's
    range (``min(ends) - max(starts) <= 0``: one shared frame counts as no overlap), else actor 2 on the
    same test, where actor 2's range always starts at frame 0 (the reference starts it as [0, 0]);
    any other body is dropped. A joining body widens the actor's range to cover both.
    """
    if not ranked:
        return []
    actors: list[list[int]] = [[0], []]
    ranges = [list(spans[0]), [0, 0]]
    for i in range(1, len(ranked)):
        s, e = spans[i]
        for a in (0, 1):
            lo, hi = ranges[a]
            if min(hi, e) - max(lo, s) <= 0:
                if actors[a]:  # the first body of actor 2 starts it: not a merge
                    log.append(f"merge body {ranked[i].body_id} into actor {a + 1}: frames {s}-{e}, actor "
                               f"{a + 1} spans {lo}-{hi}" + (" (one shared frame: this body's data wins)"
                                                            if min(hi, e) == max(lo, s) else ""))
                actors[a].append(i)
                ranges[a] = [min(lo, s), max(hi, e)]
                break
        else:
            log.append(f"drop-extra body {ranked[i].body_id}: frames {s}-{e} overlap actor 1 ({ranges[0][0]}-"
                       f"{ranges[0][1]}) and actor 2 ({ranges[1][0]}-{ranges[1][1]})")
    return actors if actors[1] else actors[:1]


def _frame_axis(n_frames: int, bodies: list[RawBody], mode: str, log: list[str]) -> tuple[np.ndarray, int]:
    """Rule 4a: the output position of each raw frame (-1: dropped) and the number of positions.
    ``reference`` drops raw frames in which no body is present, wherever they are; ``keep-gaps`` keeps
    every raw frame."""
    if mode == "keep-gaps":
        return np.arange(n_frames), n_frames
    present = np.zeros(n_frames, dtype=bool)
    for b in bodies:
        present[np.asarray(b.frames)] = True
    if not present.all():
        empty = np.flatnonzero(~present)
        shown = ", ".join(map(str, empty[:10].tolist())) + (", ..." if len(empty) > 10 else "")
        log.append(f"drop-empty-frames: {len(empty)} raw frame(s) with no body ({shown})")
    pos = np.cumsum(present) - 1
    return np.where(present, pos, -1), int(present.sum())


def _keep_frames(joints: np.ndarray, written: np.ndarray, multi_body: bool, mode: str,
                 log: list[str]) -> np.ndarray:
    """Rule 4b: which output frames stay. ``reference``, for files with more than one body: drop every
    frame whose kept actors' coordinates sum to 0 (absent everywhere; the reference's zero-filled
    ``sum == 0`` test, computed the same way). ``keep-gaps``: trim frames without any actor from both
    ends only, keeping inner ones as NaN."""
    present = written.any(axis=0)
    if mode == "keep-gaps":
        idx = np.flatnonzero(present)
        keep = np.zeros_like(present)
        if len(idx):
            keep[idx[0]: idx[-1] + 1] = True
        return keep
    if not multi_body:
        return np.ones_like(present)
    flat = np.where(written[:, :, None, None], joints, 0).astype(np.float32)
    keep = flat.transpose(1, 0, 2, 3).reshape(joints.shape[1], -1).sum(axis=1) != 0
    if not keep.all():
        log.append(f"drop-absent-frames: {int((~keep).sum())} frame(s) where no kept actor is present")
    return keep


def denoise_sequence(n_frames: int, bodies: list[RawBody], mode: str = "reference"
                     ) -> tuple[np.ndarray, list[str], list[list[str]]]:
    """Bodies of one file -> (joints (M <= 2, T, 25, 3) with NaN where an actor is absent, log, body ids
    per actor). ``mode`` is ``reference`` (the field's scripts, see :func:`denoise_bodies`) or
    ``keep-gaps`` (the same bodies and actors, at their true frame positions)."""
    if mode not in DENOISE_MODES:
        raise ValueError(f"unknown NTU denoising {mode!r}; choose one of {', '.join(DENOISE_MODES)}")
    ranked, log = denoise_bodies(bodies)
    frame_pos, length = _frame_axis(n_frames, bodies, mode, log)
    positions = [_positions(b, frame_pos, mode, log) for b in ranked]
    actors = assign_actors(ranked, [(int(p[0]), int(p[-1])) for p in positions], log)
    slots = 2 if len(ranked) > 1 else 1  # the reference's 150-wide rows whenever two bodies are left
    joints = np.full((slots, length, 25, 3), np.nan, dtype=np.float32)
    written = np.zeros((slots, length), dtype=bool)
    for a, members in enumerate(actors):
        for i in members:  # in motion order: a later body overwrites a shared frame
            joints[a, positions[i]] = np.stack(ranked[i].xyz)
            written[a, positions[i]] = True
    keep = _keep_frames(joints, written, len(bodies) > 1, mode, log)
    joints, written = joints[:, keep], written[:, keep]
    used = [bool(u) for u in np.asarray(written.any(axis=1), dtype=bool)]
    ids = [[ranked[i].body_id for i in members] for a, members in enumerate(actors) if used[a]]
    return joints[np.asarray(used, dtype=bool)], log, ids


@register_reader("ntu", lambda p: p.suffix == ".skeleton")
def read_ntu(path: Path, denoise: str = "reference") -> SkeletonSequence:
    """Read and denoise one NTU ``.skeleton`` file -> (M <= 2, T, 25, 3), NaN where an actor is absent.

    ``denoise="reference"`` (the default) gives the frames, actors and actor order of the field's
    preprocessing scripts; ``"keep-gaps"`` keeps the same actors at their true frame positions. Every
    decision is listed in ``meta["denoise"]``; ``meta["actors"]`` holds the body ids of each actor.
    """
    n_frames, bodies = parse_ntu_skeleton(path)
    if n_frames == 0 or not bodies:
        raise ReaderError(path, f"no skeleton data ({n_frames} frames, {len(bodies)} bodies)")
    joints, log, actors = denoise_sequence(n_frames, bodies, denoise)
    if joints.shape[1] == 0:
        raise ReaderError(path, f"no frame left after denoising ({n_frames} raw frames)")
    meta: dict = {"source": str(path), "bodies_raw": len(bodies), "frames_raw": n_frames,
                  "denoise_mode": denoise, "denoise": log, "actors": actors}
    parsed = parse_ntu_name(Path(path).name)
    if parsed:
        meta.update(parsed)
        meta["label"] = parsed["action"] - 1
        meta["view"] = parsed["camera"]
    return SkeletonSequence(joints, format="ntu25", fps=30.0, meta=meta)


#: the 120 NTU RGB+D action names (A001..A120; NTU-60 is the first 60)
NTU_ACTIONS = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing",
    "tear up paper", "wear jacket", "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses",
    "take off glasses", "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving",
    "kicking something", "reach into pocket", "hopping (one foot jumping)", "jump up",
    "make a phone call/answer phone", "playing with phone/tablet", "typing on a keyboard",
    "pointing to something with finger", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute",
    "put the palms together", "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition", "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person", "kicking other person", "pushing other person",
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball", "tennis bat swing",
    "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up", "thumb down", "make ok sign",
    "make victory sign", "staple book", "counting money", "cutting nails", "cutting paper (using scissors)",
    "snapping fingers", "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (playing rock-paper-scissors)",
)
