"""The prepared store: a ragged memory-mapped array of frames plus an index, metadata and splits.

Layout of a store folder::

    manifest.json     data set, format, dtype, V, C, counts, class names, statistics, content hash
    joints.bin        all frames of all sequences, (rows, V, C) in float16/float32, row = (person, frame)
    confidence.bin    optional (rows, V) per-joint scores (2D formats)
    index.npy         per sequence: row offset, persons, frames, label (a structured array)
    meta.jsonl        per sequence: name, subject, view, setup, source, reader decisions, ...
    splits.json       {split: {"train": [sequence ids], "test": [...]}}
    report.json       what prepare did: skipped files with reasons, counts vs the official ones

Sequence i occupies rows [offset, offset + persons * frames) as (persons, frames, V, C); reading it
touches only those rows. The writer streams (nothing is held in RAM but the small index), writes into
a temporary folder and renames it into place at the end, so an interrupted run leaves no store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..formats import FormatSpec, get_format
from ..skeleton import SkeletonSequence

__all__ = ["SkeletonStore", "StoreWriter", "StoreError", "INDEX_DTYPE", "STORE_VERSION"]

STORE_VERSION = 1
INDEX_DTYPE = np.dtype([("offset", "<i8"), ("persons", "<i4"), ("frames", "<i4"), ("label", "<i4")])
_META_FIELDS_TOP = ("label", "fps")


class StoreError(ValueError):
    """A store folder is missing, incomplete or inconsistent."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _remove_stale_partials(out: Path) -> None:
    """Delete temporary folders left by killed runs (their process no longer exists)."""
    for tmp in out.parent.glob(f".{out.name}.partial-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            pass


class StoreWriter:
    """Append sequences of one format to a new store; :meth:`finalize` publishes it atomically.

    Usage: ``with StoreWriter(out, "ntu25", dims=3, num_joints=25) as w: w.append(seq) ...; w.finalize(...)``.
    Leaving the block without finalize (an error, Ctrl-C) removes the temporary folder.
    """

    def __init__(self, out: str | Path, fmt: str, dims: int, num_joints: int, dtype: str = "float32",
                 with_confidence: bool = False, overwrite: bool = False) -> None:
        if dtype not in ("float16", "float32"):
            raise ValueError(f"store dtype must be float16 or float32, got {dtype!r}")
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise StoreError(f"{self.out} already exists (pass overwrite=True / --overwrite to replace it)")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(self.out)
        self.tmp = self.out.parent / f".{self.out.name}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self.fmt, self.dims, self.num_joints = fmt, dims, num_joints
        self.dtype = np.dtype(dtype)
        self.with_confidence = with_confidence
        self._joints = open(self.tmp / "joints.bin", "wb")
        self._conf = open(self.tmp / "confidence.bin", "wb") if with_confidence else None
        self._meta = open(self.tmp / "meta.jsonl", "w", encoding="utf-8")
        self._index: list[tuple[int, int, int, int]] = []
        self._rows = 0
        self._hash = hashlib.sha256()
        self._done = False

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._done:
            self.abort()

    def __len__(self) -> int:
        return len(self._index)

    def append(self, seq: SkeletonSequence) -> int:
        """Write one sequence; returns its id (0-based position in the store)."""
        m, t, v, c = seq.joints.shape
        if v != self.num_joints or c != self.dims:
            raise StoreError(
                f"{seq.meta.get('source', 'sequence')}: store holds (V={self.num_joints}, C={self.dims}),"
                f" got (V={v}, C={c})"
            )
        data = np.ascontiguousarray(seq.joints, dtype=self.dtype).reshape(m * t, v, c)
        buf = data.tobytes()
        self._joints.write(buf)
        self._hash.update(buf)
        if self._conf is not None:
            conf = seq.confidence if seq.confidence is not None else seq.valid.astype(np.float32)
            cbuf = np.ascontiguousarray(conf, dtype=self.dtype).reshape(m * t, v).tobytes()
            self._conf.write(cbuf)
            self._hash.update(cbuf)
        label = seq.meta.get("label")
        meta = {k: _jsonable(x) for k, x in seq.meta.items()}
        if seq.fps is not None:
            meta["fps"] = seq.fps
        line = json.dumps(meta, sort_keys=True)
        self._meta.write(line + "\n")
        self._hash.update(line.encode())
        self._index.append((self._rows, m, t, -1 if label is None else int(label)))
        self._rows += m * t
        return len(self._index) - 1

    def lengths(self) -> np.ndarray:
        """Frames of each sequence appended so far."""
        return np.array([t for _, _, t, _ in self._index], dtype=np.int64)

    def finalize(self, splits: dict[str, dict[str, list[int]]], manifest: dict[str, Any],
                 report: dict[str, Any], stats_hook: Any = None) -> Path:
        """Write index, splits, manifest and report, then move the folder into place.

        ``stats_hook(store) -> dict`` runs on the complete (still temporary) store; its result is merged
        into ``manifest["stats"]`` before publishing (e.g. value ranges sampled from the data).
        """
        for f in (self._joints, self._conf, self._meta):
            if f is not None:
                f.close()
        index = np.array(self._index, dtype=INDEX_DTYPE)
        np.save(self.tmp / "index.npy", index)
        self._hash.update(index.tobytes())
        splits_text = json.dumps(_jsonable(splits), sort_keys=True)
        (self.tmp / "splits.json").write_text(splits_text)
        self._hash.update(splits_text.encode())
        full = {
            "store_version": STORE_VERSION,
            "format": self.fmt,
            "dims": self.dims,
            "num_joints": self.num_joints,
            "dtype": self.dtype.name,
            "confidence": self.with_confidence,
            "sequences": len(index),
            "rows": self._rows,
            "content_hash": "sha256:" + self._hash.hexdigest(),
            **_jsonable(manifest),
        }
        (self.tmp / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True))
        (self.tmp / "report.json").write_text(json.dumps(_jsonable(report), indent=2))
        if stats_hook is not None and len(index):
            full.setdefault("stats", {}).update(_jsonable(stats_hook(SkeletonStore(self.tmp))))
            (self.tmp / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True))
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        self._done = True
        return self.out

    def abort(self) -> None:
        """Discard the partial store."""
        for f in (self._joints, self._conf, self._meta):
            if f is not None and not f.closed:
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._done = True


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

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by path (DataLoader workers under 'spawn' reopen the memory maps, never copy the data)."""
        return (SkeletonStore, (str(self.path),))

    # --- sizes and tables ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    @property
    def format_spec(self) -> FormatSpec:
        """The skeleton format of the store's sequences."""
        return get_format(self.format)

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
            tmp.write_text(json.dumps(_jsonable(data), indent=2))
        return target

    def __repr__(self) -> str:
        return (f"SkeletonStore({str(self.path)!r}, dataset={self.manifest.get('dataset')!r}, "
                f"format={self.format!r}, sequences={len(self)}, splits={sorted(self.splits)})")
