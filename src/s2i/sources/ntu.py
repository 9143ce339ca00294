"""NTU RGB+D 60 and 120: raw .skeleton files, the official missing-skeleton lists, xsub/xview/xset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..readers.ntu import DENOISE_MODES, NTU_ACTIONS, parse_ntu_name, read_ntu
from ..skeleton import SkeletonSequence
from .base import DatasetSource, PrepareOptions, Splits, register_source, split_by

__all__ = ["NTU60_XSUB_TRAIN", "NTU120_XSUB_TRAIN", "load_ntu", "ntu_splits", "read_missing_list", "NTU60", "NTU120"]

# Training performers (subjects) of the cross-subject benchmarks (NTU RGB+D papers, CVPR 2016 / TPAMI 2019).
NTU60_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103})
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})

MISSING_LIST_NAMES = {60: "NTU_RGBD_samples_with_missing_skeletons.txt",
                      120: "NTU_RGBD120_samples_with_missing_skeletons.txt"}


def ntu_splits(metas: list[dict[str, Any]], version: int) -> Splits:
    """xsub + xview (NTU-60) or xsub + xset (NTU-120) from each sequence's subject/camera/setup."""
    if version == 60:
        return split_by(metas, {
            "xsub": lambda m: "train" if m["subject"] in NTU60_XSUB_TRAIN else "test",
            "xview": lambda m: "train" if m["camera"] in NTU60_XVIEW_TRAIN_CAMERAS else "test",
        })
    return split_by(metas, {
        "xsub": lambda m: "train" if m["subject"] in NTU120_XSUB_TRAIN else "test",
        "xset": lambda m: "train" if m["setup"] % 2 == 0 else "test",
    })


def read_missing_list(path: str | Path) -> set[str]:
    """Sample names of an official missing-skeleton list (header lines are skipped)."""
    names = set()
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if parse_ntu_name(line) and len(line) == 20:
            names.add(line)
    return names


def _find_missing(root: Path, opts: PrepareOptions, version: int) -> Path | None:
    if opts.missing:
        p = Path(opts.missing)
        if not p.is_file():
            raise FileNotFoundError(f"missing-skeleton list not found: {p}")
        return p
    for cand in (root / MISSING_LIST_NAMES[version], root.parent / MISSING_LIST_NAMES[version]):
        if cand.is_file():
            return cand
    return None


def load_ntu(item: str, opts: PrepareOptions) -> list[SkeletonSequence]:
    """Read one raw file with the denoising chosen in ``opts.denoise`` (module-level: worker processes
    pickle it)."""
    if opts.denoise not in DENOISE_MODES:
        raise ValueError(f"unknown NTU denoising {opts.denoise!r}; choose one of {', '.join(DENOISE_MODES)}")
    return [read_ntu(Path(item), denoise=opts.denoise)]


def _items(version: int):
    def list_items(root: Path, opts: PrepareOptions) -> tuple[list[str], dict[str, str]]:
        max_setup = 17 if version == 60 else 32
        files = sorted(root.rglob("*.skeleton"), key=lambda p: p.name)
        missing_path = _find_missing(root, opts, version)
        missing = read_missing_list(missing_path) if missing_path else set()
        items, excluded = [], {}
        for f in files:
            info = parse_ntu_name(f.name)
            if info is None or info["setup"] > max_setup:
                continue
            if f.stem in missing:
                excluded[f.stem] = f"official missing-skeleton list ({missing_path.name})"  # type: ignore[union-attr]
                continue
            items.append(str(f))
        if missing_path is None:
            excluded["(note)"] = ("no missing-skeleton list found (pass --missing "
                                  f"{MISSING_LIST_NAMES[version]}); counts will not match the official ones")
        return items, excluded
    return list_items


def _ntu_source(version: int, description: str, official: dict[str, Any]) -> DatasetSource:
    """Register NTU RGB+D 60 or 120: its setups' files, read with the chosen denoising, and its benchmarks."""
    return register_source(DatasetSource(
        name=f"ntu{version}", format="ntu25", description=description, list_items=_items(version), load=load_ntu,
        make_splits=lambda metas, opts: ntu_splits(metas, version), official=official,
        class_names=NTU_ACTIONS[:version],
    ))


NTU60 = _ntu_source(60, "NTU RGB+D 60: setups S001-S017, 60 actions; xsub and xview benchmarks",
                    {"sequences": 56578, "splits": {"xsub": {"train": 40091, "test": 16487},
                                                    "xview": {"train": 37646, "test": 18932}}})
NTU120 = _ntu_source(120, "NTU RGB+D 120: setups S001-S032, 120 actions; xsub and xset benchmarks",
                     {"sequences": 113945, "splits": {"xsub": {"train": 63026, "test": 50919},
                                                      "xset": {"train": 54468, "test": 59477}}})
