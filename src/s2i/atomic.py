"""Atomic file writes: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


def _default_mode() -> int:
    """0o666 minus the process umask: the mode open() would give a new file (mkstemp gives 0o600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    On any error the temporary file is removed, so a crash never leaves a half-written output; an error of
    the file system names ``target``, never the temporary file.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    except OSError as e:
        raise _naming(e, target) from None
    os.close(fd)
    try:
        yield Path(tmp)
        if Path(tmp).exists():
            os.chmod(tmp, _default_mode())
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(e, target) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _naming(e: OSError, target: Path) -> OSError:
    """The same error naming the user's ``target`` instead of the temporary file beside it."""
    if e.filename is None or str(e.filename) == str(target) or e.errno is None:
        return e
    if not Path(str(e.filename)).name.startswith(f".{target.name}."):
        return e
    return type(e)(e.errno, e.strerror, str(target))

