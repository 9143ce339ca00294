"""Kinetics-skeleton (ST-GCN release): OpenPose-18 JSON per clip, labels from the official label files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..readers.kinetics import YOUTUBE_ID, load_kinetics_labels, read_kinetics
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["KINETICS_SKELETON"]


def _list(root: Path, opts: PrepareOptions) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Clip JSONs; the subset is the folder name (kinetics_train*/kinetics_val*). Clips that the
    official label files (``kinetics_*_label*.json`` under the root) mark ``has_skeleton: false`` are
    left out, as ST-GCN does."""
    no_skeleton: dict[str, str] = {}
    for lab in sorted(root.rglob("kinetics_*label*.json")):
        for vid, entry in load_kinetics_labels(lab).items():
            if not entry["has_skeleton"]:
                no_skeleton[vid] = f"has_skeleton is false in {lab.name}"
    items, excluded = [], {}
    for p in sorted(root.rglob("*.json"), key=lambda p: p.name):
        if not YOUTUBE_ID.fullmatch(p.stem):
            continue
        if p.stem in no_skeleton:
            excluded[p.stem] = no_skeleton[p.stem]
            continue
        folder = p.parent.name.lower()
        subset = "train" if "train" in folder else "val" if "val" in folder else "unknown"
        items.append((str(p), subset))
    return items, excluded


def _load(item: tuple[str, str], opts: PrepareOptions) -> list[SkeletonSequence]:
    seq = read_kinetics(Path(item[0]), max_persons=opts.max_persons or 2)
    seq.meta["subset"] = item[1]
    return [seq]


def _label_names(root: Path, opts: PrepareOptions) -> tuple[str, ...] | None:
    """The 400 class names of the release's label_name.txt (line i = label_index i), if under the root."""
    for p in sorted(root.rglob("label_name.txt")):
        names = tuple(line.strip() for line in p.read_text().splitlines() if line.strip())
        if names:
            return names
    return None


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    return split_by(metas, {"kinetics400": lambda m: m["subset"] if m["subset"] != "unknown" else None})



KINETICS_SKELETON = register_source(DatasetSource(
    name="kinetics-skeleton", format="openpose18",
    description="Kinetics-400 skeletons (ST-GCN release, OpenPose-18 2D + scores); train/val by folder",
    list_items=_list, load=_load, make_splits=_splits, dims=2, with_confidence=True,
    find_class_names=_label_names,
))
