"""SkeletonStore: read access to a prepared store; sequences are memory-mapped, never loaded whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..formats import FormatSpec, get_format, load_format_file
from ..skeleton import SkeletonSequence
from .layout import FORMAT_FILE, STORE_VERSION, StoreError, jsonable

__all__ = ["SkeletonStore"]


class SkeletonStore:
    """Read access to a prepared store; sequences are memory-mapped, never loaded whole."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        mf = self.path / "manifest.json"
        if not mf.is_file():
            raise StoreError(f"{self.path} is not a prepared s2i store (no manifest.json)")
        self.manifest: dict[str, Any] = json.loads(mf.read_text())
        if self.manifest.get("store_version") != STORE_VERSION:
            raise StoreError(f"{mf}: store version {self.manifest.get('store_version')} is not {STORE_VERSION}")
        self.index = np.load(self.path / "index.npy", allow_pickle=False)
        self.dtype = np.dtype(self.manifest["dtype"])
        self.num_joints = int(self.manifest["num_joints"])
        self.dims = int(self.manifest["dims"])
        rows = int(self.manifest["rows"])
        shape = (rows, self.num_joints, self.dims)
        expect = rows * self.num_joints * self.dims * self.dtype.itemsize
        size = (self.path / "joints.bin").stat().st_size
        if size != expect:
            raise StoreError(f"{self.path / 'joints.bin'}: {size} bytes, expected {expect} (truncated store?)")
        self._joints = np.memmap(self.path / "joints.bin", dtype=self.dtype, mode="r", shape=shape) if rows else \
            np.zeros(shape, self.dtype)
        self._conf = None
        if self.manifest.get("confidence"):
            self._conf = np.memmap(self.path / "confidence.bin", dtype=self.dtype, mode="r",
                                   shape=(rows, self.num_joints)) if rows else np.zeros((0, self.num_joints))
        self._meta: list[dict[str, Any]] | None = None
        self._splits: dict[str, dict[str, list[int]]] | None = None
        self._spec: FormatSpec | None = None

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by path (DataLoader workers under 'spawn' reopen the memory maps, never copy the data)."""
        return (SkeletonStore, (str(self.path),))

    # --- sizes and tables ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    @property
    def format_spec(self) -> FormatSpec:
        """The skeleton format of the store's sequences: the spec kept in the store (``format.yaml``),
        else (stores written before it was kept) the built-in format of that name."""
        if self._spec is None:
            f = self.path / FORMAT_FILE
            self._spec = load_format_file(f) if f.is_file() else get_format(self.format)
        return self._spec

    @property
    def format(self) -> str:
        return str(self.manifest["format"])

    @property
    def labels(self) -> np.ndarray:
        return self.index["label"]

    @property
    def lengths(self) -> np.ndarray:
        return self.index["frames"]

    @property
    def class_names(self) -> list[str] | None:
        return self.manifest.get("class_names")

    @property
    def meta(self) -> list[dict[str, Any]]:
        """Per-sequence metadata (read on first use)."""
        if self._meta is None:
            with open(self.path / "meta.jsonl", encoding="utf-8") as f:
                self._meta = [json.loads(line) for line in f]
        return self._meta

    @property
    def splits(self) -> dict[str, dict[str, list[int]]]:
        if self._splits is None:
            self._splits = json.loads((self.path / "splits.json").read_text())
        return self._splits

    def split_ids(self, split: str | None, subset: str | None) -> np.ndarray:
        """Sequence ids of ``split``/``subset`` (e.g. xsub/train); all ids when split is None."""
        if split is None:
            return np.arange(len(self))
        if split not in self.splits:
            raise StoreError(f"{self.path}: no split {split!r}; available: {sorted(self.splits)}")
        parts = self.splits[split]
        if subset is None:
            return np.array(sorted(i for ids in parts.values() for i in ids), dtype=np.int64)
        if subset not in parts:
            raise StoreError(f"{self.path}: split {split!r} has no subset {subset!r}; available: {sorted(parts)}")
        return np.asarray(parts[subset], dtype=np.int64)

    # --- sequences -------------------------------------------------------------------------
    def joints(self, i: int) -> np.ndarray:
        """(M, T, V, C) float32 copy of sequence i (reads only its rows)."""
        off, m, t, _ = self.index[i]
        return np.array(self._joints[off: off + m * t], dtype=np.float32).reshape(m, t, self.num_joints, self.dims)

    def confidence(self, i: int) -> np.ndarray | None:
        if self._conf is None:
            return None
        off, m, t, _ = self.index[i]
        return np.array(self._conf[off: off + m * t], dtype=np.float32).reshape(m, t, self.num_joints)

    def __getitem__(self, i: int) -> SkeletonSequence:
        meta = dict(self.meta[i])
        fps = meta.pop("fps", None)
        return SkeletonSequence(self.joints(i), format=self.format, confidence=self.confidence(i), fps=fps,
                                meta=meta)

    def __iter__(self) -> Iterator[SkeletonSequence]:
        for i in range(len(self)):
            yield self[i]

    def write_json(self, name: str, data: Any) -> Path:
        """Add a side file (e.g. a quality report) to the store, atomically; not part of the hash."""
        target = self.path / name
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(jsonable(data), indent=2))
        return target

    def __repr__(self) -> str:
        return (f"SkeletonStore({str(self.path)!r}, dataset={self.manifest.get('dataset')!r}, "
                f"format={self.format!r}, sequences={len(self)}, splits={sorted(self.splits)})")
