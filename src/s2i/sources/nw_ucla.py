"""NW-UCLA Multiview Action3D: JSON files; the standard cross-view split (views 1, 2 train; 3 test)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from ..readers.nw_ucla import UCLA_ACTIONS, UCLA_NAME, read_nw_ucla
from .base import DatasetSource, PrepareOptions, Splits, load_file, register_source, split_by

__all__ = ["NW_UCLA", "UCLA_ACTIONS"]

def _list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    files = sorted((f for f in root.rglob("*.json") if UCLA_NAME.fullmatch(f.stem)), key=lambda p: p.name)
    return [str(f) for f in files], {}


def _splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    return split_by(metas, {"xview": lambda m: "train" if m["view"] in (1, 2) else "test"})


NW_UCLA = register_source(DatasetSource(
    name="nw-ucla", format="kinect_v1",
    description="NW-UCLA: 10 actions, 10 subjects, 3 views; cross-view split (views 1+2 train, view 3 test)",
    list_items=_list, load=partial(load_file, read_nw_ucla), make_splits=_splits,
    official={"sequences": 1484, "splits": {"xview": {"train": 1020, "test": 464}}},
    class_names=UCLA_ACTIONS,
))
