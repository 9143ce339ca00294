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
from .layout import FORMAT_FILE, StoreError, jsonable
from .verify import check_index, check_manifest, check_splits, load_json

__all__ = ["SkeletonStore"]


class SkeletonStore:
    """Read access to a prepared store; sequences are memory-mapped, never loaded whole."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        mf = self.path / "manifest.json"
        if not self.path.exists():
            raise StoreError(f"no such folder: {self.path} (expected a prepared s2i store)")
        if not mf.is_file():
            raise StoreError(f"{self.path} is not a prepared s2i store (no manifest.json)")
        self.manifest: dict[str, Any] = load_json(mf)
        check_manifest(mf, self.manifest)
        try:
            self.index = np.load(self.path / "index.npy", allow_pickle=False)
        except FileNotFoundError:
            raise StoreError(f"{self.path / 'index.npy'}: missing (incomplete store)") from None
        except (ValueError, OSError, EOFError) as e:
            raise StoreError(f"{self.path / 'index.npy'}: not a readable index ({e})") from None
        check_index(self.path, self.index, self.manifest)
        self.dtype = np.dtype(self.manifest["dtype"])
        self.num_joints = int(self.manifest["num_joints"])
        self.dims = int(self.manifest["dims"])
        rows = int(self.manifest["rows"])
        shape = (rows, self.num_joints, self.dims)
        expect = rows * self.num_joints * self.dims * self.dtype.itemsize
        self._check_size("joints.bin", expect)
        if self.manifest.get("confidence"):
            self._check_size("confidence.bin", rows * self.num_joints * self.dtype.itemsize)
        self._joints = np.memmap(self.path / "joints.bin", dtype=self.dtype, mode="r", shape=shape) if rows else \
            np.zeros(shape, self.dtype)
        self._conf = None
        if self.manifest.get("confidence"):
            self._conf = np.memmap(self.path / "confidence.bin", dtype=self.dtype, mode="r",
                                   shape=(rows, self.num_joints)) if rows else np.zeros((0, self.num_joints))
        self._meta: list[dict[str, Any]] | None = None
        self._splits: dict[str, dict[str, list[int]]] | None = None
        self._spec: FormatSpec | None = None

    def _check_size(self, name: str, expect: int) -> None:
        try:
            size = (self.path / name).stat().st_size
        except FileNotFoundError:
            raise StoreError(f"{self.path / name}: missing (incomplete store)") from None
        if size != expect:
            raise StoreError(f"{self.path / name}: {size} bytes, expected {expect} from manifest.json fields 'rows',"
                             " 'num_joints', 'dims', 'dtype' (truncated store, or a changed manifest?)")

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
            f = self.path / "meta.jsonl"
            meta = []
            try:
                with open(f, encoding="utf-8") as fh:
                    for line in fh:
                        meta.append(json.loads(line))
            except FileNotFoundError:
                raise StoreError(f"{f}: missing (incomplete store)") from None
            except (ValueError, UnicodeDecodeError) as e:
                raise StoreError(f"{f}:{len(meta) + 1}: not a JSON line ({e})") from None
            if len(meta) != len(self) or not all(isinstance(m, dict) for m in meta):
                raise StoreError(f"{f}: {len(meta)} lines, expected one JSON object per sequence ({len(self)})")
            self._meta = meta
        return self._meta

    @property
    def splits(self) -> dict[str, dict[str, list[int]]]:
        if self._splits is None:
            self._splits = check_splits(self.path, load_json(self.path / "splits.json"), len(self))
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
    def verify(self) -> Any:
        """Re-read everything the content hash covers and compare (see :func:`s2i.store.verify.verify_content`)."""
        from .verify import verify_content

        return verify_content(self)

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


def training_split(store: SkeletonStore, split: str | None, require_train: bool = False) -> str | None:
    """The split whose ``train`` subset is used: ``split`` if given, else the store's first (sorted) split
    that has a ``train`` subset, else None (every sequence: a store without splits). ``require_train``
    (pretraining): a store that has splits but no ``train`` part is an error, never its test sequences."""
    if split is not None:
        store.split_ids(split, "train")  # raises naming the available splits/subsets
        return split
    for name in sorted(store.splits):
        if "train" in store.splits[name]:
            return name
    if require_train and store.splits:
        parts = "; ".join(f"{n}: {', '.join(sorted(p)) or 'nothing'}" for n, p in sorted(store.splits.items()))
        raise ValueError(f"{store.path}: no split with a 'train' part ({parts}); pretraining uses training"
                         " sequences only, never ones marked for testing")
    return None
