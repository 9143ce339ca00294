"""StoreWriter: stream sequences into a new store folder and publish it atomically (see :mod:`.layout`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import FormatSpec
from ..skeleton import SkeletonSequence
from .layout import FORMAT_FILE, INDEX_DTYPE, STORE_VERSION, StoreError, jsonable
from .read import SkeletonStore

__all__ = ["StoreWriter"]


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

    def __init__(self, out: str | Path, fmt: str | FormatSpec, dims: int, num_joints: int, dtype: str = "float32",
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

