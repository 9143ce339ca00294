"""Reader plumbing: the error type every reader raises, and the registry that picks a reader per file."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from ..skeleton import SkeletonSequence

__all__ = ["ReaderError", "register_reader", "read_sequence", "reader_for", "READERS", "read_bytes", "read_text"]


class ReaderError(ValueError):
    """A file could not be parsed; the message names the file, the line/frame and what was expected."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


def read_bytes(path: Path, max_bytes: int | None = None, what: str = "skeleton file") -> bytes:
    """The file's bytes; a ReaderError when it cannot be read or is larger than ``max_bytes``
    (checked before reading, so a huge or hostile file is never loaded)."""
    try:
        if max_bytes is not None:
            size = path.stat().st_size
            if size > max_bytes:
                raise ReaderError(path, f"file is {size} bytes; a {what} is at most {max_bytes} bytes")
        return path.read_bytes()
    except OSError as e:
        raise ReaderError(path, f"cannot read file ({e.strerror})") from None


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
    if not p.is_file():
        raise ReaderError(p, "no such file")
    _, fn = reader_for(p, kind)
    if fmt is not None and "format" in inspect.signature(fn).parameters:
        return fn(p, format=fmt)  # readers that map joints by name (BVH, AMC) take the format
    seq = fn(p)
    if fmt is not None:
        seq.format = fmt
    return seq
