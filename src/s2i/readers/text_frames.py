"""Generic "one frame a line" text / CSV files (.csv, .tsv, .txt), in a format's joint order.

Each data line holds V x C numbers (joint 0 x, y[, z], joint 1 ...) in the order of the format's
``joints``, optionally preceded by a frame index (detected when a line has V x C + 1 values);
separated by whitespace, commas, semicolons or tabs. A first line that is not numeric is a header;
blank lines and lines starting with ``#`` are skipped. With a frame index:

- repeated indices (common in Kinect recordings) keep the first row; their number is in
  ``meta["duplicate_frames"]``;
- gaps in the indices are reported in ``meta["frame_gaps"]`` (``[after, before]`` pairs) and
  ``meta["missing_frames"]``; frames stay in file order, ``meta["first_frame"]`` / ``["last_frame"]``
  hold the index range, and :func:`frame_rows` maps the file's indices to rows (for segments).

Values of ``nan`` / empty fields are missing joints (NaN). Errors name the file, the line and what was
expected.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..formats import FormatSpec, FormatSpecError, get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, read_bytes, register_reader

__all__ = ["TEXT_SUFFIXES", "decode_text", "frame_rows", "read_text_frames"]

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
MAX_BYTES = 1 << 30
_SPLIT = re.compile(r"[,;\t ]+")


def decode_text(path: Path, raw: bytes, what: str) -> str:
    """UTF-8, else Latin-1 / cp1252 (accents in comments and names); NUL bytes or many control bytes
    mean binary data and give a clear error."""
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise ReaderError(path, f"not a valid {what} (NUL byte at offset {at}: binary data?)",
                          raw[:at].count(b"\n") + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    ctrl = sum(raw.count(bytes([b])) for b in range(1, 32) if b not in (9, 10, 13))
    if ctrl > max(8, len(raw) // 100):
        raise ReaderError(path, f"not a valid {what} ({ctrl} control bytes: binary data?)")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _spec(path: Path, format: str | FormatSpec | None) -> FormatSpec:
    if format is None:
        raise ReaderError(path, "a one-frame-a-line text file needs a format (--format NAME or YAML): the"
                                " joint order of its columns")
    try:
        return get_format(format)
    except FormatSpecError as e:
        raise ReaderError(path, f"cannot use format {format!r}: {e}") from None


def _parse_line(path: Path, line: str, n: int, width: int, indexed: bool | None) -> tuple[list[float], bool]:
    toks = [t for t in _SPLIT.split(line.strip()) if t != ""] if "," not in line else \
        [t.strip() for t in re.split(r"[,;]", line.strip())]
    if len(toks) not in (width, width + 1) or (indexed is not None and len(toks) != width + int(indexed)):
        want = f"{width + 1} (frame index + {width})" if indexed else str(width) if indexed is False else \
            f"{width} or {width + 1} (with a frame index)"
        raise ReaderError(path, f"expected {want} values (V x C in the format's joint order), got {len(toks)}", n)
    try:
        vals = [float(t) if t not in ("", "nan", "NaN") else float("nan") for t in toks]
    except ValueError:
        bad = next(t for t in toks if not _is_number(t))
        raise ReaderError(path, f"not a number: {bad[:40]!r}", n) from None
    return vals, len(toks) == width + 1


def _is_number(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return t in ("", "nan", "NaN")
    return True


@register_reader("text-frames", lambda p: p.suffix.lower() in TEXT_SUFFIXES)
def read_text_frames(path: str | Path, format: str | FormatSpec | None = None) -> SkeletonSequence:
    """Read a one-frame-a-line text/CSV file -> (1, T, V, C) in ``format`` (see the module doc)."""
    p = Path(path)
    spec = _spec(p, format)
    v, c = spec.num_joints, spec.dims
    text = decode_text(p, read_bytes(p, MAX_BYTES, "text file"), "text file")
    rows: list[list[float]] = []
    numbers: list[int] = []
    indexed: bool | None = None
    header: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not rows and header is None and not _is_number(_SPLIT.split(s.replace(",", " ").strip())[0]):
            header = s
            continue
        vals, indexed = _parse_line(p, s, n, v * c, indexed)
        rows.append(vals)
        numbers.append(n)
    if not rows:
        raise ReaderError(p, f"no frames: expected lines of {v * c} numbers ({v} joints x {c} of format"
                             f" {spec.name!r}), optionally preceded by a frame index")
    arr = np.asarray(rows, dtype=np.float64)
    meta: dict = {"source": str(p), "name": p.stem}
    if header is not None:
        meta["header"] = header[:200]
    if indexed:
        arr, numbers = _by_index(p, arr, numbers, meta)
    with np.errstate(all="ignore"):
        joints = arr.astype(np.float32).reshape(1, -1, v, c)
    bad = ~np.isfinite(joints) & ~np.isnan(joints)
    if bad.any():
        t = int(np.argwhere(bad)[0][1])
        raise ReaderError(p, "value out of range (infinite or beyond float32)", numbers[t])
    return SkeletonSequence(joints, format=spec.name, meta=meta)


def _by_index(p: Path, arr: np.ndarray, numbers: list[int], meta: dict) -> tuple[np.ndarray, list[int]]:
    """Split off the frame-index column: duplicates keep their first row, gaps are reported."""
    idx = arr[:, 0]
    if not (np.isfinite(idx).all() and (idx == np.round(idx)).all()):
        k = int(np.argwhere(~(np.isfinite(idx) & (idx == np.round(idx))))[0][0])
        raise ReaderError(p, f"frame index {arr[k, 0]!r} is not an integer", numbers[k])
    idx = idx.astype(np.int64)
    seen: set[int] = set()
    keep: list[int] = []
    for k, i in enumerate(idx):
        if int(i) in seen:
            continue
        if keep and i < idx[keep[-1]]:
            raise ReaderError(p, f"frame index {int(i)} after {int(idx[keep[-1]])}: indices must increase"
                                 " (repeats are allowed and dropped)", numbers[k])
        seen.add(int(i))
        keep.append(k)
    dup = len(idx) - len(keep)
    kept = idx[keep]
    steps = np.diff(kept)
    gaps = [[int(kept[k]), int(kept[k + 1])] for k in np.flatnonzero(steps > 1)]
    meta.update(first_frame=int(kept[0]), last_frame=int(kept[-1]), frame_index=kept.tolist(),
                duplicate_frames=dup, frame_gaps=gaps[:100], missing_frames=int((steps - 1).sum()))
    return arr[keep, 1:], [numbers[k] for k in keep]


def frame_rows(seq: SkeletonSequence, start: int, end: int) -> np.ndarray:
    """Rows of ``seq`` for the inclusive frame range ``start..end``: the file's own frame indices when it
    had an index column (``meta["frame_index"]``), else 1-based frame numbers."""
    index = seq.meta.get("frame_index")
    if index is None:
        return np.arange(max(start, 1) - 1, min(end, seq.num_frames))
    idx = np.asarray(index)
    return np.flatnonzero((idx >= start) & (idx <= end))
