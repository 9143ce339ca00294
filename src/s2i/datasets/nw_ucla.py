"""NW-UCLA Multiview Action3D: JSON files; the standard cross-view split (views 1, 2 train; 3 test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..readers.nw_ucla import UCLA_NAME, read_nw_ucla
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["NW_UCLA", "UCLA_ACTIONS"]

UCLA_ACTIONS = ("pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
                "stand up", "donning", "doffing", "throw", "carry")


def _list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    files = sorted((f for f in root.rglob("*.json") if UCLA_NAME.fullmatch(f.stem)), key=lambda p: p.name)
    return [str(f) for f in files], {}


def _load(item: str, opts: PrepareOptions) -> list[SkeletonSequence]:
    seq = read_nw_ucla(Path(item))
    seq.meta["name"] = Path(item).stem
    seq.meta["label_name"] = UCLA_ACTIONS[seq.meta["label"]] if "label" in seq.meta else None
    return [seq]


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    return split_by(metas, {"xview": lambda m: "train" if m["view"] in (1, 2) else "test"})


NW_UCLA = register_source(DatasetSource(
    name="nw-ucla", format="kinect_v1",
    description="NW-UCLA: 10 actions, 10 subjects, 3 views; cross-view split (views 1+2 train, view 3 test)",
    list_items=_list, load=_load, make_splits=_splits,
    official={"sequences": 1484, "splits": {"xview": {"train": 1020, "test": 464}}},
    class_names=UCLA_ACTIONS,
))
