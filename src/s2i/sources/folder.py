"""Your own data: a folder of sequence files of any supported type, labelled by sub-folder or a CSV.

Layouts:
- ``ROOT/<class name>/<file>``: one sub-folder per class; class names are sorted numerically when they
  are all numbers ("2" before "10"), else as strings; the mapping is the store's ``class_names``;
- ``ROOT/<files>`` + ``--labels labels.csv`` with a header ``file,label[,start,end][,subject,view,split,...]``:
  the label column holds integers or class names (names are sorted into ``class_names``); with
  ``start,end`` each row is one labelled segment of that file (inclusive bounds, in the file's own frame
  indices when it has an index column, else 1-based frame numbers); extra columns become metadata; a
  ``split`` column becomes a split named ``csv`` with its values as subsets.
- OpenPose ``--write_json`` output: a folder of ``*_keypoints.json`` frame files is one sequence.
Splits from file names: ``--split-by NAME:SUBSET=REGEX`` (repeatable), e.g.
``--split-by xsub:train=_s0[1357]_ --split-by xsub:test=_s0[2468]_``; the regex is searched in the file
NAME (a regex with a ``/`` in the path relative to the root); the first rule of a split that matches
wins; unmatched files are left out of that split; a rule that matches no file is an error.
Units: ``--units m|cm|mm|inch|FACTOR`` gives the files' length unit; positions are converted to metres
(ASF files: their ``:units length`` L is honoured, one file unit = 1/L of the given unit).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..readers import READERS, ReaderError, read_input
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["FOLDER", "MOCAP", "UNITS", "parse_split_rules", "parse_units", "read_label_csv", "read_label_rows"]

MOCAP_SUFFIXES = (".bvh", ".amc")
#: length units -> metres
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "in": 0.0254}

Rules = dict[str, list[tuple[str, re.Pattern[str]]]]


def parse_split_rules(rules: tuple[str, ...]) -> Rules:
    """'NAME:SUBSET=REGEX' strings -> {split: [(subset, compiled regex), ...]} (with clear errors)."""
    out: Rules = {}
    for r in rules:
        m = re.fullmatch(r"([\w.-]+):([\w.-]+)=(.+)", r)
        if not m:
            raise ValueError(f"--split-by {r!r}: expected NAME:SUBSET=REGEX, e.g. xsub:train=_s0[1357]_")
        try:
            out.setdefault(m.group(1), []).append((m.group(2), re.compile(m.group(3))))
        except re.error as e:
            raise ValueError(f"--split-by {r!r}: invalid regular expression ({e})") from None
    return out


def parse_units(units: str) -> float:
    """``m``, ``cm``, ``mm``, ``inch`` or a positive number (metres per file unit) -> metres per unit."""
    u = units.strip().lower()
    if u in UNITS:
        return UNITS[u]
    try:
        f = float(u)
    except ValueError:
        f = float("nan")
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"--units {units!r}: expected m, cm, mm, inch or a positive factor (metres per file unit)")
    return f


def _rule_key(rx: re.Pattern[str], meta: dict[str, Any]) -> str:
    """What a --split-by regex is searched in: the file name, or the relative path when it has a '/'."""
    return str(meta.get("relpath", "")) if "/" in rx.pattern else str(meta.get("file", meta.get("name", "")))


def check_split_rules(rules: Rules, metas: list[dict[str, Any]]) -> None:
    """Every rule must match some file: a rule that matches nothing names its pattern and an example."""
    if not metas:
        return
    for split, subsets in rules.items():
        for subset, rx in subsets:
            if not any(rx.search(_rule_key(rx, m)) for m in metas):
                example = _rule_key(rx, metas[0])
                what = "relative path" if "/" in rx.pattern else "file name"
                raise ValueError(f"--split-by {split}:{subset}={rx.pattern}: the pattern matches no {what}"
                                 f" (e.g. {example!r}); it is searched in the {what}")


def read_label_rows(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """file (name, stem or relative path) -> its rows, from a CSV with at least the columns file and label;
    optional ``start,end`` columns (integers, start <= end) make each row a segment. Each row keeps its
    CSV line number under ``_line``."""
    p = Path(path)
    with open(p, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in reader.fieldnames or []]
        if not {"file", "label"} <= set(cols):
            raise ValueError(f"{p}:1: the label CSV needs a header with the columns 'file' and 'label', got {cols}")
        if ("start" in cols) != ("end" in cols):
            raise ValueError(f"{p}:1: segments need both 'start' and 'end' columns, got {cols}")
        reader.fieldnames = cols
        rows: dict[str, list[dict[str, Any]]] = {}
        for n, row in enumerate(reader, start=2):
            row = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
            if not row.get("file"):
                raise ValueError(f"{p}:{n}: empty 'file' value")
            if "start" in row:
                _segment_bounds(p, n, row)
            row["_line"] = n
            rows.setdefault(row["file"], []).append(row)
    return rows


def _segment_bounds(p: Path, n: int, row: dict[str, Any]) -> None:
    try:
        start, end = int(row["start"]), int(row["end"])
    except (TypeError, ValueError):
        raise ValueError(f"{p}:{n}: 'start' and 'end' must be integers (frame numbers), got"
                         f" {row.get('start')!r}, {row.get('end')!r}") from None
    if start > end:
        raise ValueError(f"{p}:{n}: segment start {start} is after its end {end}")
    row["start"], row["end"] = start, end


def read_label_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """file -> its (first) row, from a CSV with at least the columns file and label."""
    return {k: {c: v for c, v in rows[0].items() if c != "_line"} for k, rows in read_label_rows(path).items()}


def _label_names(labels: list[str], where: str) -> list[str] | None:
    """Sorted class names when the labels are names; None when they are all integers; mixing is an error."""
    numeric = [lab.lstrip("-").isdigit() for lab in labels if lab]
    if all(numeric):
        return None
    if any(numeric):
        k = numeric.index(True)
        raise ValueError(f"{where}: the label column mixes numbers ({labels[k]!r}) and class names; use one kind")
    return _sorted_names({lab for lab in labels if lab})


def _sorted_names(names: set[str]) -> list[str]:
    """Numerically when every name is a number ("2" < "10"), else as strings."""
    if names and all(n.isdigit() for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def _supported(path: Path) -> bool:
    return any(match(path) for _, match in READERS.values())


def _files(root: Path, suffixes: tuple[str, ...] | None) -> list[Path]:
    """Supported files under root; an OpenPose folder of ``*_keypoints.json`` frames is one entry."""
    out: list[Path] = []
    openpose: set[Path] = set()
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.name.endswith("_keypoints.json") and not suffixes:
            if p.parent != root and p.parent not in openpose:
                openpose.add(p.parent)
                out.append(p.parent)
            continue
        if suffixes and p.suffix.lower() not in suffixes:
            continue
        if _supported(p):
            out.append(p)
    return out


def _list(root: Path, opts: PrepareOptions,
          suffixes: tuple[str, ...] | None = None) -> tuple[list[Any], dict[str, str]]:
    rules = parse_split_rules(opts.split_by)  # fail before reading any file when a rule is malformed
    if opts.units:
        parse_units(opts.units)
    files = _files(root, suffixes)
    excluded: dict[str, str] = {}
    if opts.labels:
        items = _items_from_csv(root, files, opts.labels, excluded)
    else:
        items = _items_from_folders(root, files, excluded)
    check_split_rules(rules, [m for _, m, _ in items])
    return items, excluded


def _base_meta(root: Path, p: Path) -> dict[str, Any]:
    return {"name": p.stem if p.is_file() else p.name, "file": p.name, "relpath": str(p.relative_to(root))}


def _items_from_folders(root: Path, files: list[Path], excluded: dict[str, str]) -> list[Any]:
    classes = _sorted_names({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    items = []
    for p in files:
        meta = _base_meta(root, p)
        if classes:
            parts = p.relative_to(root).parts
            if len(parts) < 2:
                excluded[meta["relpath"]] = "not inside a class sub-folder"
                continue
            meta["label"] = classes.index(parts[0])
            meta["label_name"] = parts[0]
        items.append((str(p), meta, None))
    return items


def _items_from_csv(root: Path, files: list[Path], labels: str, excluded: dict[str, str]) -> list[Any]:
    table = read_label_rows(labels)
    names = _label_names([str(r.get("label", "")) for rows in table.values() for r in rows], labels)
    items: list[Any] = []
    listed: set[str] = set()
    for p in files:
        meta = _base_meta(root, p)
        key = next((k for k in (meta["relpath"], p.name, p.stem) if k in table), None)
        if key is None:
            excluded[meta["relpath"]] = f"not listed in {labels}"
            continue
        listed.add(key)
        rows = [_row_meta(r, names) for r in table[key]]
        if "start" in table[key][0]:
            items.append((str(p), meta, rows))
        else:
            meta.update(rows[0])
            meta.pop("_line", None)
            items.append((str(p), meta, None))
    for k in table:
        if k not in listed:
            excluded[f"({labels}: {k})"] = f"{labels}:{table[k][0]['_line']}: no file {k!r} under the root"
    return items


def _row_meta(row: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    meta = {k: v for k, v in row.items() if k != "file" and v not in (None, "")}
    lab = str(meta.get("label", ""))
    if names is None and lab:
        meta["label"] = int(lab)
    elif lab:
        meta["label_name"] = lab
        meta["label"] = names.index(lab) if names else 0
    return meta


def _class_names(root: Path, opts: PrepareOptions) -> tuple[str, ...] | None:
    """Class names: the label names of the CSV, else the sub-folder names (numerically when numbers)."""
    if opts.labels:
        rows = read_label_rows(opts.labels)
        names = _label_names([str(r.get("label", "")) for rs in rows.values() for r in rs], opts.labels)
        return tuple(names) if names else None
    if not root.is_dir():
        return None
    names = _sorted_names({p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and not any(p.glob("*_keypoints.json"))})
    return tuple(names) or None


def _read(p: Path, opts: PrepareOptions) -> SkeletonSequence:
    if p.suffix.lower() == ".amc":
        from ..readers.asf_amc import read_amc_file
        return read_amc_file(p, format=opts.format, asf=opts.asf)
    return read_input(p, fmt=opts.format)


def _apply_units(seq: SkeletonSequence, units: str) -> None:
    """Positions in the files' unit -> metres (an ASF file's ``:units length`` L: one unit = 1/L)."""
    if seq.joints.shape[-1] != 3:
        raise ReaderError(seq.meta.get("source", "?"), f"--units {units}: converts 3D positions; this format is"
                          f" {seq.joints.shape[-1]}D (image coordinates)")
    factor = parse_units(units) / float(seq.meta.get("length_unit", 1.0))
    seq.joints = (seq.joints * factor).astype(np.float32)
    seq.meta.update(units="m", unit_factor=factor, units_given=units)


def _segments(seq: SkeletonSequence, rows: list[dict[str, Any]]) -> list[SkeletonSequence]:
    from ..readers.text_frames import frame_rows

    out = []
    src = seq.meta.get("source", "?")
    for row in rows:
        start, end = int(row["start"]), int(row["end"])
        idx = frame_rows(seq, start, end)
        if not len(idx):
            frames = (f"frame indices {seq.meta['first_frame']}..{seq.meta['last_frame']}"
                      if "frame_index" in seq.meta else f"frames 1..{seq.num_frames}")
            raise ReaderError(src, f"labels line {row['_line']}: segment {start}..{end} holds no frame (the file"
                              f" has {frames})")
        meta = {k: v for k, v in seq.meta.items() if k != "frame_index"}
        meta.update({k: v for k, v in row.items() if k != "_line"})
        meta["name"] = f"{seq.meta.get('name', 'seq')}_{start}-{end}"
        meta["segment"] = [start, end]
        conf = None if seq.confidence is None else seq.confidence[:, idx]
        out.append(SkeletonSequence(seq.joints[:, idx], format=seq.format, confidence=conf, fps=seq.fps, meta=meta))
    return out


def _load(item: tuple[str, dict[str, Any], list[dict[str, Any]] | None],
          opts: PrepareOptions) -> list[SkeletonSequence]:
    path, meta, rows = item
    seq = _read(Path(path), opts)
    if opts.units:
        _apply_units(seq, opts.units)
    seq.meta.update(meta)
    if rows is not None:
        return _segments(seq, rows)
    seq.meta.pop("frame_index", None)
    return [seq]


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    parsed = parse_split_rules(opts.split_by)
    check_split_rules(parsed, metas)

    def rule(subsets: list[tuple[str, re.Pattern[str]]]) -> Any:
        return lambda m: next((sub for sub, rx in subsets if rx.search(_rule_key(rx, m))), None)

    rules = {split: rule(subsets) for split, subsets in parsed.items()}
    if any("split" in m for m in metas):
        rules["csv"] = lambda m: str(m["split"]) if m.get("split") else None
    return split_by(metas, rules)


FOLDER = register_source(DatasetSource(
    name="folder", format="ntu25",
    description="your own files: class sub-folders or a label CSV (optionally with start,end segments), any "
                "supported file type (--format for the joints)",
    list_items=_list, load=_load, make_splits=_splits, find_class_names=_class_names,
))
MOCAP = register_source(DatasetSource(
    name="mocap", format="cmu31",
    description="motion capture: BVH or ASF/AMC files (forward kinematics to joint positions); labels by class "
                "sub-folder or --labels CSV",
    list_items=lambda root, opts: _list(root, opts, MOCAP_SUFFIXES), load=_load, make_splits=_splits,
    find_class_names=_class_names,
))
