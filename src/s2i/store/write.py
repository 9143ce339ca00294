"""StoreWriter: stream sequences into a new store folder and publish it atomically (see :mod:`.layout`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import FormatSpec
from ..skeleton import SkeletonSequence
from .layout import FORMAT_FILE, INDEX_DTYPE, STORE_VERSION, StoreError, jsonable
from .lock import StoreLock
from .publish import check_out_path, clean_leftovers, partial_path, publish, recover_interrupted_publish
from .read import SkeletonStore

__all__ = ["StoreWriter"]


class StoreWriter:
    """Append sequences of one format to a new store; :meth:`finalize` publishes it atomically.

    Usage: ``with StoreWriter(out, "ntu25", dims=3, num_joints=25) as w: w.append(seq) ...; w.finalize(...)``.
    Leaving the block without finalize (an error, Ctrl-C) removes the temporary folder.

    The writer holds ``out``'s lock (:mod:`.lock`) from construction to publish or abort; ``root`` (the
    raw data) is checked not to overlap ``out``; only an s2i store is ever replaced (:mod:`.publish`).
    """

    def __init__(self, out: str | Path, fmt: str | FormatSpec, dims: int, num_joints: int, dtype: str = "float32",
                 with_confidence: bool = False, overwrite: bool = False, root: str | Path | None = None) -> None:
        if dtype not in ("float16", "float32"):
            raise ValueError(f"store dtype must be float16 or float32, got {dtype!r}")
        self.out = Path(out)
        self.overwrite = overwrite
        check_out_path(self.out, None if root is None else Path(root), overwrite)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock = StoreLock(self.out).acquire()
        try:
            self.notes = recover_interrupted_publish(self.out)
            if self.notes:  # a restored store must not be replaced without --overwrite
                check_out_path(self.out, None if root is None else Path(root), overwrite)
            self.tmp = partial_path(self.out)
            self.notes += [f"removed {n} (left by a run that was killed)" for n in clean_leftovers(self.out, self.tmp)]
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except BaseException:
            self._lock.release()
            raise
        # the spec itself travels with the store (FORMAT_FILE), so a store made with a user's YAML opens anywhere
        self.spec = fmt if isinstance(fmt, FormatSpec) else None
        self.fmt = fmt.name if isinstance(fmt, FormatSpec) else fmt
        self.dims, self.num_joints = dims, num_joints
        self.dtype = np.dtype(dtype)
        self.with_confidence = with_confidence
        # open for the writer's whole life; closed by finalize() or abort()
        self._joints = open(self.tmp / "joints.bin", "wb")  # noqa: SIM115
        self._conf = open(self.tmp / "confidence.bin", "wb") if with_confidence else None  # noqa: SIM115
        self._meta = open(self.tmp / "meta.jsonl", "w", encoding="utf-8")  # noqa: SIM115
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
        meta = {k: jsonable(x) for k, x in seq.meta.items()}
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
        splits_text = json.dumps(jsonable(splits), sort_keys=True)
        (self.tmp / "splits.json").write_text(splits_text)
        self._hash.update(splits_text.encode())
        if self.spec is not None:
            spec_text = self.spec.to_yaml()
            (self.tmp / FORMAT_FILE).write_text(spec_text, encoding="utf-8")
            self._hash.update(spec_text.encode())
        full = {
            "store_version": STORE_VERSION,
            "format": self.fmt,
            **({"format_file": FORMAT_FILE} if self.spec is not None else {}),
            "dims": self.dims,
            "num_joints": self.num_joints,
            "dtype": self.dtype.name,
            "confidence": self.with_confidence,
            "sequences": len(index),
            "rows": self._rows,
            "content_hash": "sha256:" + self._hash.hexdigest(),
            **jsonable(manifest),
        }
        (self.tmp / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True))
        (self.tmp / "report.json").write_text(json.dumps(jsonable(report), indent=2))
        if stats_hook is not None and len(index):
            full.setdefault("stats", {}).update(jsonable(stats_hook(SkeletonStore(self.tmp))))
            (self.tmp / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True))
        if not self._lock.owns():
            raise StoreError(f"{self.out}: the lock {self._lock.path} was taken over by another run (this run was"
                             " presumed dead); not publishing")
        publish(self.tmp, self.out, self.overwrite)
        self._done = True
        self._lock.release()
        return self.out

    def refresh_lock(self) -> None:
        """Show other hosts this run is alive (call now and then during a long run)."""
        self._lock.refresh()

    def abort(self) -> None:
        """Discard the partial store."""
        for f in (self._joints, self._conf, self._meta):
            if f is not None and not f.closed:
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._done = True
        self._lock.release()

