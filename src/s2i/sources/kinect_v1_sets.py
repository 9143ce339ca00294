"""UTD-MHAD and MSR Action3D (Kinect v1, each in its own joint order): files, cross-subject splits."""

from __future__ import annotations

from pathlib import Path

from ..readers.msr_action3d import MSR_ACTIONS, MSR_NAME, read_msr_action3d
from ..readers.utd_mhad import UTD_ACTIONS, UTD_NAME, read_utd_mhad
from .base import PrepareOptions, Rule, file_source, list_named, named_files

__all__ = ["MSR_ACTION3D", "MSR_SUBSETS", "UTD_MHAD", "msr_split"]


UTD_MHAD = file_source(
    "utd-mhad", "utd_mhad",
    "UTD-MHAD: 27 actions, 8 subjects, 4 trials (3 corrupt files absent); xsub: odd subjects train",
    read_utd_mhad, list_named("*_skeleton.mat", UTD_NAME),
    {"xsub": lambda m: "train" if m["subject"] % 2 == 1 else "test"},
    official={"sequences": 861, "splits": {"xsub": {"train": 431, "test": 430}}}, class_names=UTD_ACTIONS,
)


def _msr_list(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
    """The Real3D (world-coordinate) files when present — the variant papers use — else the screen files."""
    world = named_files(root, "*_skeleton3D.txt", MSR_NAME)
    if world:
        return world, {}
    return named_files(root, "*_skeleton.txt", MSR_NAME), {"(note)": "no *_skeleton3D.txt (Real3D) files: using the "
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


def _subset_rule(labels: frozenset[int]) -> Rule:
    """Cross-subject within one action subset (sequences of other actions left out)."""
    return lambda m: msr_split(m["subject"]) if m["label"] in labels else None


MSR_ACTION3D = file_source(
    "msr-action3d", "msr_action3d",
    "MSR Action3D: 20 actions, 10 subjects; xsub (odd subjects train) on all 20 classes and on the action "
    "subsets AS1/AS2/AS3",
    read_msr_action3d, _msr_list,
    {"xsub": lambda m: msr_split(m["subject"]), **{f"xsub_{k}": _subset_rule(v) for k, v in MSR_SUBSETS.items()}},
    official={"sequences": 567, "splits": {"xsub": {"train": 292, "test": 275}}}, class_names=MSR_ACTIONS,
)
