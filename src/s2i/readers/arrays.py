"""Generic NumPy skeleton arrays: batched ``.npy`` / ``.npz`` files (ST-GCN layout (N, C, T, V, M) and
others) and single-sequence arrays (M, T, V, C) or (T, V, C).

Zero padding is the convention of these files: trailing all-zero frames mark the end of a shorter
sequence, an all-zero person is absent, and a joint whose coordinates are all 0 is missing (-> NaN).
Files are opened with ``allow_pickle=False`` and ``.npy`` files memory-mapped, so one sample is
materialised at a time. A 2D format given 3 channels takes the third as a confidence (x, y, score).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format as npformat

from ..formats import FormatSpec, FormatSpecError, get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, check_allocation, check_regular_file, max_file_bytes, register_reader

__all__ = ["read_npy_array", "iter_npy_array", "read_npy_sequence", "read_sequence_array", "DATA_KEYS", "LABEL_KEYS"]

DATA_KEYS = ("x_data", "data", "x")
LABEL_KEYS = ("y", "labels", "label")


def _spec(p: Path, format: str | FormatSpec) -> FormatSpec:
    try:
        return get_format(format)
    except FormatSpecError as e:
        raise ReaderError(p, str(e)) from None


def _check_npy_size(p: Path) -> None:
    """Compare a .npy header's shape x itemsize with the bytes the file holds (exact Python ints)."""
    with open(p, "rb") as f:
        version = npformat.read_magic(f)
        read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, _, dtype = read_header(f)
        offset = f.tell()
    need = math.prod(shape) * dtype.itemsize
    have = p.stat().st_size - offset
    if need > have:
        raise ReaderError(p, f"header declares shape {shape} {dtype} ({need} bytes) but the file holds"
                          f" {have} bytes of data (truncated or corrupt)")


def _load(p: Path) -> Any:
    """np.load without pickles; .npy memory-mapped. Every failure becomes a ReaderError."""
    st = check_regular_file(p)
    if st.st_size > max_file_bytes() and not p.suffix.lower() == ".npy":  # .npy is memory-mapped, not read
        raise ReaderError(p, f"file is {st.st_size} bytes, more than the per-file cap of {max_file_bytes()} bytes"
                          " (set S2I_MAX_FILE_MB to raise it)")
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise ReaderError(p, f"cannot read file ({e.strerror})") from None
    if not magic:
        raise ReaderError(p, "empty file: not a .npy/.npz array")
    try:
        if magic.startswith(b"PK"):
            return np.load(p, allow_pickle=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Python-2 headers and overflow in NumPy's size arithmetic
            _check_npy_size(p)
            return np.load(p, mmap_mode="r", allow_pickle=False)
    except ReaderError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy/zipfile raise many types on a corrupt file
        raise ReaderError(p, f"not a readable .npy/.npz array ({type(e).__name__}: {str(e)[:120]})") from None


def _check_npz_member(p: Path, z: Any, key: str) -> None:
    """Compare the member's declared shape with its size in the archive before NumPy allocates it."""
    names = z.zip.namelist()
    member = key if key in names else f"{key}.npy"
    info = z.zip.getinfo(member)
    with z.zip.open(info) as f:
        version = npformat.read_magic(f)
        read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, _, dtype = read_header(f)
        need = f.tell() + math.prod(shape) * dtype.itemsize
    if need != info.file_size:
        raise ReaderError(p, f"array {key!r} declares shape {shape} {dtype} ({need} bytes with its header)"
                          f" but the archive holds {info.file_size} bytes")
    check_allocation(p, need, f"array {key!r} of the .npz (shape {shape} {dtype})")


def _npz_get(p: Path, z: Any, key: str) -> np.ndarray:
    try:
        _check_npz_member(p, z, key)
        return z[key]
    except ReaderError:
        raise
    except Exception as e:  # noqa: BLE001 - zlib.error, BadZipFile, EOFError, ValueError, ...
        raise ReaderError(p, f"array {key!r} in the .npz cannot be read ({type(e).__name__}:"
                          f" {str(e)[:120]})") from None


def _check_numeric(p: Path, a: np.ndarray, what: str) -> None:
    if a.dtype.kind not in "iuf":
        raise ReaderError(p, f"{what} must be a numeric array, got dtype {a.dtype}")


def _parse_layout(p: Path, layout: str, ndim: int) -> tuple[int, ...]:
    """Axis order taking the file's layout to (N, M, T, V, C); M optional (then size 1)."""
    lay = layout.upper()
    if sorted(lay) not in (sorted("NCTV"), sorted("NCTVM")):
        raise ReaderError(p, f"layout {layout!r} must be a permutation of NCTVM or NCTV (e.g. NCTVM, NTVC, NMTVC)")
    if len(lay) != ndim:
        raise ReaderError(p, f"layout {layout!r} has {len(lay)} axes, the array has {ndim}")
    return tuple(lay.index(a) for a in "NMTVC" if a in lay)


def _clean(p: Path, arr: np.ndarray, spec: FormatSpec, where: str, meta: dict) -> SkeletonSequence:
    """(M, T, V, C) float array -> sequence: trim trailing zero frames, drop zero persons, 0 -> NaN."""
    m, t, v, c = arr.shape
    if v != spec.num_joints:
        raise ReaderError(p, f"{where}: format {spec.name} has {spec.num_joints} joints, the array has V={v}")
    if c == spec.dims:
        xyz, conf = arr, None
    elif spec.dims == 2 and c == 3:
        xyz, conf = arr[..., :2], arr[..., 2]
    else:
        raise ReaderError(p, f"{where}: format {spec.name} is {spec.dims}D, the array has C={c} channels")
    if np.isinf(arr).any():
        pm, pt, pv, _ = (int(i) for i in np.argwhere(np.isinf(arr))[0])
        raise ReaderError(p, f"{where}: infinite value (or beyond float32 range) at person {pm}, frame {pt},"
                          f" joint {pv}")
    zero = (xyz == 0).all(axis=-1)                     # (M, T, V): joint missing
    if conf is not None:
        blank = zero & ((conf == 0) | np.isnan(conf))  # padding zeros also have score 0
    else:
        blank = zero
    frames = np.flatnonzero(~blank.all(axis=(0, 2)))
    absent = ~(~zero & ~np.isnan(xyz).any(axis=-1)).reshape(m, t * v).any(axis=1)  # (M,): no joint seen
    meta = dict(meta)
    if frames.size == 0 or absent.all():
        meta["all_missing"] = True
        joints = np.full((1, 1, v, spec.dims), np.nan, np.float32)
        cf = None if conf is None else np.zeros((1, 1, v), np.float32)
        return SkeletonSequence(joints, format=spec.name, confidence=cf, meta=meta)
    t_valid = int(frames[-1]) + 1
    keep = ~absent
    joints = np.array(xyz[keep, :t_valid], dtype=np.float32)
    joints[zero[keep, :t_valid]] = np.nan
    if keep.sum() < m:
        meta["persons_dropped"] = int(m - keep.sum())
    if t_valid < t:
        meta["padded_frames"] = t - t_valid
    cf = None if conf is None else np.nan_to_num(np.array(conf[keep, :t_valid], dtype=np.float32), nan=0.0)
    return SkeletonSequence(joints, format=spec.name, confidence=cf, meta=meta)


def _labels(p: Path, y: np.ndarray, n: int) -> list[int]:
    y = np.asarray(y)
    _check_numeric(p, y, "the label array")
    if y.ndim == 2 and y.shape[0] == n and y.shape[1] > 1:  # one-hot / scores
        return [int(i) for i in np.argmax(y, axis=1)]
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != n:
        raise ReaderError(p, f"label array of shape {y.shape} does not match {n} samples")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise ReaderError(p, "label array holds non-integer values")
    return [int(v) for v in y]


def iter_npy_array(path: str | Path, format: str, layout: str = "NCTVM") -> Iterator[SkeletonSequence]:
    """Yield one sequence per sample of a batched array file, one sample in memory at a time."""
    p = Path(path)
    spec = _spec(p, format)
    obj = _load(p)
    labels: list[int] | None = None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            keys = list(obj.files)
            key = next((k for k in DATA_KEYS if k in keys), None)
            label_keys = [k for k in LABEL_KEYS if k in keys]
            if key is None:
                rest = [k for k in keys if k not in LABEL_KEYS]
                if len(rest) != 1:
                    raise ReaderError(p, f"cannot tell the data array among {keys[:10]}; name it one of"
                                      f" {', '.join(DATA_KEYS)}")
                key = rest[0]
            data = _npz_get(p, obj, key)
            if label_keys:
                y = _npz_get(p, obj, label_keys[0])
    else:
        data, key, label_keys = obj, None, []
    if not isinstance(data, np.ndarray):
        raise ReaderError(p, f"expected an array, got {type(data).__name__}")
    _check_numeric(p, data, "the skeleton array")
    order = _parse_layout(p, layout, data.ndim)
    n = data.shape[order[0]]
    if label_keys:
        labels = _labels(p, y, n)
    base = {"source": str(p)}
    if key is not None:
        base["array"] = key
    for i in range(n):
        sample = np.take(data, i, axis=order[0])  # mmap: reads this sample only
        axes = [a - (a > order[0]) for a in order[1:]]
        sample = np.transpose(sample, axes)
        if sample.ndim == 3:
            sample = sample[None]
        meta = dict(base, index=i, name=f"{p.stem}_{i:06d}")
        if labels is not None:
            meta["label"] = labels[i]
        try:
            with np.errstate(all="ignore"):
                arr = np.asarray(sample, dtype=np.float32)
        except (ValueError, OSError) as e:
            raise ReaderError(p, f"sample {i}: cannot read ({e})") from None
        yield _clean(p, arr, spec, f"sample {i}", meta)


def read_npy_array(path: str | Path, format: str, layout: str = "NCTVM") -> list[SkeletonSequence]:
    """Read a batched .npy/.npz skeleton array -> one sequence per sample (index i = row i), each trimmed
    to its valid length. ``layout`` names the axes (N samples, C coords, T frames, V joints, M persons)."""
    return list(iter_npy_array(path, format, layout))


def read_sequence_array(path: str | Path, format: str | FormatSpec) -> SkeletonSequence:
    """Read a single-sequence .npy (or single-array .npz) of shape (M, T, V, C) or (T, V, C)."""
    p = Path(path)
    spec = _spec(p, format)
    obj = _load(p)
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            keys = list(obj.files)
            key = next((k for k in DATA_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ReaderError(p, f"cannot tell the data array among {keys[:10]}")
            obj = _npz_get(p, obj, key)
    _check_numeric(p, obj, "the skeleton array")
    if obj.ndim == 3:
        obj = obj[None]
    if obj.ndim != 4:
        raise ReaderError(p, f"expected shape (M, T, V, C) or (T, V, C), got {obj.shape}")
    if 0 in obj.shape:
        raise ReaderError(p, f"empty array of shape {obj.shape}")
    with np.errstate(all="ignore"):
        arr = np.asarray(obj, dtype=np.float32)
    return _clean(p, arr, spec, "sequence", {"source": str(p), "name": p.stem})


@register_reader("npy", lambda p: p.suffix.lower() == ".npy")
def read_npy_sequence(path: str | Path, format: str | FormatSpec | None = None) -> SkeletonSequence:
    """One sequence per ``.npy`` file, shape (T, V, C) or (M, T, V, C), NaN for missing joints; the
    joint order (V) is ``format``'s, so it must be given (``--format``)."""
    p = Path(path)
    if format is None:
        raise ReaderError(p, "a per-sequence .npy file of shape (T, V, C) or (M, T, V, C) needs a format"
                             " (--format NAME or YAML): the joint order of its V axis")
    return read_sequence_array(p, format)
