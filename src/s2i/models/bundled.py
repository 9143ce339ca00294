"""Encoders shipped inside the package (``s2i/bundled/<name>/``): found by name, offline, wherever s2i is installed.

A bundled encoder is an exported folder (:mod:`.export`: ``config.json``, ``model.safetensors``, ``README.md``)
plus ``bundle.json``, the facts its model card and ``s2i models`` state (training data, hashes, results;
written by :mod:`s2i.bundle`). ``s2i.load_encoder("s2i-tiny")`` and ``s2i eval ... --checkpoint s2i-tiny`` resolve
the name through :func:`resolve_encoder`: **a local path of that name wins**; the bundled encoder is used only
when no file or folder of that name exists (a warning says when a local folder hides a bundled name).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

__all__ = ["BUNDLE_FILE", "ROOT", "bundle_info", "bundled_folder", "bundled_names", "resolve_encoder"]

#: where the bundled encoders live: package data of s2i (pyproject's [tool.setuptools.package-data])
ROOT = Path(__file__).resolve().parents[1] / "bundled"
#: the bundle's own description beside the exported files
BUNDLE_FILE = "bundle.json"


def bundled_names() -> list[str]:
    """The names of the encoders shipped with this installation, sorted."""
    root = ROOT
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())


def bundled_folder(name: str) -> Path:
    """The folder of bundled encoder ``name``; a FileNotFoundError lists the names there are."""
    if name in bundled_names():
        return ROOT / name
    names = ", ".join(bundled_names()) or "none in this installation"
    raise FileNotFoundError(f"{name}: no bundled encoder of that name (bundled: {names})")


def resolve_encoder(path: str | Path) -> Path:
    """The folder meant by ``path``: the local path when one exists (it wins over a bundled encoder of the same
    name, with a warning), else the bundled encoder of that name, else ``path`` unchanged (its own error later)."""
    local = Path(path)
    name = str(path)
    bundled = "/" not in name and "\\" not in name and name in bundled_names()
    if local.exists():
        if bundled and local.resolve() != (ROOT / name).resolve():
            warnings.warn(f"{name}: the local path {local.resolve()} is used, not the bundled encoder of that name"
                          f" (a local path wins; give {ROOT / name} for the bundled one)", stacklevel=2)
        return local
    return ROOT / name if bundled else local


def bundle_info(folder: str | Path) -> dict[str, Any] | None:
    """The ``bundle.json`` of a bundled (or staged) encoder folder, None when it has none; a damaged file is a
    ValueError naming it."""
    f = Path(folder) / BUNDLE_FILE
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{f}: cannot read the bundle description ({e})") from None
    if not isinstance(data, dict) or data.get("kind") != "s2i-bundle":
        raise ValueError(f"{f}: not an s2i bundle description (kind 's2i-bundle')")
    return data
