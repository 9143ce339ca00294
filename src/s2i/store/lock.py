"""A lock file next to a store folder, so two runs never write or publish the same ``--out``.

``.NAME.lock`` beside ``NAME`` is created with ``O_CREAT | O_EXCL`` (atomic on local and NFSv3+ file
systems) and holds ``{"host", "pid", "time", "token"}`` of its owner. A lock is *stale* when its owner is
on this host and its process no longer exists, or (for another host, whose processes we cannot see)
when it has not been refreshed for :data:`STALE_AFTER_S` seconds; the owner refreshes it while it
works (:meth:`StoreLock.refresh`). A stale lock is taken over by renaming it aside first, so two runs
that both find it stale cannot both win.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .layout import StoreError

__all__ = ["STALE_AFTER_S", "StoreLock", "StoreLockError", "lock_path", "lock_is_stale", "read_lock"]

#: a lock of another host not refreshed for this long is considered abandoned (its run was killed)
STALE_AFTER_S = 600.0
HOST = socket.gethostname()


class StoreLockError(StoreError):
    """Another run holds the lock of a store folder."""


def lock_path(out: Path) -> Path:
    """The lock file of store folder ``out``: ``.NAME.lock`` in the same folder."""
    return out.parent / f".{out.name}.lock"


def read_lock(path: Path) -> dict[str, Any] | None:
    """The holder recorded in a lock file; None when it is gone; {} when unreadable (being written)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def lock_is_stale(path: Path, holder: dict[str, Any] | None = None, now: float | None = None) -> bool:
    """True when the lock at ``path`` is gone or its owner is dead (see the module docstring)."""
    holder = read_lock(path) if holder is None else holder
    if holder is None:
        return True
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return True
    pid = holder.get("pid")
    if holder.get("host") == HOST and isinstance(pid, int):
        return not _pid_alive(pid)
    return age > STALE_AFTER_S


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another run (lock file being written)"
    when = holder.get("time")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if isinstance(when, (int, float)) else "?"
    return f"host {holder.get('host', '?')} pid {holder.get('pid', '?')} since {since}"


class StoreLock:
    """Exclusive ownership of store folder ``out`` for one run; a context manager.

    Raises :class:`StoreLockError` naming the holder when another live run has it.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.token = uuid.uuid4().hex
        self.held = False
        self.took_over: dict[str, Any] | None = None

    def _record(self) -> bytes:
        return json.dumps({"host": HOST, "pid": os.getpid(), "time": time.time(), "token": self.token,
                           "store": self.out.name}).encode()

    def acquire(self) -> StoreLock:
        """Create the lock file exclusively; take over a stale one; else raise naming the holder."""
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_lock(self.path)
                if holder == {}:  # being written by its creator right now: give it a moment
                    time.sleep(0.2)
                    holder = read_lock(self.path)
                if holder is not None and not lock_is_stale(self.path, holder):
                    raise StoreLockError(
                        f"{self.out} is being prepared by {describe_holder(holder)} (lock file {self.path});"
                        " wait for that run, or delete the lock file if it is certainly dead") from None
                # stale: move it aside (atomic, so only one taker wins), then retry the exclusive create
                aside = self.path.with_name(f"{self.path.name}.stale-{self.token}")
                try:
                    os.rename(self.path, aside)
                    os.unlink(aside)
                    self.took_over = holder
                except FileNotFoundError:
                    pass
                continue
            except NotADirectoryError:
                raise StoreError(f"{self.out}: a parent of the output path is a file, not a folder") from None
            try:
                os.write(fd, self._record())
                os.fsync(fd)
            finally:
                os.close(fd)
            self.held = True
            return self
        raise StoreLockError(f"{self.out}: could not take the lock {self.path} (contended)")

    def owns(self) -> bool:
        """True while the lock file is still ours (nobody took it over as stale)."""
        holder = read_lock(self.path)
        return bool(holder) and holder.get("token") == self.token  # type: ignore[union-attr]

    def refresh(self) -> None:
        """Touch the lock file so other hosts see this run is alive."""
        if self.held:
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if self.held and self.owns():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self.held = False

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
