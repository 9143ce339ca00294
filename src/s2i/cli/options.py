"""Command-line options generated from the pydantic models, so flags and config keys never drift apart."""

from __future__ import annotations

import argparse
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["add_model_options", "check_stores", "config_keys_help", "model_from_args"]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner annotation, optional?) of ``X | None``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def add_model_options(parser: argparse.ArgumentParser, model: type[BaseModel], exclude: frozenset[str] = frozenset(),
                      group: str | None = None) -> None:
    """Add one ``--field-name`` option per field of ``model`` (choices from Literals, --x/--no-x for
    booleans, N values for tuples). Every default is None: only the options given are passed on."""
    target: Any = parser.add_argument_group(group) if group else parser
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        kind, _ = _unwrap(info.annotation)
        helptext = (info.description or "").replace("%", "%%")
        default = info.default
        helptext = f"{helptext} (default: {default})" if helptext else f"default: {default}"
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is Literal:
            target.add_argument(_flag(name), choices=list(args), default=None, help=helptext)
        elif kind is bool:
            target.add_argument(_flag(name), action=argparse.BooleanOptionalAction, default=None, help=helptext)
        elif origin is tuple:
            n = len(args) if args and args[-1] is not Ellipsis else 3
            metavar = {3: ("X", "Y", "Z"), 2: ("LO", "HI")}.get(n, name.upper())
            target.add_argument(_flag(name), type=args[0] if args else float, nargs=n, default=None,
                                metavar=metavar, help=helptext)
        elif kind in (int, float, str):
            target.add_argument(_flag(name), type=kind, default=None, help=helptext)
        else:  # pragma: no cover - a new field type needs a rule here
            raise TypeError(f"no command-line rule for {model.__name__}.{name}: {info.annotation}")


def model_from_args(model: type[BaseModel], args: argparse.Namespace, flags: dict[str, str] | None = None,
                    **overrides: Any) -> Any:
    """Build ``model`` from the options the user gave; a bad value names its ``--flag`` (``flags`` maps a
    field to the flag that really set it, e.g. height -> --size)."""
    from pydantic import ValidationError

    given = {k: v for k in model.model_fields if (v := getattr(args, k, None)) is not None}
    given.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model(**given)
    except ValidationError as e:
        names = flags or {}
        problems = "; ".join(
            f"{names.get(str(err['loc'][0]), _flag(str(err['loc'][0]))) if err['loc'] else model.__name__}:"
            f" {err['msg']}" for err in e.errors())
        raise ValueError(problems) from None


def check_stores(paths: list[str] | None, flag: str = "--data") -> None:
    """Each path is a prepared store, else a ValueError that says what is there and what to do: a missing
    folder, or raw files of a known data set (with the ``s2i prepare`` command that makes the store)."""
    from pathlib import Path

    from ..store.publish import is_store

    for raw in paths or []:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"{flag} {path}: no such folder")
        if is_store(path):
            continue
        if not path.is_dir():
            raise ValueError(f"{flag} {path}: a file, not a prepared store folder")
        try:
            from ..demo import detect_source

            name = detect_source(path)
        except (ValueError, OSError):
            raise ValueError(f"{flag} {path}: not a prepared s2i store (no manifest.json); a folder of raw files"
                             f" becomes one with: s2i prepare DATASET --root {path} --out STORE"
                             " (s2i prepare --help lists the data sets)") from None
        raise ValueError(f"{flag} {path}: raw {name} files, not a prepared store; prepare them first:"
                         f" s2i prepare {name} --root {path} --out STORE, then {flag} STORE")


def config_keys_help(model: type[BaseModel]) -> str:
    """The keys ``--set`` and ``--config`` accept, one line per section with each key's default, for an
    epilog (``s2i eval --help``, ``s2i pretrain --help``)."""
    lines: list[str] = []

    def walk(m: type[BaseModel], prefix: str) -> None:
        own, subs = [], []
        for name, info in m.model_fields.items():
            kind, _ = _unwrap(info.annotation)
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                subs.append((name, kind))
            else:
                default = info.get_default(call_default_factory=True)
                own.append(f"{name}={default}")
        if own:
            lines.append(f"  {prefix or '(top level) '}{', '.join(own)}")
        for name, sub in subs:
            walk(sub, f"{prefix}{name}.")

    walk(model, "")
    return "keys of --set KEY=VALUE and of --config (with their defaults):\n\n" + "\n".join(lines)
