"""PKU-MMD phase I and II: untrimmed skeleton files + label files -> trimmed action segments;
cross-subject / cross-view splits from the official split lists (``--split-file``, or found under the
root). Users get the lists from the PKU-MMD release (``Split/cross-subject.txt``, ``cross-view.txt``
for phase I; ``cross-subject-v2.txt`` / ``cross-view-v2.txt`` for phase II)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..readers.base import ReaderError, read_text
from ..readers.pku_mmd import MAX_SPLIT_BYTES, PKU_ACTIONS, PKU_NAME, pku_segments
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["PKU_MMD1", "PKU_MMD2", "read_pku_split", "split_name"]

_PHASE1 = re.compile(r"\d{4}-[LMR]")
_PHASE2 = re.compile(r"A\d+N\d+-[LMR]")



_SPLIT_HEADER = re.compile(r"^\s*(training|validataion|validation|test(?:ing)?)\s+videos\s*:", re.IGNORECASE)


def read_pku_split(path: Path) -> dict[str, list[str]]:
    """Read an official split list -> {"train": [ids], "test": [ids]} (the "Validataion" list is test)."""
    p = Path(path)
    text = read_text(p, MAX_SPLIT_BYTES, "PKU-MMD split file", encoding="ascii")
    out: dict[str, list[str]] = {}
    current: str | None = None
    where: dict[str, int] = {}
    for i, line in enumerate(text.split("\n"), start=1):
        m = _SPLIT_HEADER.match(line)
        if m:
            current = "train" if m.group(1).lower() == "training" else "test"
            if current in out:
                raise ReaderError(p, f"second '{m.group(1)} videos:' header", i)
            out[current] = []
            line = line[m.end():]
        if not line.strip():
            continue
        if current is None:
            raise ReaderError(p, f"expected a 'Training videos:' header, got {line.strip()[:60]!r}", i)
        for tok in line.split(","):
            vid = tok.strip()
            if not vid:
                continue
            if not PKU_NAME.fullmatch(vid):
                raise ReaderError(p, f"{vid[:40]!r} is not a PKU-MMD video id (like 0002-L or A01N02-L)", i)
            if vid in where:
                raise ReaderError(p, f"video {vid} listed twice (first on line {where[vid]})", i)
            where[vid] = i
            out[current].append(vid)
    for key, header in (("train", "Training videos:"), ("test", "Validataion videos:")):
        if key not in out:
            raise ReaderError(p, f"missing the '{header}' section")
    return out

def _is_label_file(p: Path) -> bool:
    with open(p, "rb") as f:
        return b"," in f.read(512)


def split_name(path: Path) -> str:
    """cross-subject*.txt -> xsub, cross-view*.txt -> xview, anything else -> its stem."""
    stem = path.stem.lower()
    return "xsub" if "subject" in stem else "xview" if "view" in stem else stem


def _lister(pattern: re.Pattern[str]):
    def list_items(root: Path, opts: PrepareOptions) -> tuple[list[Any], dict[str, str]]:
        skel: dict[str, Path] = {}
        labels: dict[str, Path] = {}
        for p in sorted(root.rglob("*.txt")):
            if not pattern.fullmatch(p.stem):
                continue
            (labels if _is_label_file(p) else skel)[p.stem] = p
        items, excluded = [], {}
        for stem, p in sorted(skel.items()):
            if stem in labels:
                items.append((str(p), str(labels[stem])))
            else:
                excluded[stem] = "no label file with the same name under the root"
        return items, excluded
    return list_items


def _load(item: tuple[str, str], opts: PrepareOptions) -> list[SkeletonSequence]:
    skipped: list[str] = []
    segs = pku_segments(Path(item[0]), Path(item[1]), skipped)
    if skipped:
        for s in segs:
            s.meta["skipped_instances"] = skipped
    return segs


def _split_files(opts: PrepareOptions) -> list[Path]:
    if opts.split_files:
        return [Path(f) for f in opts.split_files]
    return sorted(Path(opts.root).rglob("cross-*.txt")) if opts.root else []


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    rules = {}
    for f in _split_files(opts):
        lists = read_pku_split(f)
        member = {vid: subset for subset, vids in lists.items() for vid in vids}
        rules[split_name(f)] = lambda m, member=member: member.get(m.get("video", ""))
    return split_by(metas, rules)


def _with_split_note(list_items):
    """Say so when no official split list is given or found under the root."""
    def wrapped(root: Path, opts: PrepareOptions) -> tuple[list[Any], dict[str, str]]:
        items, excluded = list_items(root, opts)
        if not _split_files(PrepareOptions(split_files=opts.split_files, root=str(root))):
            excluded["(note)"] = "no split lists (cross-subject.txt / cross-view.txt) found: pass --split-file"
        return items, excluded
    return wrapped


def _pku_source(phase: int, names: re.Pattern[str], description: str) -> DatasetSource:
    """Register one PKU-MMD phase: its skeleton + label file pairs (video names like ``names``), trimmed into
    segments, split by the official lists."""
    return register_source(DatasetSource(
        name=f"pku-mmd{phase}", format="ntu25", description=description,
        list_items=_with_split_note(_lister(names)), load=_load, make_splits=_splits, class_names=PKU_ACTIONS,
    ))


PKU_MMD1 = _pku_source(1, _PHASE1, "PKU-MMD phase I: 1,076 untrimmed videos, 51 actions, trimmed into labelled "
                                   "segments; xsub (944/132 videos) and xview (717/359 videos) from the official lists")
PKU_MMD2 = _pku_source(2, _PHASE2, "PKU-MMD phase II: untrimmed AxxNyy-V videos, 41 actions, trimmed into labelled "
                                   "segments; splits from the official lists given with --split-file")
