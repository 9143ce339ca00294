"""Your own data: a folder of sequence files of any supported type, labelled by sub-folder or a CSV.

Layouts:
- ``ROOT/<class name>/<file>``: one sub-folder per class (labels = sorted class names);
- ``ROOT/<files>`` + ``--labels labels.csv`` with a header ``file,label[,subject,view,split,...]``: the
  label column may hold integers or names; extra columns become metadata; a ``split`` column becomes a
  split named ``csv`` with its values as subsets.
Splits from file names: ``--split-by NAME:SUBSET=REGEX`` (repeatable), e.g.
``--split-by xsub:train=_s0[1357]_ --split-by xsub:test=_s0[2468]_``; the first rule of a split whose
regex matches the file's relative path wins; unmatched files are left out of that split.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from ..readers import READERS, read_sequence
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source

__all__ = ["FOLDER", "MOCAP", "parse_split_rules", "read_label_csv"]

MOCAP_SUFFIXES = (".bvh", ".amc")


def parse_split_rules(rules: tuple[str, ...]) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """'NAME:SUBSET=REGEX' strings -> {split: [(subset, compiled regex), ...]} (with clear errors)."""
    out: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for r in rules:
        m = re.fullmatch(r"([\w.-]+):([\w.-]+)=(.+)", r)
        if not m:
            raise ValueError(f"--split-by {r!r}: expected NAME:SUBSET=REGEX, e.g. xsub:train=_s0[1357]_")
        try:
            out.setdefault(m.group(1), []).append((m.group(2), re.compile(m.group(3))))
        except re.error as e:
            raise ValueError(f"--split-by {r!r}: invalid regular expression ({e})") from None
    return out


def read_label_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """file (name or relative path) -> row, from a CSV with at least the columns file and label."""
    p = Path(path)
    with open(p, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{p}: the label CSV needs a header with the columns 'file' and 'label'")
        rows = {}
        for n, row in enumerate(reader, start=2):
            if not row.get("file"):
                raise ValueError(f"{p}:{n}: empty 'file' value")
            rows[row["file"]] = row
    return rows


def _supported(path: Path) -> bool:
    return any(match(path) for _, match in READERS.values())


def _list(root: Path, opts: PrepareOptions,
          suffixes: tuple[str, ...] | None = None) -> tuple[list[Any], dict[str, str]]:
    parse_split_rules(opts.split_by)  # fail before reading any file when a rule is malformed
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if suffixes:
        files = [p for p in files if p.suffix.lower() in suffixes]
    files = [p for p in files if p.suffix.lower() in (".npy",) or _supported(p)]
    labels = read_label_csv(opts.labels) if opts.labels else None
    classes: list[str] = []
    if labels is None:
        classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    items, excluded = [], {}
    for p in files:
        rel = str(p.relative_to(root))
        meta: dict[str, Any] = {"name": p.stem, "relpath": rel}
        if labels is not None:
            row = labels.get(rel) or labels.get(p.name) or labels.get(p.stem)
            if row is None:
                excluded[rel] = f"not listed in {opts.labels}"
                continue
            meta.update({k: v for k, v in row.items() if k not in ("file",) and v not in (None, "")})
        elif classes:
            parts = Path(rel).parts
            if len(parts) < 2:
                excluded[rel] = "not inside a class sub-folder"
                continue
            meta["label"] = classes.index(parts[0])
            meta["label_name"] = parts[0]
        items.append((str(p), meta))
    if labels is not None:
        names = sorted({str(m["label"]) for _, m in items
                        if "label" in m and not str(m["label"]).lstrip("-").isdigit()})
        for _, m in items:
            lab = str(m.get("label", ""))
            if lab.lstrip("-").isdigit():
                m["label"] = int(lab)
            elif lab:
                m["label_name"] = lab
                m["label"] = names.index(lab)
    return items, excluded


def _class_dirs(root: Path, opts: PrepareOptions) -> tuple[str, ...] | None:
    """Class names: the sub-folder names (sorted), unless labels come from a CSV."""
    if opts.labels or not root.is_dir():
        return None
    names = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return names or None


def _load(item: tuple[str, dict[str, Any]], opts: PrepareOptions) -> list[SkeletonSequence]:
    path, meta = item
    p = Path(path)
    if p.suffix.lower() == ".npy":
        from ..readers.arrays import read_sequence_array
        if not opts.format:
            raise ValueError(f"{p}: per-sequence .npy files need --format (the joint order)")
        seq = read_sequence_array(p, opts.format)
    else:
        seq = read_sequence(p, fmt=opts.format)
    seq.meta.update(meta)
    return [seq]


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    out: Splits = {}
    for split, rules in parse_split_rules(opts.split_by).items():
        parts: dict[str, list[int]] = {}
        for i, m in enumerate(metas):
            for subset, rx in rules:
                if rx.search(m.get("relpath", m.get("name", ""))):
                    parts.setdefault(subset, []).append(i)
                    break
        out[split] = parts
    if any("split" in m for m in metas):
        parts = {}
        for i, m in enumerate(metas):
            if m.get("split"):
                parts.setdefault(str(m["split"]), []).append(i)
        out["csv"] = parts
    return out


FOLDER = register_source(DatasetSource(
    name="folder", format="ntu25",
    description="your own files: class sub-folders or a label CSV, any supported file type (--format for the joints)",
    list_items=_list, load=_load, make_splits=_splits, find_class_names=_class_dirs,
))
MOCAP = register_source(DatasetSource(
    name="mocap", format="cmu31",
    description="motion capture: BVH or ASF/AMC files (forward kinematics to joint positions); labels by class "
                "sub-folder or --labels CSV",
    list_items=lambda root, opts: _list(root, opts, MOCAP_SUFFIXES), load=_load, make_splits=_splits,
    find_class_names=_class_dirs,
))
