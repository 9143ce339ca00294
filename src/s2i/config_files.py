"""Configuration files: the YAML reader, ``--set key.path=value`` overrides and the errors that name the key.

Both the pretraining config (:mod:`s2i.training.config`) and the evaluation config
(:mod:`s2i.evaluation.config`) stand on this floor, so neither needs the other. A file may extend one base file
with ``_base_: PATH`` (relative to the file): the base supplies values, the file holds only its differences
(sections merge key by key); a base may not have a base of its own.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "apply_overrides", "config_error", "merge_trees", "read_config_tree", "validate_tree"]

BASE_KEY = "_base_"


class ConfigError(ValueError):
    """A configuration file or override that does not validate; the message names the key."""


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        child = node.get(k)
        if child is None:
            child = node[k] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {k!r} is not a section")
        node = child
    node[keys[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``tree`` with each ``key.path=value`` (value parsed as YAML) set."""
    out = copy.deepcopy(tree)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {key}: cannot parse {raw!r} ({e})") from None
        _set(out, key.strip(), value)
    return out


def config_error(source: str, e: ValidationError, model: type[BaseModel] | None = None,
                 overrides: list[str] | tuple[str, ...] = ()) -> ConfigError:
    """One ConfigError naming every offending key of a pydantic validation error: a key given with ``--set``
    is named as ``--set KEY``, one from the file after the file's name; an unknown key suggests the closest
    key of its section (``model``: the config class the keys belong to)."""
    given = {item.partition("=")[0].strip() for item in overrides}
    lines = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(model, [str(x) for x in err["loc"]])
        flag = next((k for k in given if loc and (loc == k or loc.startswith(k + ".") or k.startswith(loc + "."))),
                    None)
        if flag is not None:
            where = "" if flag == loc else f" ({loc})"
            lines.append(f"--set {flag}{where}: {msg}")
        else:
            lines.append(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}")
    return ConfigError("; ".join(lines))


Config = TypeVar("Config", bound=BaseModel)


def validate_tree(model: type[Config], tree: dict[str, Any], source: str = "config",
                  overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate a config dict as ``model``; errors name every offending key (``overrides``: the ``--set`` items
    applied), one ConfigError for all of them."""
    try:
        return model.model_validate(tree)
    except ValidationError as e:
        raise config_error(source, e, model, overrides) from None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    import typing

    return next((a for a in (annotation, *typing.get_args(annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a config class, sections and their keys (``("optim", "max_steps")``, ...)."""
    out = []
    for name, field in model.model_fields.items():
        out.append((*prefix, name))
        sub = _model_of(field.annotation)
        if sub is not None:
            out += _keys(sub, (*prefix, name))
    return out


def _did_you_mean(model: type[BaseModel] | None, loc: list[str]) -> str:
    """`` (did you mean optim.max_steps?)``: the closest key of the same section, else of any section, else
    the section's keys; ``""`` without a model."""
    import difflib

    if model is None:
        return ""
    keys = _keys(model)
    section = tuple(loc[:-1])
    siblings = {k[-1]: k for k in keys if k[:-1] == section}
    close = difflib.get_close_matches(loc[-1], list(siblings), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {'.'.join(siblings[close[0]])}?)"
    anywhere: dict[str, tuple[str, ...]] = {}
    for k in keys:
        anywhere.setdefault(k[-1], k)
    close = difflib.get_close_matches(loc[-1], list(anywhere), n=1, cutoff=0.75)
    if close:
        return f" (did you mean {'.'.join(anywhere[close[0]])}?)"
    return f" ({'.'.join(section) or 'the top level'} has: {', '.join(siblings)})" if siblings else ""


def read_config_tree(path: str | Path | None) -> tuple[dict[str, Any], str]:
    """(mapping of sections, source name) of a YAML config file, its ``_base_`` merged underneath; None gives
    ({}, "the default config")."""
    if path is None:
        return {}, "the default config"
    path = Path(path)
    tree = _read_yaml(path)
    base = tree.pop(BASE_KEY, None)
    if base is None:
        return tree, str(path)
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: {BASE_KEY} must be the path of a base config file, got {base!r}")
    base_path = (path.parent / base).resolve()
    base_tree = _read_yaml(base_path)
    if BASE_KEY in base_tree:
        raise ConfigError(f"{path}: its base {base_path} has a {BASE_KEY} of its own; one level of bases only")
    return merge_trees(base_tree, tree), str(path)


def merge_trees(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top: mappings merge key by key, anything else (lists too) is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_trees(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds; errors name the file."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise FileNotFoundError(f"{path}: cannot read the config ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: the config must be a mapping of sections")
    return tree
