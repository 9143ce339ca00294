"""Which folders are s2i's own: stores (by their manifest) and the output folders of the learning commands
(pretrain, eval, fuse, demo, report), by a typed marker.

Every such folder gets a typed marker, ``.s2i-output.json`` = ``{"tool": "s2i", "kind": KIND, ...}``, when
it is created. A command writes into (or, with ``--overwrite``, replaces) an existing folder only when it is
empty or its marker names the same kind; a folder that merely holds a file of the right name is not ours.
``--out`` equal to an input, inside it or containing it is refused, and so is ``--out`` inside a prepared
store (``s2i prepare --overwrite`` would replace it). Symbolic links are never followed out of a folder:
a linked output folder is refused and links inside one are removed, not their targets.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["KINDS", "MARKER", "OutputError", "check_not_input", "claim_output", "find_outputs", "is_store",
           "mark_output", "output_kind", "overlap", "remove_entry"]

MARKER = ".s2i-output.json"
#: what each kind of folder is, for messages
KINDS = {"pretrain-run": "an s2i pretraining run", "eval": "an s2i evaluation folder",
         "fused": "an s2i fused-results folder", "demo": "an s2i demo folder",
         "report-files": "the image folder of an s2i report"}


def _results_file(folder: Path) -> bool:
    try:
        data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "protocol" in data and "top1" in data


def _demo_file(folder: Path) -> bool:
    try:
        data = json.loads((folder / "demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == "s2i-demo"


#: folders written by s2i before markers existed, recognised by the content of the file they always hold
_LEGACY: dict[str, Callable[[Path], bool]] = {
    "pretrain-run": lambda p: (p / "config.yaml").is_file() and (p / "provenance.json").is_file(),
    "eval": _results_file, "fused": _results_file, "demo": _demo_file,
}


#: kinds whose command removes the links it finds in its folder (instead of refusing the folder)
_CLEARED = {"demo", "report-files"}


class OutputError(ValueError):
    """An ``--out`` that would overwrite or mix with something that is not this command's own output."""


def output_kind(folder: str | Path) -> str | None:
    """The kind named by ``folder``'s marker; None when it has none (or it, or its marker, is a symlink)."""
    folder = Path(folder)
    marker = folder / MARKER
    if folder.is_symlink() or marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != "s2i" or data.get("kind") not in KINDS:
        return None
    return str(data["kind"])


def mark_output(folder: str | Path, kind: str) -> None:
    """Create ``folder`` if needed and mark it as an s2i output of ``kind`` (atomically; kept if already so)."""
    from . import __version__
    from .atomic import atomic_path

    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if output_kind(folder) == kind:
        return
    with atomic_path(folder / MARKER) as tmp:
        tmp.write_text(json.dumps({"tool": "s2i", "kind": kind, "version": __version__,
                                   "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n", encoding="utf-8")


def overlap(a: Path, b: Path) -> str | None:
    """How resolved ``a`` lies relative to ``b``: 'is', 'is inside', 'contains' or None."""
    if a == b:
        return "is"
    if b in a.parents:
        return "is inside"
    if a in b.parents:
        return "contains"
    return None


def is_store(path: str | Path) -> bool:
    """True when ``path`` is a folder whose manifest.json names an s2i store version (the data layer's own
    typed marker, :mod:`s2i.store.publish`)."""
    try:
        mf = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(mf, dict) and "store_version" in mf and "content_hash" in mf


def check_not_input(out: str | Path, inputs: Iterable[tuple[str, str | Path | None]], flag: str = "--out",
                    inside_ok: bool = False) -> None:
    """Refuse ``out`` equal to, inside (unless ``inside_ok``) or containing an input; ``inputs`` are
    (what, path) pairs such as ("--data", store), named in the message. Also refuse ``out`` inside a store."""
    o = Path(out).resolve()
    for what, path in inputs:
        if path is None:
            continue
        how = overlap(o, Path(path).resolve())
        if how is None or (how == "is inside" and inside_ok):
            continue
        raise OutputError(f"{flag} {out} {how} the input {what} {path}; choose an output folder apart from"
                          " the inputs (nothing was written)")
    for parent in [o, *o.parents]:
        if is_store(parent):
            raise OutputError(f"{flag} {out} is inside the prepared store {parent} (`s2i prepare --overwrite`"
                              " would delete it); choose an output folder outside stores")


def claim_output(out: str | Path, kind: str, inputs: Iterable[tuple[str, str | Path | None]] = (),
                 flag: str = "--out", inside_ok: bool = False) -> bool:
    """Check, before any work, that a command making ``kind`` may write ``out``: not an input (see
    :func:`check_not_input`), not a symlink or a file, and new, empty or already an output of ``kind``
    (or one an s2i version before markers wrote: a typed file it always holds). Returns True when ``out``
    exists with content (an earlier output of ``kind``)."""
    out = Path(out)
    check_not_input(out, inputs, flag, inside_ok)
    if out.is_symlink():
        raise OutputError(f"{flag} {out} is a symbolic link (to {os.readlink(out)}); s2i does not write"
                          " through links it did not make: give the real folder or another path")
    if not out.exists():
        for parent in out.parents:
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"{flag} {out}: {parent} is a file, so no folder can be created under it")
        return False
    if not out.is_dir():
        raise OutputError(f"{flag} {out} is a file, not {KINDS[kind]}; refusing to replace it")
    if not any(out.iterdir()):
        return False
    found = output_kind(out)
    legacy = _LEGACY.get(kind)
    if found == kind or (found is None and legacy is not None and legacy(out)):
        links = sorted(p.name for p in out.iterdir() if p.is_symlink())
        if links and kind not in _CLEARED:
            raise OutputError(f"{flag} {out} holds symbolic links ({', '.join(links[:3])}); s2i writes into its"
                              " folders only, never through links: remove them or choose another path")
        return True
    what = f"it is {KINDS[found]}" if found else f"it has no s2i marker ({MARKER})"
    raise OutputError(f"{flag} {out} exists and is not {KINDS[kind]} ({what}); s2i never writes into or"
                      " deletes a folder that is not its own: choose another path (nothing was written)")


def remove_entry(path: str | Path) -> None:
    """Remove one entry of a folder that is ours: a symlink itself (never its target), a file or a folder."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def find_outputs(folder: str | Path) -> list[Path]:
    """The s2i outputs below ``folder``, marked or written before markers (symlinks not followed), e.g. a
    run kept inside a store."""
    found = []
    for root, dirs, _ in os.walk(folder):  # os.walk does not follow symlinked folders
        for d in dirs:
            p = Path(root) / d
            if output_kind(p) or any(legacy(p) for legacy in _LEGACY.values()):
                found.append(p)
    return sorted(found)
