"""UTD-MHAD and MSR Action3D (Kinect v1, each in its own joint order): files, cross-subject splits."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..readers.msr_action3d import MSR_ACTIONS, MSR_NAME, read_msr_action3d
from ..readers.utd_mhad import UTD_ACTIONS, UTD_NAME, read_utd_mhad
from .base import DatasetSource, PrepareOptions, Splits, load_file, register_source, split_by

__all__ = ["MSR_ACTION3D", "MSR_SUBSETS", "UTD_MHAD", "msr_split"]


def _glob(root: Path, pattern: str, name_rx: Any) -> list[str]:
    return [str(p) for p in sorted(root.rglob(pattern), key=lambda p: p.name) if name_rx.fullmatch(p.stem)]


def _utd_list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    return _glob(root, "*_skeleton.mat", UTD_NAME), {}


def _utd_splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    return split_by(metas, {"xsub": lambda m: "train" if m["subject"] % 2 == 1 else "test"})


UTD_MHAD = register_source(DatasetSource(
    name="utd-mhad", format="utd_mhad",
    description="UTD-MHAD: 27 actions, 8 subjects, 4 trials (3 corrupt files absent); xsub: odd subjects train",
    list_items=_utd_list, load=partial(load_file, read_utd_mhad), make_splits=_utd_splits,
    official={"sequences": 861, "splits": {"xsub": {"train": 431, "test": 430}}},
    class_names=UTD_ACTIONS,
))


def _msr_list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    """The Real3D (world-coordinate) files when present — the variant papers use — else the screen files."""
    world = _glob(root, "*_skeleton3D.txt", MSR_NAME)
    if world:
        return world, {}
    return _glob(root, "*_skeleton.txt", MSR_NAME), {"(note)": "no *_skeleton3D.txt (Real3D) files: using the "
                                                                "screen-coordinate variant"}


#: the three action subsets of Li et al. 2010, as 0-based labels (action AA -> AA - 1)
MSR_SUBSETS: dict[str, frozenset[int]] = {
    "AS1": frozenset(a - 1 for a in (2, 3, 5, 6, 10, 13, 18, 20)),
    "AS2": frozenset(a - 1 for a in (1, 4, 7, 8, 9, 11, 12, 14)),
    "AS3": frozenset(a - 1 for a in (6, 14, 15, 16, 17, 18, 19, 20)),
}


def msr_split(subject: int) -> str:
    """Cross-subject protocol of Li et al. 2010: odd subjects train, even subjects test."""
    return "train" if subject % 2 == 1 else "test"


def _msr_splits(metas: list[dict[str, Any]], opts: PrepareOptions) -> Splits:
    rules: dict[str, Callable[[dict[str, Any]], str | None]] = {"xsub": lambda m: msr_split(m["subject"])}
    for name, labels in MSR_SUBSETS.items():
        rules[f"xsub_{name}"] = (lambda lab: lambda m: msr_split(m["subject"]) if m["label"] in lab else None)(labels)
    return split_by(metas, rules)


MSR_ACTION3D = register_source(DatasetSource(
    name="msr-action3d", format="msr_action3d",
    description="MSR Action3D: 20 actions, 10 subjects; xsub (odd subjects train) on all 20 classes and on the "
                "action subsets AS1/AS2/AS3",
    list_items=_msr_list, load=partial(load_file, read_msr_action3d), make_splits=_msr_splits,
    official={"sequences": 567, "splits": {"xsub": {"train": 292, "test": 275}}},
    class_names=MSR_ACTIONS,
))
