"""PKU-MMD phase I and II untrimmed skeleton files, their action-instance labels and official splits.

Skeleton file (``0160-L.txt`` in phase I, ``A10N08-L.txt`` in phase II; the letter is the view L/M/R):
one line per frame, 150 numbers = 2 bodies x 25 Kinect v2 joints (NTU order) x (x, y, z) in metres,
30 fps. A body whose 75 numbers are all 0 is absent in that frame; any joint whose x, y, z are all
exactly 0 becomes NaN, and a body absent in every frame is dropped.
Label file (same name under ``Label/``): one instance per line ``label,start,end,confidence``,
label 1..51, frames numbering the skeleton-file lines. Convention here (PKU's own tools): frames are
1-based and inclusive, so an instance covers lines start..end and has end - start + 1 frames.
Split files (``cross-subject.txt`` / ``cross-view.txt``): a "Training videos:" header, the ids,
a "Validataion videos:" (sic) header, the ids; the validation list is the official test set.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_text, register_reader

__all__ = [
    "PKU_ACTIONS", "PKU_TWO_PERSON", "PKU_NAME", "parse_pku_name", "read_pku_untrimmed",
    "read_pku_labels", "pku_segments",
]

log = logging.getLogger(__name__)

#: phase I ``NNNN-V`` or phase II ``AxxNyy-V`` (V = view L/M/R)
PKU_NAME = re.compile(r"(?:(\d{4})|A(\d{2})N(\d{2}))-([LMR])")
#: the 51 action names of Actions.xlsx, index = 0-based label (label file id - 1)
PKU_ACTIONS: tuple[str, ...] = (
    "bow", "brushing hair", "brushing teeth", "check time (from watch)", "cheer up", "clapping",
    "cross hands in front (say stop)", "drink water", "drop", "eat meal/snack", "falling",
    "giving something to other person", "hand waving", "handshaking", "hopping (one foot jumping)",
    "hugging other person", "jump up", "kicking other person", "kicking something",
    "make a phone call/answer phone", "pat on back of other person", "pickup",
    "playing with phone/tablet", "point finger at the other person", "pointing to something with finger",
    "punching/slapping other person", "pushing other person", "put on a hat/cap",
    "put something inside pocket", "reading", "rub two hands together", "salute", "sitting down",
    "standing up", "take off a hat/cap", "take off glasses", "take off jacket",
    "take out something from pocket", "taking a selfie", "tear up paper", "throw",
    "touch back (backache)", "touch chest (stomachache/heart pain)", "touch head (headache)",
    "touch neck (neckache)", "typing on a keyboard", "use a fan (with hand or paper)/feeling warm",
    "wear jacket", "wear on glasses", "wipe face", "writing",
)
#: phase I two-person actions, 0-based labels
PKU_TWO_PERSON: frozenset[int] = frozenset(a - 1 for a in (12, 14, 16, 18, 21, 24, 26, 27))
NUM_VALUES = 150  # 2 bodies x 25 joints x xyz
FPS = 30.0
MAX_BYTES = 256 * 2**20  # real files are 1-10 MB
MAX_LABEL_BYTES = 4 * 2**20
MAX_SPLIT_BYTES = 16 * 2**20


def parse_pku_name(name: str) -> dict[str, int | str] | None:
    """``0160-L`` -> {video, view, phase: 1, number: 160}; ``A10N08-L`` -> {video, view, phase: 2,
    a_number: 10, n_number: 8}; None when the name is not a PKU-MMD id. No subject: phase I numbers map
    to subjects only through the split lists, and phase II's A/N parts have no official meaning here."""
    m = PKU_NAME.fullmatch(name)
    if not m:
        return None
    num, a, n, view = m.groups()
    out: dict[str, int | str] = {"video": m.group(0), "view": view}
    if num is not None:
        out.update(phase=1, number=int(num))
    else:
        out.update(phase=2, a_number=int(a), n_number=int(n))
    return out


def _looks_like_skeleton(path: Path) -> bool:
    """Label files share the skeleton files' names; they hold commas, skeleton lines never do."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return True  # let the reader report the problem
    return b"," not in head


def _is_pku(path: Path) -> bool:
    return path.suffix == ".txt" and bool(PKU_NAME.fullmatch(path.stem)) and _looks_like_skeleton(path)


def _read_text(p: Path, limit: int, what: str) -> str:
    return read_text(p, limit, f"PKU-MMD {what}", encoding="ascii")


def _bad_number_line(lines: list[str]) -> int:
    for i, ln in enumerate(lines):
        try:
            [float(t) for t in ln.split()]
        except ValueError:
            return i
    return 0


@register_reader("pku-mmd", _is_pku)
def read_pku_untrimmed(path: Path) -> SkeletonSequence:
    """Read one untrimmed PKU-MMD skeleton file -> (M <= 2, T, 25, 3) ntu25, all frames kept so that
    label-file frame numbers index it (frame k of the file is ``joints[:, k - 1]``)."""
    p = Path(path)
    text = _read_text(p, MAX_BYTES, "skeleton file")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ReaderError(p, "empty file: no frame lines")
    counts = np.fromiter((len(ln.split()) for ln in lines), dtype=np.int64, count=len(lines))
    bad = np.flatnonzero(counts != NUM_VALUES)
    if bad.size:
        i = int(bad[0])
        hint = " (this looks like a label file: use read_pku_labels)" if "," in lines[i] else ""
        raise ReaderError(p, f"frame {i + 1}: expected {NUM_VALUES} numbers (2 bodies x 25 joints x xyz),"
                          f" got {counts[i]}{hint}", i + 1)
    try:
        vals = np.array(" ".join(lines).split(), dtype=np.float64)
    except ValueError:
        i = _bad_number_line(lines)
        raise ReaderError(p, f"frame {i + 1}: not a number in {lines[i].strip()[:60]!r}", i + 1) from None
    with np.errstate(over="ignore"):
        vals = vals.reshape(len(lines), 2, 25, 3).astype(np.float32)
    finite = np.isfinite(vals).all(axis=(1, 2, 3))
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise ReaderError(p, f"frame {i + 1}: non-finite coordinate (or beyond float32 range)", i + 1)
    joints = np.ascontiguousarray(vals.transpose(1, 0, 2, 3))  # (2, T, 25, 3)
    zero = (joints == 0).all(axis=-1)
    joints[zero] = np.nan
    present = ~zero.all(axis=(1, 2))  # (2,): body seen in at least one frame
    meta: dict = {"source": str(p), "bodies_present": int(present.sum())}
    if not present.any():
        meta["all_missing"] = True
        present[0] = True
    joints = joints[present]
    parsed = parse_pku_name(p.stem)
    if parsed:
        meta.update(parsed)
        meta["name"] = parsed["video"]
    return SkeletonSequence(joints, format="ntu25", fps=FPS, meta=meta)


def read_pku_labels(path: Path) -> list[tuple[int, int, int, int]]:
    """Read a label file -> [(label 1..51, start, end, confidence), ...] exactly as written (1-based)."""
    p = Path(path)
    text = _read_text(p, MAX_LABEL_BYTES, "label file")
    out: list[tuple[int, int, int, int]] = []
    for i, line in enumerate(text.split("\n"), start=1):
        s = line.strip()
        if not s:
            continue
        parts = [t.strip() for t in s.split(",")]
        if parts and parts[-1] == "":
            parts.pop()  # tolerate a trailing comma
        if len(parts) != 4 or not all(t.isdigit() for t in parts):
            raise ReaderError(p, f"expected 'label,start,end,confidence' (4 non-negative integers),"
                              f" got {s[:60]!r}", i)
        label, start, end, conf = (int(t) for t in parts)
        if not 1 <= label <= len(PKU_ACTIONS):
            raise ReaderError(p, f"label must be 1..{len(PKU_ACTIONS)}, got {label}", i)
        if end < start:
            raise ReaderError(p, f"end frame {end} is before start frame {start}", i)
        if end > 10_000_000:
            raise ReaderError(p, f"implausible end frame {end}", i)
        out.append((label, start, end, conf))
    if not out:
        raise ReaderError(p, "empty label file: no 'label,start,end,confidence' lines")
    return out


def pku_segments(skeleton_path: Path, label_path: Path,
                 skipped: list[str] | None = None) -> list[SkeletonSequence]:
    """Cut one sequence per labelled instance of an untrimmed file (frames start..end, 1-based inclusive).

    An instance reaching past the file is clipped to it (meta ``clipped``: True; phase II labels may
    start at frame 0); one with no frame inside the file is skipped, its reason logged and appended to
    ``skipped`` when a list is given. Bodies absent throughout a segment are dropped from it.
    meta: label (0-based), label_name, video, view, phase, name (``<video>_<k>``, k = instance index in
    the label file), segment_index, segment_start, segment_end (as in the label file), confidence.
    """
    full = read_pku_untrimmed(Path(skeleton_path))
    instances = read_pku_labels(Path(label_path))
    n_frames = full.num_frames
    video = str(full.meta.get("video", Path(skeleton_path).stem))
    out: list[SkeletonSequence] = []
    for k, (label, start, end, conf) in enumerate(instances):
        a, b = max(start, 1), min(end, n_frames)
        if a > b:
            reason = (f"{label_path}: instance {k} (label {label}, frames {start}..{end}) lies outside"
                      f" {skeleton_path} ({n_frames} frames); skipped")
            log.warning(reason)
            if skipped is not None:
                skipped.append(reason)
            continue
        joints = full.joints[:, a - 1: b]
        keep = ~np.isnan(joints).all(axis=(1, 2, 3))
        if not keep.any():
            keep[0] = True
        meta = {k2: v for k2, v in full.meta.items() if k2 not in ("bodies_present", "all_missing")}
        meta.update(
            name=f"{video}_{k:03d}", label=label - 1, label_name=PKU_ACTIONS[label - 1],
            segment_index=k, segment_start=start, segment_end=end, confidence=conf,
            label_source=str(label_path),
        )
        if (a, b) != (start, end):
            meta["clipped"] = True
        if not np.isfinite(joints).any():
            meta["all_missing"] = True
        out.append(SkeletonSequence(joints[keep].copy(), format=full.format, fps=full.fps, meta=meta))
    return out


