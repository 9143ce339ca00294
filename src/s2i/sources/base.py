"""DatasetSource: how one public data set (or a user's files) becomes a store — which files, which
reader, which splits, and the official counts to check against."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..skeleton import SkeletonSequence

__all__ = ["DatasetSource", "PrepareOptions", "SOURCES", "file_source", "get_source", "list_named", "load_file",
           "named_files", "register_source", "split_by"]

Splits = dict[str, dict[str, list[int]]]
#: one split's rule: a sequence's metadata -> its subset ("train", "test"), or None to leave it out
Rule = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class PrepareOptions:
    """User options of ``s2i prepare`` that sources may read (all optional)."""

    format: str | None = None          # override the source's skeleton format
    missing: str | None = None         # NTU: path of the official missing-skeleton list
    split_files: tuple[str, ...] = ()  # PKU-MMD: official split lists; folder: not used
    labels: str | None = None          # CSV of labels (folder / npy sources)
    split_by: tuple[str, ...] = ()     # folder: rules "NAME:train=REGEX" / "NAME:test=REGEX"
    layout: str = "NCTVM"              # npy: array layout
    max_persons: int | None = None     # kinetics: keep this many people per frame
    denoise: str = "reference"         # NTU: body denoising, "reference" (the field's scripts) or "keep-gaps"
    units: str | None = None           # folder / mocap: the files' length unit (m, cm, mm, inch or a factor)
    asf: str | None = None             # mocap: the ASF skeleton file, or a folder to look for it in
    root: str | None = None            # set by prepare: the raw data folder
    extra: dict[str, Any] = field(default_factory=dict)


#: a source's file listing: (root, options) -> (items, {left-out item: why})
ListItems = Callable[[Path, PrepareOptions], tuple[list[Any], dict[str, str]]]


@dataclass(frozen=True)
class DatasetSource:
    """One data set: files under a root, a loader per file, split rules and official counts.

    ``list_items(root, opts)`` returns (items, excluded): items are picklable (loaded in worker
    processes by ``load(item, opts)``, which returns the file's sequences), excluded maps item names to
    the reason they are left out by design (e.g. the official missing-skeleton list).
    ``make_splits(metas)`` builds {split: {subset: [sequence ids]}} from the per-sequence metadata.
    """

    name: str
    format: str
    description: str
    list_items: ListItems
    load: Callable[[Any, PrepareOptions], list[SkeletonSequence]]
    make_splits: Callable[[list[dict[str, Any]], PrepareOptions], Splits]
    official: dict[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None
    dims: int = 3
    with_confidence: bool = False
    streaming: bool = False  # load() yields sequences lazily (one file = a whole data set): read in-process
    find_class_names: Callable[[Path, PrepareOptions], tuple[str, ...] | None] | None = None  # from the files
    default_root: Callable[[], Path] | None = None  # the raw data when --root is not given (data shipped in a package)

    def class_names_for(self, root: Path, opts: PrepareOptions) -> tuple[str, ...] | None:
        """Class names: found in the raw files where the source knows how, else the built-in list."""
        found = self.find_class_names(root, opts) if self.find_class_names else None
        return found or self.class_names


SOURCES: dict[str, DatasetSource] = {}


def register_source(src: DatasetSource) -> DatasetSource:
    SOURCES[src.name] = src
    return src


def get_source(name: str) -> DatasetSource:
    if name not in SOURCES:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def load_file(read: Callable[[Path], SkeletonSequence], item: str, opts: PrepareOptions) -> list[SkeletonSequence]:
    """The loader of one-sequence-per-file sources: ``functools.partial(load_file, read_x)`` (picklable,
    so worker processes can run it)."""
    return [read(Path(item))]


def split_by(metas: list[dict[str, Any]], rules: Mapping[str, Rule]) -> Splits:
    """Apply per-split rules (meta -> subset name or None to leave the sequence out) to all sequences.

    The one place sources build splits from per-sequence rules (official lists, file-name patterns,
    a CSV column)."""
    out: Splits = {}
    for split, rule in rules.items():
        parts: dict[str, list[int]] = {}
        for i, m in enumerate(metas):
            subset = rule(m)
            if subset is not None:
                parts.setdefault(subset, []).append(i)
        out[split] = parts
    return out


def named_files(root: Path, pattern: str, name_rx: re.Pattern[str]) -> list[str]:
    """The files under ``root`` matching ``pattern`` whose stem follows the release's naming ``name_rx``,
    in file-name order."""
    return [str(p) for p in sorted(root.rglob(pattern), key=lambda p: p.name) if name_rx.fullmatch(p.stem)]


def list_named(pattern: str, name_rx: re.Pattern[str]) -> ListItems:
    """The ``list_items`` of a release whose files are all of one naming: :func:`named_files`, none left out."""
    return lambda root, opts: (named_files(root, pattern, name_rx), {})


def file_source(name: str, format: str, description: str, read: Callable[[Path], SkeletonSequence],
                list_items: ListItems, rules: Mapping[str, Rule], *, official: dict[str, Any],
                class_names: tuple[str, ...]) -> DatasetSource:
    """Register a data set of one sequence a file: ``list_items`` finds the files, ``read`` reads each one
    (in worker processes: it must be a module-level function), ``rules`` make the splits."""
    return register_source(DatasetSource(
        name=name, format=format, description=description, list_items=list_items,
        load=partial(load_file, read), make_splits=lambda metas, opts: split_by(metas, rules),
        official=official, class_names=class_names))
