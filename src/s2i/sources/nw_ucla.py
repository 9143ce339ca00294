"""NW-UCLA Multiview Action3D: JSON files; the standard cross-view split (views 1, 2 train; 3 test)."""

from __future__ import annotations

from ..readers.nw_ucla import UCLA_ACTIONS, UCLA_NAME, read_nw_ucla
from .base import file_source, list_named

__all__ = ["NW_UCLA", "UCLA_ACTIONS"]

NW_UCLA = file_source(
    "nw-ucla", "kinect_v1",
    "NW-UCLA: 10 actions, 10 subjects, 3 views; cross-view split (views 1+2 train, view 3 test)",
    read_nw_ucla, list_named("*.json", UCLA_NAME), {"xview": lambda m: "train" if m["view"] in (1, 2) else "test"},
    official={"sequences": 1484, "splits": {"xview": {"train": 1020, "test": 464}}}, class_names=UCLA_ACTIONS,
)
