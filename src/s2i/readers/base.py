"""Reader plumbing: the error type every reader raises, and the registry that picks a reader per file."""

from __future__ import annotations

import inspect
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..skeleton import SkeletonSequence

__all__ = ["ReaderError", "register_reader", "read_sequence", "reader_for", "READERS", "read_bytes", "read_text",
           "read_json", "check_regular_file", "check_allocation", "max_file_bytes", "max_decompressed_bytes"]

#: per-file caps (MiB), overridable with the environment variables of the same name (read at each use,
#: so worker processes see what the parent set): bytes read from one file, and bytes one file may
#: expand to (decompressed arrays and variables, arrays a reader allocates from what a header declares)
S2I_MAX_FILE_MB = 1024
S2I_MAX_DECOMPRESSED_MB = 2048


def _cap(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        mb = float(raw) if raw else float(default)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} must be a number of MiB") from None
    return int(mb * 2**20)


def max_file_bytes() -> int:
    """Most bytes read from one input file ($S2I_MAX_FILE_MB, default 1024 MiB)."""
    return _cap("S2I_MAX_FILE_MB", S2I_MAX_FILE_MB)


def max_decompressed_bytes() -> int:
    """Most bytes one input file may expand to in memory ($S2I_MAX_DECOMPRESSED_MB, default 2048 MiB)."""
    return _cap("S2I_MAX_DECOMPRESSED_MB", S2I_MAX_DECOMPRESSED_MB)


def check_allocation(path: Path, nbytes: int, what: str) -> None:
    """Refuse to allocate ``nbytes`` for ``what`` of file ``path`` beyond the per-file expansion cap."""
    cap = max_decompressed_bytes()
    if nbytes > cap:
        raise ReaderError(path, f"{what} would need {nbytes / 2**20:.0f} MiB, more than the per-file cap of"
                          f" {cap / 2**20:.0f} MiB (set S2I_MAX_DECOMPRESSED_MB to raise it)")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: Path) -> os.stat_result:
    """stat of ``path`` after resolving links; a ReaderError unless it is a regular file."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ReaderError(path, f"cannot read file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ReaderError(path, f"is {_kind(st.st_mode)}, not a regular file; only regular files are read")
    return st


class ReaderError(ValueError):
    """A file could not be parsed; the message names the file, the line/frame and what was expected."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


def read_bytes(path: Path, max_bytes: int | None = None, what: str = "skeleton file") -> bytes:
    """The file's bytes; a ReaderError when it is not a regular file (after resolving links: FIFOs and
    devices would hang or never end), cannot be read, or holds more than ``max_bytes`` (default and
    upper bound: :func:`max_file_bytes`). The bytes actually read are counted, not the reported size."""
    cap = max_file_bytes() if max_bytes is None else min(max_bytes, max_file_bytes())
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except OSError as e:
        raise ReaderError(path, f"cannot read file ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReaderError(path, f"is {_kind(st.st_mode)}, not a regular file; only regular files are read")
        if st.st_size > cap:
            raise ReaderError(path, f"file is {st.st_size} bytes; a {what} is at most {cap} bytes")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 24, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise ReaderError(path, f"file holds more than {cap} bytes; a {what} is at most {cap} bytes")
        return b"".join(chunks)
    except OSError as e:
        raise ReaderError(path, f"cannot read file ({e.strerror})") from None
    finally:
        os.close(fd)


def read_text(path: Path, max_bytes: int | None = None, what: str = "skeleton file",
              encoding: str = "utf-8") -> str:
    """The file decoded as text; undecodable or NUL bytes give a ReaderError naming offset and line."""
    raw = read_bytes(path, max_bytes, what)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        kind = "non-ASCII" if encoding == "ascii" else f"invalid {encoding.upper()}"
        raise ReaderError(path, f"not a valid {what} ({kind} byte at offset {e.start})", line) from None
    if "\x00" in text:
        at = text.index("\x00")
        raise ReaderError(path, f"not a valid {what} (NUL byte at offset {at})", text.count("\n", 0, at) + 1)
    return text


def read_json(path: Path, max_bytes: int | None = None, what: str = "JSON file") -> Any:
    """The file parsed as JSON; invalid, too deeply nested or out-of-range JSON gives a ReaderError
    naming the file (and the line of a syntax error)."""
    text = read_text(path, max_bytes, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ReaderError(path, f"invalid JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except RecursionError:
        raise ReaderError(path, "invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise ReaderError(path, f"invalid JSON: {e}") from None


Reader = Callable[..., SkeletonSequence]
#: name -> (reader function, file-name test)
READERS: dict[str, tuple[Reader, Callable[[Path], bool]]] = {}


def register_reader(name: str, matches: Callable[[Path], bool]) -> Callable[[Reader], Reader]:
    """Decorator: register a reader under ``name`` for files where ``matches(path)`` is true."""
    def deco(fn: Reader) -> Reader:
        READERS[name] = (fn, matches)
        return fn
    return deco


def reader_for(path: Path, kind: str | None = None) -> tuple[str, Reader]:
    """The reader named ``kind``, or the first whose file test accepts ``path``."""
    if kind is not None:
        if kind not in READERS:
            raise ReaderError(path, f"unknown reader {kind!r}; known: {', '.join(sorted(READERS))}")
        return kind, READERS[kind][0]
    for name, (fn, matches) in READERS.items():
        if matches(path):
            return name, fn
    raise ReaderError(path, f"no reader recognises this file; known readers: {', '.join(sorted(READERS))}")


def read_sequence(path: str | Path, kind: str | None = None, fmt: str | None = None) -> SkeletonSequence:
    """Read one skeleton file with the matching reader (or ``kind``); ``fmt`` overrides its format."""
    p = Path(path)
    if not os.path.lexists(p):
        raise ReaderError(p, "no such file")
    check_regular_file(p)
    _, fn = reader_for(p, kind)
    if fmt is not None and "format" in inspect.signature(fn).parameters:
        return fn(p, format=fmt)  # readers that map joints by name (BVH, AMC) take the format
    seq = fn(p)
    if fmt is not None:
        seq.format = fmt
    return seq
