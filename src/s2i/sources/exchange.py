"""Exchange formats: PYSKL / MMAction2 annotation pickles and ST-GCN-style NumPy arrays (with a label
pickle or CSV), read in one go since one file holds a whole data set."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..readers.arrays import iter_npy_array
from ..readers.pyskl import read_pyskl, safe_load_pickle
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by
from .folder import read_label_csv

__all__ = ["PYSKL", "NPY", "pyskl_split_name"]


def _files(root: Path, suffixes: tuple[str, ...]) -> list[str]:
    if root.is_file():
        return [str(root)]
    return [str(p) for p in sorted(root.rglob("*")) if p.suffix.lower() in suffixes]


def pyskl_split_name(key: str) -> tuple[str, str]:
    """'xsub_train' -> ('xsub', 'train'); 'train' -> ('default', 'train')."""
    m = re.fullmatch(r"(.+)_(train|val|test)", key)
    return (m.group(1), m.group(2)) if m else ("default", key)


def _pyskl_load(item: str, opts: PrepareOptions) -> list[SkeletonSequence]:
    seqs, split = read_pyskl(item, format=opts.format)
    member: dict[str, list[tuple[str, str]]] = {}
    for key, names in split.items():
        for n in names:
            member.setdefault(str(n), []).append(pyskl_split_name(key))
    for s in seqs:
        s.meta["pyskl_splits"] = member.get(str(s.meta.get("name")), [])
    return seqs


def _pyskl_splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    names = dict.fromkeys(split for m in metas for split, _ in m.get("pyskl_splits", []))

    def rule(split: str) -> Callable[[dict[str, Any]], str | None]:
        return lambda m: next((sub for s, sub in m.get("pyskl_splits", []) if s == split), None)

    return split_by(metas, {split: rule(split) for split in names})


PYSKL = register_source(DatasetSource(
    name="pyskl", format="ntu25",
    description="PYSKL / MMAction2 annotation pickle ({'split', 'annotations'}), read with a restricted "
                "unpickler; --format when the joints are not NTU-25 / COCO-17",
    list_items=lambda root, opts: (_files(root, (".pkl", ".pickle")), {}), load=_pyskl_load,
    make_splits=_pyskl_splits,
))


def _npy_labels(path: Path, opts: PrepareOptions) -> tuple[list[str] | None, list[int] | None]:
    """ST-GCN label pickle beside ``X_data.npy`` (``X_label.pkl``: (names, labels)), or a CSV row per sample."""
    if opts.labels and opts.labels.endswith(".csv"):
        rows = list(read_label_csv(opts.labels).values())
        return [r["file"] for r in rows], [int(r["label"]) for r in rows]
    beside = path.with_name(path.name.replace("_data", "_label")).with_suffix(".pkl")
    cand = Path(opts.labels) if opts.labels else beside
    if not cand.is_file():
        return None, None
    obj = safe_load_pickle(cand)
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return [str(n) for n in obj[0]], [int(y) for y in obj[1]]
    raise ValueError(f"{cand}: expected a (sample names, labels) pair")


def _npy_load(item: str, opts: PrepareOptions):
    """Stream the samples of one array file (one in memory at a time)."""
    p = Path(item)
    fmt = opts.format
    if not fmt:
        raise ValueError(f"{p}: array files need --format (the joint order of the V axis)")
    names, labels = _npy_labels(p, opts)
    subset = next((s for s in ("train", "val", "test") if s in p.stem.lower()), None)
    for i, seq in enumerate(iter_npy_array(p, fmt, opts.layout)):
        if names is not None and i < len(names):
            seq.meta["name"] = names[i]
        else:
            seq.meta.setdefault("name", f"{p.stem}_{i}")
        if labels is not None and i < len(labels):
            seq.meta["label"] = labels[i]
        if subset:
            seq.meta["subset"] = subset
        yield seq


def _npy_splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    out = split_by(metas, {"default": lambda m: m.get("subset") or None})
    return out if out["default"] else {}


NPY = register_source(DatasetSource(
    name="npy", format="ntu25",
    description="NumPy arrays in the (N, C, T, V, M) layout (or --layout); labels from X_label.pkl beside "
                "X_data.npy, the npz's label array, or --labels CSV; the subset from the file name",
    list_items=lambda root, opts: (_files(root, (".npy", ".npz")), {}), load=_npy_load,
    make_splits=_npy_splits, streaming=True,
))
