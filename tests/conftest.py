"""Fixtures shared by the whole test suite (helpers that are plain functions live in helpers.py)."""

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from s2i import SkeletonSequence
from s2i.store import SkeletonStore, StoreWriter


@pytest.fixture()
def make_store(tmp_path: Path) -> Callable[..., SkeletonStore]:
    """Write a store from sequences: ``make_store(seqs, splits, name="st", **manifest)`` -> SkeletonStore."""

    def make(seqs: Sequence[SkeletonSequence], splits: dict[str, dict[str, list[int]]], name: str = "st",
             **manifest: object) -> SkeletonStore:
        first = seqs[0]
        with StoreWriter(tmp_path / name, first.format, first.dims, first.num_joints,
                         with_confidence=first.confidence is not None) as w:
            for s in seqs:
                w.append(s)
            w.finalize(splits, {"dataset": "synthetic", **manifest}, {})
        return SkeletonStore(tmp_path / name)

    return make
