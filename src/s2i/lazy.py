"""Lazy package attributes: a package names which submodule defines each public name, imported on first use,
so ``s2i --help`` and config loading never pay for torch (one implementation for every package)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, submodules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``submodules[name]`` (relative, e.g. ``"encoder"``) is
    imported when ``name`` is first read, and the value is kept in the package so the next read is direct."""

    def __getattr__(name: str) -> Any:
        if name not in submodules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{submodules[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
