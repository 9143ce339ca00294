"""The format registry: built-in YAML specs plus user files, looked up by name, alias or path."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .spec import FormatSpec, FormatSpecError, load_format_file

__all__ = ["get_format", "list_formats", "register_format", "SPEC_DIR"]

SPEC_DIR = Path(__file__).with_name("specs")
_user: dict[str, FormatSpec] = {}
_loaded: dict[str, FormatSpec] = {}  # specs loaded from a path, by name (not listed; built-ins win)


@lru_cache(maxsize=1)
def _builtin() -> dict[str, FormatSpec]:
    specs: dict[str, FormatSpec] = {}
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        spec = load_format_file(path)
        if spec.name in specs:
            raise FormatSpecError(f"{path}: duplicate built-in format name {spec.name!r}")
        specs[spec.name] = spec
    return specs


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for spec in [*_builtin().values(), *_user.values()]:
        for a in spec.aliases:
            table[a.lower()] = spec.name
    return table


def list_formats() -> list[FormatSpec]:
    """All registered formats, built-in first, sorted by name."""
    merged = {**_builtin(), **_user}
    return [merged[k] for k in sorted(merged)]


def register_format(spec: FormatSpec) -> None:
    """Make a spec available by name for this process (overrides a built-in of the same name)."""
    _user[spec.name] = spec


def get_format(name_or_path: str | Path | FormatSpec) -> FormatSpec:
    """Resolve a format by name, alias or path to a YAML file (anywhere a format is accepted).

    A spec loaded from a path is also remembered under its name for this process, so sequences that
    carry only the format's name (``seq.format``) resolve to it afterwards (unless a built-in or
    registered format has that name; it is not listed by :func:`list_formats`).
    """
    if isinstance(name_or_path, FormatSpec):
        return name_or_path
    key = str(name_or_path)
    p = Path(key)
    if key.endswith((".yaml", ".yml")) or p.is_file():
        spec = load_format_file(p)
        _loaded[spec.name] = spec
        return spec
    if key in _user:
        return _user[key]
    builtin = _builtin()
    if key in builtin:
        return builtin[key]
    alias = _aliases().get(key.lower())
    if alias is not None:
        return {**builtin, **_user}[alias]
    if key in _loaded:
        return _loaded[key]
    known = ", ".join(s.name for s in list_formats())
    raise FormatSpecError(f"unknown skeleton format {key!r}; known formats: {known} (or a path to a YAML spec)")
