"""Publishing a finished store folder without ever losing data.

Rules (see README "Guarantees"):

* only a folder whose ``manifest.json`` says it is an s2i store is ever replaced (``--overwrite``), and not
  when it holds a marked output of a learning command (a run kept inside it: :mod:`s2i.outputs`);
  ``--out`` equal to, inside or above the raw-data root, or a file, is refused before anything is written;
* the new store is written to ``.NAME.partial-HOST-PID`` and published under the store's lock
  (:mod:`.lock`): fsync of every file and the folder, then the old store is swapped out and the new one
  in — by one atomic ``renameat2(RENAME_EXCHANGE)`` where the file system has it, otherwise by renaming
  the old store aside to ``.NAME.old-TOKEN`` first — and only then is the old one removed;
* a run that finds ``.NAME.old-*`` left by a crash restores it when ``NAME`` is missing, and finishes
  the interrupted removal when ``NAME`` is a store (that replacement was already published);
* leftover ``.NAME.partial-*`` folders are removed only by the holder of NAME's lock (so their run is
  dead), and those of other names only when that name's lock is gone or stale.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from pathlib import Path

from ..outputs import find_outputs, is_store, overlap
from .layout import StoreError
from .lock import HOST, lock_is_stale, lock_path

__all__ = ["check_out_path", "clean_leftovers", "fsync_tree", "is_store", "partial_path", "publish",
           "recover_interrupted_publish"]


def check_out_path(out: Path, root: Path | None, overwrite: bool) -> None:
    """Refuse an output path that could destroy input or non-store data (before any work is done)."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir() and parent != out:
            raise StoreError(f"--out {out}: {parent} is a file, so no folder can be created under it")
    if out.exists() and not out.is_dir():
        raise StoreError(f"--out {out} is a file, not a store folder; refusing to replace it")
    if root is not None:
        how = overlap(out.resolve(), root.resolve())
        if how in ("is", "is inside"):
            raise StoreError(f"--out {out} is {'the raw-data folder' if how == 'is' else 'inside the raw-data folder'}"
                             f" --root {root}; choose an output folder outside it")
        if how == "contains":
            raise StoreError(f"--out {out} contains the raw-data folder --root {root}; choose another output folder")
    if out.exists():
        if not overwrite:
            raise StoreError(f"{out} already exists (pass overwrite=True / --overwrite to replace it)")
        if not is_store(out):
            raise StoreError(f"--out {out} exists and is not an s2i store (no store manifest.json);"
                             " --overwrite only ever replaces a store")
        kept = find_outputs(out)
        if kept:
            raise StoreError(f"--out {out} holds s2i outputs that are not part of the store ({kept[0]}"
                             f"{f' and {len(kept) - 1} more' if len(kept) > 1 else ''}); move them out of the"
                             " store before replacing it")


def partial_path(out: Path) -> Path:
    """The temporary folder this process writes ``out`` into."""
    return out.parent / f".{out.name}.partial-{HOST}-{os.getpid()}"


def fsync_tree(folder: Path) -> None:
    """fsync every file in ``folder`` and the folder itself (so a rename publishes complete data)."""
    for p in folder.iterdir():
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move the finished store ``tmp`` to ``out`` (the caller holds ``out``'s lock).

    Re-checks ``out`` now: something that appeared during the run is never deleted unless it is a store
    and ``overwrite`` is set. The old store is removed only after the new one is in place.
    """
    fsync_tree(tmp)
    if os.path.lexists(out):
        if not overwrite:
            raise StoreError(f"{out} appeared while this run was preparing it; refusing to replace it (nothing"
                             " was deleted; re-run with --overwrite if it is a store to replace)")
        if out.is_symlink() or not out.is_dir() or not is_store(out):
            raise StoreError(f"{out} appeared during the run and is not an s2i store; refusing to replace it")
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        if _exchange(tmp, out):  # out is now the new store, tmp the old one
            _fsync_dir(out.parent)
            os.rename(tmp, old)
        else:
            os.rename(out, old)
            _fsync_dir(out.parent)
            os.rename(tmp, out)
        _fsync_dir(out.parent)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.rename(tmp, out)
    _fsync_dir(out.parent)


def recover_interrupted_publish(out: Path) -> list[str]:
    """Resolve ``.NAME.old-*`` left by a crash during publish (caller holds the lock); returns notes."""
    notes: list[str] = []
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    for old in olds:
        if not os.path.lexists(out) and is_store(old):
            os.rename(old, out)
            _fsync_dir(out.parent)
            notes.append(f"restored {out} from {old.name} (a run was interrupted while replacing it)")
        elif is_store(out):
            shutil.rmtree(old, ignore_errors=True)
            notes.append(f"removed {old.name}: the store it held had already been replaced by a finished run")
        else:
            notes.append(f"left {old} in place: a previous store that an interrupted run was replacing")
    return notes


def _partial_owner_dead(p: Path) -> bool:
    """For ``.NAME.partial-HOST-PID`` of another store name: its lock is gone or stale."""
    base = p.name[1:].rsplit(".partial-", 1)
    if len(base) != 2:
        return False
    name, tag = base
    lock = lock_path(p.parent / name)
    if os.path.lexists(lock):
        return lock_is_stale(lock)
    host, _, pid = tag.rpartition("-")
    if host == HOST and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return True  # no lock: its run is over (every writer holds the lock while its partial exists)


def clean_leftovers(out: Path, own_tmp: Path) -> list[str]:
    """Remove partial folders of dead runs (caller holds ``out``'s lock); returns what was removed."""
    removed = []
    for tmp in out.parent.glob(".*.partial-*"):
        if tmp == own_tmp or not tmp.is_dir() or tmp.is_symlink():
            continue
        mine = tmp.name.startswith(f".{out.name}.partial-")
        if mine or _partial_owner_dead(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp.name)
    return removed
