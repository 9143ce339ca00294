"""Store integrity: cheap structural checks on every open, and a full content-hash verification.

:func:`check_manifest` / :func:`check_index` / :func:`check_splits` run when a store is opened (they read
only the manifest, the index and file sizes: milliseconds even for NTU-120), so a damaged store fails
with the file and field named instead of handing out garbage. :func:`verify_content` re-reads every byte
that the content hash covers (joints, confidence, metadata lines, index, splits) in the writer's order
and compares it with ``manifest.json``'s ``content_hash`` (``s2i inspect STORE --verify``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .layout import INDEX_DTYPE, STORE_VERSION, StoreError

__all__ = ["VerifyResult", "check_index", "check_manifest", "check_splits", "verify_content"]

_DTYPES = ("float16", "float32")


def _int_field(mf: dict[str, Any], path: Path, key: str, lo: int, hi: int | None = None) -> int:
    v = mf.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise StoreError(f"{path}: field {key!r} must be an integer {bound}, got {v!r:.60}")
    return v


def check_manifest(path: Path, mf: Any) -> None:
    """Types and ranges of the manifest fields the reader relies on."""
    if not isinstance(mf, dict):
        raise StoreError(f"{path}: expected a JSON object, got {type(mf).__name__}")
    if mf.get("store_version") != STORE_VERSION:
        raise StoreError(f"{path}: store version {mf.get('store_version')!r} is not {STORE_VERSION}")
    if mf.get("dtype") not in _DTYPES:
        raise StoreError(f"{path}: field 'dtype' must be one of {_DTYPES}, got {mf.get('dtype')!r:.40}")
    if not isinstance(mf.get("format"), str) or not mf["format"]:
        raise StoreError(f"{path}: field 'format' must be a format name, got {mf.get('format')!r:.60}")
    _int_field(mf, path, "dims", 2, 3)
    _int_field(mf, path, "num_joints", 1, 10_000)
    _int_field(mf, path, "rows", 0)
    _int_field(mf, path, "sequences", 0)
    names = mf.get("class_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise StoreError(f"{path}: field 'class_names' must be a list of names or null")
    if not isinstance(mf.get("content_hash"), str) or not mf["content_hash"].startswith("sha256:"):
        raise StoreError(f"{path}: field 'content_hash' must be 'sha256:...', got {mf.get('content_hash')!r:.60}")
    try:
        from ..formats import get_format

        spec = get_format(mf["format"])
    except (ValueError, OSError):  # a custom YAML format that is not here: nothing to compare with
        return
    if (spec.num_joints, spec.dims) != (mf["num_joints"], mf["dims"]):
        raise StoreError(f"{path}: field 'format' is {mf['format']!r} ({spec.num_joints} joints, {spec.dims}D) but"
                         f" 'num_joints' / 'dims' say {mf['num_joints']} / {mf['dims']}")


def check_index(path: Path, index: np.ndarray, mf: dict[str, Any]) -> None:
    """The index of ``mf['sequences']`` rows tiles ``[0, rows)`` in order; labels within the class list."""
    f = path / "index.npy"
    if index.dtype != INDEX_DTYPE or index.ndim != 1:
        raise StoreError(f"{f}: expected a 1-D array of {INDEX_DTYPE.descr},"
                         f" got {index.dtype} with shape {index.shape}")
    if len(index) != mf["sequences"]:
        raise StoreError(f"{f}: {len(index)} entries but manifest.json field 'sequences' says {mf['sequences']}")
    if not len(index):
        if mf["rows"]:
            raise StoreError(f"{f}: no entries but manifest.json field 'rows' says {mf['rows']}")
        return
    persons, frames = index["persons"].astype(np.int64), index["frames"].astype(np.int64)
    for name, col in (("persons", persons), ("frames", frames)):
        bad = np.flatnonzero(col < 1)
        if bad.size:
            raise StoreError(f"{f}: sequence {int(bad[0])}: field {name!r} is {int(col[bad[0]])}, must be >= 1")
    ends = np.cumsum(persons * frames)
    starts = np.concatenate([[0], ends[:-1]])
    bad = np.flatnonzero(index["offset"] != starts)
    if bad.size:
        i = int(bad[0])
        raise StoreError(f"{f}: sequence {i}: field 'offset' is {int(index['offset'][i])}, expected {int(starts[i])}"
                         " (offsets must follow the previous sequence's persons x frames)")
    if int(ends[-1]) != mf["rows"]:
        raise StoreError(f"{f}: sequences cover {int(ends[-1])} rows but manifest.json field 'rows' says {mf['rows']}")
    labels = index["label"]
    n_classes = len(mf["class_names"]) if mf.get("class_names") else None
    hi = n_classes - 1 if n_classes else np.iinfo(np.int32).max
    bad = np.flatnonzero((labels < -1) | (labels > hi))
    if bad.size:
        i = int(bad[0])
        raise StoreError(f"{f}: sequence {i}: field 'label' is {int(labels[i])}, outside the"
                         f" {n_classes} classes of manifest.json (0..{hi}, or -1 for unlabelled)")


def check_splits(path: Path, splits: Any, n: int) -> dict[str, dict[str, list[int]]]:
    """``{split: {subset: [ids]}}`` with every id in ``[0, n)``."""
    f = path / "splits.json"
    if not isinstance(splits, dict):
        raise StoreError(f"{f}: expected an object {{split: {{subset: [ids]}}}}, got {type(splits).__name__}")
    for name, parts in splits.items():
        if not isinstance(parts, dict):
            raise StoreError(f"{f}: split {name!r} must be an object {{subset: [ids]}}, got {type(parts).__name__}")
        for subset, ids in parts.items():
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise StoreError(f"{f}: {name}/{subset} must be a list of integer sequence ids")
            bad = [i for i in ids if not 0 <= i < n]
            if bad:
                raise StoreError(f"{f}: {name}/{subset}: sequence id {bad[0]} is outside 0..{n - 1}")
    return splits


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_content`."""

    ok: bool
    expected: str
    actual: str
    bytes_read: int
    seconds: float


def verify_content(store: Any, chunk_rows: int = 1 << 16) -> VerifyResult:
    """Recompute the content hash of an open :class:`~s2i.store.SkeletonStore` and compare it.

    Reads the joints (and confidence) of each sequence, its metadata line, the index, splits.json and
    the format spec file in the order the writer hashed them.
    """
    t0 = time.perf_counter()
    h = hashlib.sha256()
    path = Path(store.path)
    nbytes = 0
    joints, conf = store._joints, store._conf
    with open(path / "meta.jsonl", "rb") as meta:
        for i, (off, m, t, _) in enumerate(store.index.tolist()):
            rows = m * t
            for s in range(off, off + rows, chunk_rows):
                buf = np.ascontiguousarray(joints[s: min(off + rows, s + chunk_rows)]).tobytes()
                h.update(buf)
                nbytes += len(buf)
            if conf is not None:
                buf = np.ascontiguousarray(conf[off: off + rows]).tobytes()
                h.update(buf)
                nbytes += len(buf)
            line = meta.readline()
            if not line.endswith(b"\n"):
                raise StoreError(f"{path / 'meta.jsonl'}: ends at line {i + 1}, expected {len(store.index)} lines")
            h.update(line[:-1])
            nbytes += len(line)
    h.update(store.index.tobytes())
    splits = (path / "splits.json").read_bytes()
    h.update(splits)
    nbytes += len(splits) + store.index.nbytes
    fmt_file = store.manifest.get("format_file")
    if fmt_file:  # the store's own format spec (a user's YAML) is part of its content
        spec = (path / str(fmt_file)).read_bytes()
        h.update(spec)
        nbytes += len(spec)
    actual = "sha256:" + h.hexdigest()
    expected = str(store.manifest.get("content_hash"))
    return VerifyResult(actual == expected, expected, actual, nbytes, time.perf_counter() - t0)


def load_json(f: Path) -> Any:
    """A JSON file of the store; a StoreError naming the file and line when it is not valid JSON."""
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{f}: missing (incomplete store)") from None
    except UnicodeDecodeError as e:
        raise StoreError(f"{f}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise StoreError(f"{f}:{e.lineno}: invalid JSON ({e.msg})") from None
