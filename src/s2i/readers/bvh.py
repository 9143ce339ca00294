"""Biovision BVH motion capture files -> joint positions by forward kinematics.

HIERARCHY: ROOT / JOINT blocks with OFFSET and CHANNELS (any order of X/Y/Z position and rotation
channels, rotations in degrees), End Site blocks (not output). MOTION: "Frames: N", "Frame Time: dt",
then one line of sum(channels) numbers per frame. A joint's local rotation is the product of its
rotation channels in the listed order acting on column vectors (CHANNELS Zrotation Yrotation
Xrotation -> R = Rz @ Ry @ Rx); global = parent_global @ local; position = parent position +
parent_global @ (OFFSET + position channels). Axes and units are the file's: the CMU "cgspeed"
conversion is Y up, right-handed, in ASF length units (1 unit = 1/0.45 inch; pass
``scale=CMU_UNIT_TO_METRES`` for metres). Its first frame is a rest pose added by the converter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np

from ..formats import FormatSpec, FormatSpecError, get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, check_allocation, read_bytes, register_reader
from .kinematics import euler_matrix, forward_kinematics
from .text_frames import decode_text

__all__ = ["CMU_UNIT_TO_METRES", "BvhJoint", "BvhData", "parse_bvh", "bvh_positions", "read_bvh"]

#: CMU ASF/BVH length unit in metres: 1 unit = (1 / 0.45) inch.
CMU_UNIT_TO_METRES = 0.0254 / 0.45
CMU_NAME = re.compile(r"(\d+)_(\d+)")
_CHANNELS = {f"{a}{kind}": (kind, a.lower()) for a in "XYZ" for kind in ("position", "rotation")}
_CHANNELS_LOWER = {k.lower(): k for k in _CHANNELS}  # case-insensitive name -> canonical
_UINT = re.compile(r"[0-9]+")
MAX_JOINTS = 1024
_FRAMES = re.compile(r"Frames\s*:\s*(\S+)", re.IGNORECASE)
_FRAME_TIME = re.compile(r"Frame\s+Time\s*:\s*(\S+)", re.IGNORECASE)


@dataclass
class BvhJoint:
    """One ROOT/JOINT: parent index (-1 for a root), OFFSET, channel names and its first column."""

    name: str
    parent: int
    line: int
    offset: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    column: int = 0
    end_sites: list[np.ndarray] = field(default_factory=list)


@dataclass
class BvhData:
    """A parsed BVH file: joints in file order, frame time, and the (T, channels) motion in degrees."""

    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]


class _Tokens:
    """Whitespace tokens of a line range, with the 1-based line number of each."""

    def __init__(self, path: Path, lines: list[str], stop: int) -> None:
        self.path, self.lines, self.stop = path, lines, stop
        self.li, self.ti = -1, 0
        self.toks: list[str] = []

    def _fill(self) -> bool:
        while self.ti >= len(self.toks):
            self.li += 1
            if self.li >= self.stop:
                return False
            self.toks, self.ti = self.lines[self.li].split(), 0
        return True

    @property
    def line(self) -> int:
        """1-based number of the line of the last token read (the last line once exhausted)."""
        return max(min(self.li, self.stop - 1), 0) + 1

    def next(self, what: str) -> str:
        if not self._fill():
            raise ReaderError(self.path, f"file ends inside the HIERARCHY, expected {what}", self.line)
        tok = self.toks[self.ti]
        self.ti += 1
        return tok

    def rest_of_line(self) -> list[str]:
        rest = self.toks[self.ti:]
        self.ti = len(self.toks)
        return rest

    def floats(self, n: int, what: str) -> np.ndarray:
        out = []
        for _ in range(n):
            tok = self.next(what)
            try:
                v = float(tok)
            except ValueError:
                raise ReaderError(self.path, f"expected {what}, got {tok[:40]!r}", self.line) from None
            if not np.isfinite(v):
                raise ReaderError(self.path, f"non-finite value {tok[:40]!r} in {what}", self.line)
            out.append(v)
        return np.array(out)


def _read_lines(path: Path) -> list[str]:
    """UTF-8, or Latin-1 / cp1252 (accented comments and names); binary data is an error."""
    return decode_text(path, read_bytes(path, what="text file"), "text file").split("\n")


def _end_id(k: int) -> int:
    """End Site number <-> negative block id (an involution: -2, -3, ... <-> 0, 1, ...)."""
    return -k - 2


def _parse_hierarchy(path: Path, lines: list[str], stop: int) -> list[BvhJoint]:
    tk = _Tokens(path, lines, stop)
    first = tk.next("HIERARCHY")
    if first.upper() != "HIERARCHY":
        raise ReaderError(path, f"expected 'HIERARCHY' to start a BVH file, got {first[:40]!r}", tk.line)
    return _Hierarchy(path, tk).parse()


class _Hierarchy:
    """The state of a HIERARCHY parse: joints so far, open blocks, End Site offsets."""

    def __init__(self, path: Path, tk: _Tokens) -> None:
        self.path, self.tk = path, tk
        self.joints: list[BvhJoint] = []
        self.names: set[str] = set()
        self.stack: list[int] = []  # open blocks: joint index, or an End Site's block id (< 0)
        self.end_offsets: list[np.ndarray | None] = []  # End Site k is block id _end_id(k) < 0
        self.pending: int | None = None  # a ROOT/JOINT/End Site header waiting for its "{"

    def parse(self) -> list[BvhJoint]:
        path, tk = self.path, self.tk
        handlers = {"ROOT": self._joint, "JOINT": self._joint, "END": self._end_site, "OFFSET": self._offset,
                    "CHANNELS": self._channels, "}": self._close}
        while tk._fill():
            tok = tk.next("a keyword")
            line = tk.line
            if self.pending is not None and tok != "{":
                raise ReaderError(path, f"expected '{{' after the joint header, got {tok[:40]!r}", line)
            if tok == "{":
                if self.pending is None:
                    raise ReaderError(path, "unexpected '{' (no ROOT, JOINT or End Site before it)", line)
                self._open()
                continue
            handler = handlers.get(tok.upper())
            if handler is None:
                raise ReaderError(path, f"unknown keyword {tok[:40]!r} in the HIERARCHY (expected ROOT, JOINT,"
                                  " End Site, OFFSET, CHANNELS, braces or MOTION)", line)
            handler(tok, line)
        if self.pending is not None or self.stack:
            raise ReaderError(path, "file ends inside an unclosed joint block (missing '}')", tk.line)
        if not self.joints:
            raise ReaderError(path, "HIERARCHY has no ROOT joint", tk.line)
        col = 0
        for j in self.joints:
            j.column = col
            col += len(j.channels)
        return self.joints

    def _open(self) -> None:
        assert self.pending is not None
        self.stack.append(self.pending)
        self.pending = None

    def _joint(self, tok: str, line: int) -> None:
        path, stack = self.path, self.stack
        key = tok.upper()
        if key == "ROOT" and stack:
            raise ReaderError(path, "ROOT inside another joint's block", line)
        if key == "JOINT" and not stack:
            raise ReaderError(path, "JOINT outside any ROOT block", line)
        if stack and stack[-1] < 0:
            raise ReaderError(path, "JOINT inside an End Site block", line)
        rest = self.tk.rest_of_line()
        brace = bool(rest) and rest[-1] == "{"
        name = " ".join(rest[:-1] if brace else rest)
        if not name:
            raise ReaderError(path, f"{tok} without a joint name", line)
        if name in self.names:
            raise ReaderError(path, f"joint name {name!r} is used twice", line)
        self.names.add(name)
        self.joints.append(BvhJoint(name, stack[-1] if stack else -1, line))
        self.pending = len(self.joints) - 1
        if brace:
            self._open()

    def _end_site(self, tok: str, line: int) -> None:
        rest = self.tk.rest_of_line()
        if not rest or rest[0].upper() != "SITE" or len(rest) > 2 or (len(rest) == 2 and rest[1] != "{"):
            raise ReaderError(self.path, f"expected 'End Site', got {' '.join([tok, *rest])[:60]!r}", line)
        if not self.stack or self.stack[-1] < 0:
            raise ReaderError(self.path, "End Site outside a joint block", line)
        self.end_offsets.append(None)
        self.pending = _end_id(len(self.end_offsets) - 1)
        if len(rest) == 2:
            self._open()

    def _offset(self, tok: str, line: int) -> None:
        if not self.stack:
            raise ReaderError(self.path, "OFFSET outside a joint block", line)
        off = self.tk.floats(3, "3 OFFSET numbers")
        top = self.stack[-1]
        if top < 0:
            self.end_offsets[_end_id(top)] = off
            return
        if self.joints[top].offset is not None:
            raise ReaderError(self.path, f"second OFFSET for joint {self.joints[top].name!r}", line)
        self.joints[top].offset = off

    def _channels(self, tok: str, line: int) -> None:
        path, tk = self.path, self.tk
        if not self.stack or self.stack[-1] < 0:
            raise ReaderError(path, "CHANNELS outside a ROOT/JOINT block", line)
        j = self.joints[self.stack[-1]]
        if j.channels:
            raise ReaderError(path, f"second CHANNELS line for joint {j.name!r}", line)
        n_tok = tk.next("the channel count")
        if not _UINT.fullmatch(n_tok) or int(n_tok) > 6:
            raise ReaderError(path, f"channel count must be an integer 0..6, got {n_tok[:40]!r}", line)
        chans: list[str] = []
        for _ in range(int(n_tok)):
            c = tk.next("a channel name")
            if c.lower() not in _CHANNELS_LOWER:
                raise ReaderError(path, f"unknown channel {c[:40]!r}; expected one of"
                                  f" {', '.join(_CHANNELS)}", tk.line)
            canon = _CHANNELS_LOWER[c.lower()]
            if canon in chans:
                raise ReaderError(path, f"channel {canon} listed twice for joint {j.name!r}", tk.line)
            chans.append(canon)
        j.channels = tuple(chans)

    def _close(self, tok: str, line: int) -> None:
        if not self.stack:
            raise ReaderError(self.path, "unbalanced '}'", line)
        top = self.stack.pop()
        if top >= 0:
            if self.joints[top].offset is None:
                raise ReaderError(self.path, f"joint {self.joints[top].name!r} has no OFFSET", self.joints[top].line)
            return
        end_off = self.end_offsets[_end_id(top)]
        if end_off is None:
            raise ReaderError(self.path, "End Site has no OFFSET", line)
        if self.stack:
            self.joints[self.stack[-1]].end_sites.append(end_off)


def _check_size(p: Path, n_joints: int, n_frames: int) -> None:
    """Refuse files whose declared size would exhaust memory, before parsing the motion."""
    if n_joints > MAX_JOINTS:  # real rigs have <= ~150; joints without channels cost memory, not file bytes
        raise ReaderError(p, f"the HIERARCHY declares {n_joints} joints; a BVH skeleton has at most {MAX_JOINTS}")
    # forward kinematics holds ~4 (T, J, 3, 3) float64 arrays: bound it by the per-file cap before parsing
    check_allocation(p, n_frames * max(n_joints, 1) * 4 * 9 * 8, f"{n_frames} frames x {n_joints} joints")


def _header(p: Path, lines: list[str], i: int, rx: re.Pattern, what: str) -> tuple[str, int]:
    """The value of the first non-blank line from ``i`` on, which must read ``what: value``; and its index."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise ReaderError(p, f"file ends after MOTION, expected '{what}: ...'", len(lines))
    m = rx.fullmatch(lines[i].strip())
    if not m:
        raise ReaderError(p, f"expected '{what}: ...', got {lines[i].strip()[:60]!r}", i + 1)
    return m.group(1), i


def _frame_count(p: Path, lines: list[str], motion_at: int) -> tuple[int, int]:
    """(the 'Frames:' count, its line index)."""
    n_tok, fi = _header(p, lines, motion_at + 1, _FRAMES, "Frames")
    if not _UINT.fullmatch(n_tok) or int(n_tok) < 1:
        raise ReaderError(p, f"frame count must be a positive integer, got {n_tok[:40]!r}", fi + 1)
    return int(n_tok), fi


def _frame_time(p: Path, lines: list[str], fi: int) -> tuple[float, int]:
    """(the 'Frame Time:' in seconds, its line index)."""
    dt_tok, ti = _header(p, lines, fi + 1, _FRAME_TIME, "Frame Time")
    try:
        dt = float(dt_tok)
    except ValueError:
        dt = float("nan")
    if not (np.isfinite(dt) and dt > 0 and np.isfinite(1.0 / dt)):
        raise ReaderError(p, f"Frame Time must be a positive number of seconds, got {dt_tok[:40]!r}", ti + 1)
    return dt, ti


def _frame_lines(p: Path, lines: list[str], ti: int, fi: int, n_frames: int) -> tuple[list[str], list[int]]:
    """The ``n_frames`` non-blank lines after 'Frame Time' and their 1-based numbers (kept for errors)."""
    line_no = [i + 1 for i in range(ti + 1, len(lines)) if lines[i].strip()]
    data = [lines[i - 1] for i in line_no]
    if n_frames > len(data):
        raise ReaderError(p, f"file ends after {len(data)} of the {n_frames} frames declared on line"
                          f" {fi + 1} (truncated?)", line_no[-1] if line_no else ti + 1)
    if len(data) > n_frames:
        raise ReaderError(p, f"{len(data)} motion lines but 'Frames: {n_frames}' (line {fi + 1})",
                          line_no[n_frames])
    return data, line_no


def _motion_values(p: Path, data: list[str], line_no: list[int], n_ch: int) -> np.ndarray:
    """(T, n_ch) finite float64 motion from the frame lines, each holding ``n_ch`` numbers."""
    split = list(map(str.split, data))
    counts = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    bad = np.flatnonzero(counts != n_ch)
    if bad.size:
        k = int(bad[0])
        raise ReaderError(p, f"frame {k}: expected {n_ch} channel values (the HIERARCHY's channel count),"
                          f" got {counts[k]}", line_no[k])
    try:
        vals = np.array(list(chain.from_iterable(split)), dtype=np.float64)
    except ValueError:
        k = next(i for i, toks in enumerate(split) if not _all_floats(toks))
        raise ReaderError(p, f"frame {k}: motion values must be numbers", line_no[k]) from None
    motion = vals.reshape(len(data), n_ch)
    finite = np.isfinite(motion).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise ReaderError(p, f"frame {k}: non-finite motion value", line_no[k])
    return motion


def parse_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file into its joint tree and (T, channels) motion; errors name file and line."""
    p = Path(path)
    lines = _read_lines(p)
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    joints = _parse_hierarchy(p, lines, len(lines) if motion_at is None else motion_at)
    if motion_at is None:
        raise ReaderError(p, "no MOTION section after the HIERARCHY", len(lines))
    n_ch = sum(len(j.channels) for j in joints)
    if n_ch == 0:
        raise ReaderError(p, "the HIERARCHY declares no channels, so there is no motion", motion_at + 1)
    n_frames, fi = _frame_count(p, lines, motion_at)
    _check_size(p, len(joints), n_frames)
    dt, ti = _frame_time(p, lines, fi)
    data, line_no = _frame_lines(p, lines, ti, fi, n_frames)
    return BvhData(joints, dt, _motion_values(p, data, line_no, n_ch))


def _all_floats(toks: list[str]) -> bool:
    try:
        np.array(toks, dtype=np.float64)
        return True
    except ValueError:
        return False


def _offset(j: BvhJoint) -> np.ndarray:
    if j.offset is None:  # the parser rejects such joints; this guards hand-built BvhData
        raise ValueError(f"joint {j.name!r} has no OFFSET")
    return j.offset


def bvh_positions(data: BvhData) -> np.ndarray:
    """Forward kinematics: (T, J, 3) float64 positions of the ROOT/JOINTs in file order."""
    t, n = data.motion.shape[0], len(data.joints)
    local = np.broadcast_to(np.eye(3), (t, n, 3, 3)).copy()
    trans = np.zeros((t, n, 3))
    offsets = np.stack([_offset(j) for j in data.joints])
    for k, j in enumerate(data.joints):
        rot_axes, rot_cols = "", []
        for c, ch in enumerate(j.channels):
            kind, axis = _CHANNELS[ch]
            if kind == "rotation":
                rot_axes += axis
                rot_cols.append(j.column + c)
            else:
                trans[:, k, "xyz".index(axis)] = data.motion[:, j.column + c]
        if rot_axes:
            local[:, k] = euler_matrix(np.deg2rad(data.motion[:, rot_cols]), rot_axes)
    return forward_kinematics([j.parent for j in data.joints], offsets, local, trans)


def _joint_order(p: Path, spec: FormatSpec, index: dict[str, int]) -> list[int]:
    """The BVH joint of each spec joint, by name (or ``source_names``); a missing one is an error."""
    if spec.dims != 3:
        raise ReaderError(p, f"format {spec.name!r} is {spec.dims}D; BVH gives 3D positions")
    order, missing = [], []
    for j in spec.joints:
        names = spec.names_in_file(j)
        found = next((index[n] for n in names if n in index), None)
        if found is None:
            missing.append(j + (f" (as {'/'.join(names)})" if names != (j,) else ""))
        order.append(found if found is not None else -1)
    if missing:
        raise ReaderError(p, f"format {spec.name!r} names joint(s) {', '.join(missing[:8])} that this BVH lacks"
                          f" (BVH joints: {', '.join(index)}); name them in the spec's joints or source_names")
    return order


@register_reader("bvh", lambda p: p.suffix.lower() == ".bvh")
def read_bvh(path: str | Path, format: str | FormatSpec | None = None,
             scale: float = 1.0) -> SkeletonSequence:
    """Read a BVH file -> (1, T, J, 3) joint positions (End Sites dropped), fps = 1 / Frame Time.

    format: None accepts the CMU hierarchy (-> "cmu31"); otherwise a format name or YAML spec path
    whose joints are all BVH joint names (output follows the spec's order; other joints are dropped).
    scale: multiplies all positions (file units -> your units; CMU files: CMU_UNIT_TO_METRES).
    """
    p = Path(path)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    data = parse_bvh(p)
    names = data.names
    index = {n: i for i, n in enumerate(names)}
    if format is None:
        spec = get_format("cmu31")
        if set(spec.joints) != set(names):
            raise ReaderError(p, f"BVH joints ({len(names)}: {', '.join(names[:6])}, ...) are not the CMU"
                              " cmu31 hierarchy; a generic BVH has no body-part partition, so pass"
                              " format= a format name or YAML spec whose joints are named like the BVH's")
    else:
        try:
            spec = get_format(format)
        except FormatSpecError as e:
            raise ReaderError(p, f"cannot use format {format!r}: {e}") from None
    order = np.array(_joint_order(p, spec, index))
    with np.errstate(all="ignore"):  # absurd offsets/values overflow to inf: caught just below
        joints = (bvh_positions(data)[:, order] * scale).astype(np.float32)[None]
    if not np.isfinite(joints).all():
        k = int(np.argwhere(~np.isfinite(joints))[0][1])
        raise ReaderError(p, f"frame {k}: joint positions overflow (values too large)")
    fps = 1.0 / data.frame_time
    if abs(fps - round(fps)) < 1e-3 * fps:
        fps = float(round(fps))
    base_units = spec.units or "BVH file units"
    units = base_units if scale == 1.0 else (
        "m" if scale == CMU_UNIT_TO_METRES and spec.name == "cmu31" else f"({base_units}) x {scale:g}")
    meta: dict = {"source": str(p), "units": units, "scale": float(scale), "frame_time": data.frame_time,
                  "bvh_joints": names}
    used = {names[i] for i in order}
    dropped = [n for n in names if n not in used]
    if dropped:
        meta["dropped_joints"] = dropped
    m = CMU_NAME.fullmatch(p.stem)
    if m:
        meta["subject"], meta["trial"] = int(m.group(1)), int(m.group(2))
    return SkeletonSequence(joints, format=spec.name, fps=fps, meta=meta)
