"""PYSKL / MMAction2 skeleton annotation pickles, read with a restricted unpickler, and written back.

Layout (pyskl tools/data/README.md): ``{'split': {name: [frame_dir, ...]}, 'annotations': [{'frame_dir',
'label', 'keypoint' (M, T, V, C), optional 'keypoint_score' (M, T, V), 'total_frames', 'img_shape',
...}, ...]}``; older MMAction2 files are the bare annotation list. Unpickling runs no code from the
file: only plain containers and numeric/string NumPy arrays can be rebuilt, and array and dtype states
are checked before NumPy sees them (a forged dtype state can make NumPy read memory as pointers).
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import pickletools
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..formats import FormatSpecError, get_format
from ..skeleton import SkeletonSequence, SkeletonValidationError
from .base import ReaderError, read_bytes

__all__ = ["safe_load_pickle", "read_pyskl", "write_pyskl", "infer_pyskl_format"]

MAX_DEPTH = 64            # nesting depth of containers accepted in a pickle
_DTYPE_KINDS = "biufcUS"  # bool, integers, floats, complex, fixed-width strings: no objects, no voids
_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1"}


class _Forbidden(Exception):
    """A pickle asked for something the restricted unpickler does not build."""


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` inside a pickle: usable only as _reconstruct's first argument."""

    def __repr__(self) -> str:
        return "<numpy.ndarray placeholder>"


_NDARRAY = _NdarrayToken()


class _DtypeSpec:
    """A dtype as the pickle describes it (constructor args + state); resolved to a plain NumPy dtype
    of an allowed kind only, never by handing NumPy the pickle's state (whose flags NumPy trusts)."""

    def __init__(self, *args: Any) -> None:
        if not args or not isinstance(args[0], str) or len(args[0]) > 16:
            raise _Forbidden(f"numpy.dtype{args!r:.60}: only simple dtype names are accepted")
        self.args = args
        self.state: Any = None
        self._dtype: np.dtype | None = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def resolve(self) -> np.dtype:
        if self._dtype is not None:
            return self._dtype
        try:
            dt = np.dtype(self.args[0])
        except (TypeError, ValueError) as e:
            raise _Forbidden(f"unknown dtype {self.args[0]!r}: {e}") from None
        if dt.kind not in _DTYPE_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise _Forbidden(f"dtype {self.args[0]!r} (kind {dt.kind!r}) is not a plain numeric or string dtype")
        st = self.state
        if st is not None:
            if not isinstance(st, tuple) or len(st) < 5 or any(x is not None for x in st[2:5]):
                raise _Forbidden(f"dtype {self.args[0]!r}: unsupported state {st!r:.80}")
            order = st[1]
            if order not in ("<", ">", "|", "="):
                raise _Forbidden(f"dtype {self.args[0]!r}: byte order {order!r}")
            if dt.kind in "US" and dt.itemsize == 0 and len(st) > 5 and isinstance(st[5], int):
                n = st[5] // (4 if dt.kind == "U" else 1)
                if not 0 < n <= 2**20:
                    raise _Forbidden(f"dtype {self.args[0]!r}: item size {st[5]}")
                dt = np.dtype(f"{dt.kind}{n}")
            if order in "<>" and dt.itemsize > 1:
                dt = dt.newbyteorder(order)
        self._dtype = dt
        return dt


def _as_dtype(d: Any) -> np.dtype:
    if isinstance(d, _DtypeSpec):
        return d.resolve()
    raise _Forbidden(f"expected a dtype, got {type(d).__name__}")


class _ArrayBuilder:
    """Result of ``_reconstruct``; its ``__setstate__`` checks shape, dtype and byte count, then builds
    the array with ``np.frombuffer`` (no allocation beyond the bytes the file really holds)."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Forbidden("ndarray state must be a 4- or 5-tuple")
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, raw = state
        self.array = _build_array(raw, dtype, shape, "F" if fortran else "C")


def _check_shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise _Forbidden(f"array shape must be a tuple of non-negative ints, got {shape!r:.60}")
    return shape


def _build_array(raw: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    dt = _as_dtype(dtype)
    shape = _check_shape(shape)
    if order not in ("C", "F"):
        raise _Forbidden(f"array order must be 'C' or 'F', got {order!r:.20}")
    if isinstance(raw, str):  # protocol 0/1 arrays store latin-1 text
        raw = raw.encode("latin-1")
    if isinstance(raw, pickle.PickleBuffer):
        raw = raw.raw()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise _Forbidden(f"array data must be bytes, got {type(raw).__name__}")
    need = math.prod(shape) * dt.itemsize
    if len(raw) != need:
        raise _Forbidden(f"array of shape {shape} and dtype {dt} needs {need} bytes, the pickle holds {len(raw)}")
    return np.frombuffer(raw, dtype=dt).reshape(shape, order=order).copy()


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> _ArrayBuilder:
    if subtype is not _NDARRAY:
        raise _Forbidden(f"_reconstruct of {subtype!r:.40}: only numpy.ndarray is allowed")
    if not isinstance(shape, tuple) or math.prod(_check_shape(shape)) > 16:
        raise _Forbidden("_reconstruct must start from an empty array")
    return _ArrayBuilder()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    return _build_array(buf, dtype, shape, order)


def _scalar(dtype: Any, raw: Any = None) -> Any:
    dt = _as_dtype(dtype)
    if not isinstance(raw, bytes) or len(raw) != dt.itemsize:
        raise _Forbidden(f"numpy scalar of {dt} needs {dt.itemsize} bytes")
    return np.frombuffer(raw, dtype=dt)[0]


def _codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Protocol 2 stores bytes as ``_codecs.encode(text, 'latin1')``; nothing else is accepted."""
    if not isinstance(obj, str) or not isinstance(encoding, str) or encoding.lower() not in _LATIN1:
        raise _Forbidden(f"_codecs.encode with encoding {encoding!r:.30}: only latin-1 text is accepted")
    return obj.encode("latin-1")


def _bytes(*args: Any) -> bytes:
    if args:
        raise _Forbidden("bytes(...) with arguments")
    return b""


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], Any] = {
    **{(m, "_reconstruct"): _reconstruct for m in _NUMPY_MODULES},
    **{(m, "scalar"): _scalar for m in _NUMPY_MODULES},
    **{(m, "_frombuffer"): _frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeSpec,
    ("_codecs", "encode"): _codecs_encode,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{(b, n): f for b in ("builtins", "__builtin__") for n, f in (
        ("set", set), ("frozenset", frozenset), ("complex", complex), ("slice", slice), ("bytes", _bytes))},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise _Forbidden(f"forbidden global {module}.{name} (only containers and NumPy arrays"
                             " are unpickled)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Forbidden("persistent ids are not supported")


def _prescan(data: bytes) -> None:
    """Walk the opcodes without building anything: catches truncation and memo indices far beyond
    the number of objects (the C unpickler would size its memo table to such an index)."""
    for n, (op, arg, _) in enumerate(pickletools.genops(io.BytesIO(data)), start=1):
        if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and (not isinstance(arg, int) or arg > n):
            raise _Forbidden(f"memo index {arg} after only {n} opcodes")


def _finish(obj: Any) -> Any:
    """Swap array builders / dtype specs for the real objects, walking containers (cycles allowed)."""
    seen: dict[int, Any] = {}

    def walk(x: Any, depth: int) -> Any:
        if isinstance(x, _ArrayBuilder):
            if x.array is None:
                raise _Forbidden("ndarray without a state")
            return x.array
        if isinstance(x, _DtypeSpec):
            return x.resolve()
        if isinstance(x, _NdarrayToken):
            raise _Forbidden("bare numpy.ndarray reference")
        if isinstance(x, (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, slice)):
            return x
        if depth > MAX_DEPTH:
            raise _Forbidden(f"containers nested deeper than {MAX_DEPTH}")
        key = id(x)
        if key in seen:
            return seen[key]
        if isinstance(x, dict):
            seen[key] = x
            for k in list(x):
                if isinstance(k, (_ArrayBuilder, _DtypeSpec, _NdarrayToken)):
                    raise _Forbidden("array or dtype used as a dict key")
                x[k] = walk(x[k], depth + 1)
            return x
        if isinstance(x, list):
            seen[key] = x
            for i, v in enumerate(x):
                x[i] = walk(v, depth + 1)
            return x
        if isinstance(x, tuple):
            out = tuple(walk(v, depth + 1) for v in x)
            seen[key] = out
            return out
        if isinstance(x, (set, frozenset)):
            if any(isinstance(v, (_ArrayBuilder, _DtypeSpec, _NdarrayToken)) for v in x):
                raise _Forbidden("array or dtype inside a set")
            seen[key] = x
            return x
        raise _Forbidden(f"unexpected object of type {type(x).__name__}")

    return walk(obj, 0)


def safe_load_pickle(path: str | Path) -> Any:
    """Unpickle a file allowing only plain containers and numeric/string NumPy arrays and scalars;
    anything else (os.system, eval, custom classes, object arrays) raises ReaderError naming it."""
    p = Path(path)
    data = read_bytes(p, what="pickle")
    if not data:
        raise ReaderError(p, "empty file: not a pickle")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protocol-0 escapes in corrupt files warn
            _prescan(data)
            obj = _RestrictedUnpickler(io.BytesIO(data)).load()
        return _finish(obj)
    except _Forbidden as e:
        raise ReaderError(p, f"refused pickle: {e}") from None
    except RecursionError:
        raise ReaderError(p, "pickle nested too deeply") from None
    except MemoryError:
        raise ReaderError(p, "pickle declares more data than can be held (corrupt file?)") from None
    except Exception as e:  # noqa: BLE001 - any decoding failure of an untrusted file is a parse error
        raise ReaderError(p, f"not a valid pickle ({type(e).__name__}: {str(e)[:120]})") from None


# --- PYSKL annotations --------------------------------------------------------------------------

def infer_pyskl_format(v: int, c: int, has_score: bool) -> str | None:
    """Format from the keypoint shape: (25, 3) ntu25; (17, 2) coco17; (17, 3) + scores coco17 (the
    third channel is then taken as a score); None when ambiguous (pass ``format``)."""
    if (v, c) == (25, 3):
        return "ntu25"
    if (v, c) == (17, 2) or ((v, c) == (17, 3) and has_score):
        return "coco17"
    return None


def _scalar_meta(value: Any) -> Any:
    """A plain-Python copy of simple annotation fields (scalars, short tuples of scalars), else None."""
    if isinstance(value, (np.generic,)) and value.dtype.kind in "biufUS":
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (tuple, list)) and len(value) <= 8:
        items = [_scalar_meta(v) for v in value]
        if all(isinstance(v, (str, bool, int, float)) for v in items):
            return tuple(items)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size <= 8 and value.dtype.kind in "biuf":
        return tuple(value.tolist())
    return None


def _annotation(p: Path, i: int, ann: Any, fmt: str | None) -> SkeletonSequence:
    if not isinstance(ann, dict):
        raise ReaderError(p, f"annotation {i}: expected a dict, got {type(ann).__name__}")
    name = ann.get("frame_dir", f"#{i}")
    where = f"annotation {i} ({str(name)[:60]})"
    if "keypoint" not in ann:
        extra = " (PYSKL Kinetics kpfiles are not supported)" if "raw_file" in ann else ""
        raise ReaderError(p, f"{where}: no 'keypoint' array{extra}")
    kp = ann["keypoint"]
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in "iuf" or kp.ndim != 4:
        shape = getattr(kp, "shape", None)
        raise ReaderError(p, f"{where}: 'keypoint' must be a numeric array (M, T, V, C),"
                          f" got {type(kp).__name__} {shape}")
    m, t, v, c = kp.shape
    score = ann.get("keypoint_score")
    if score is not None and (
            not isinstance(score, np.ndarray) or score.dtype.kind not in "iuf" or score.shape != (m, t, v)):
            raise ReaderError(p, f"{where}: 'keypoint_score' must be a numeric array of shape {(m, t, v)},"
                              f" got {getattr(score, 'shape', type(score).__name__)}")
    name_fmt = fmt or infer_pyskl_format(v, c, score is not None)
    if name_fmt is None:
        raise ReaderError(p, f"{where}: cannot tell the skeleton format of keypoints with V={v}, C={c};"
                          " pass format=")
    try:
        spec = get_format(name_fmt)
    except FormatSpecError as e:
        raise ReaderError(p, str(e)) from None
    if v != spec.num_joints:
        raise ReaderError(p, f"{where}: format {spec.name} has {spec.num_joints} joints, keypoints have V={v}")
    if c == spec.dims:
        sel = kp
    elif spec.dims == 2 and c == 3:  # (x, y, score) packed
        sel = kp[..., :2]
        if score is None:
            score = kp[..., 2]
    else:
        raise ReaderError(p, f"{where}: format {spec.name} is {spec.dims}D, keypoints have C={c}")
    with np.errstate(over="ignore", invalid="ignore"):
        xyz = sel.astype(np.float32)
        conf = None if score is None else np.nan_to_num(np.asarray(score, dtype=np.float32), nan=0.0,
                                                         posinf=0.0, neginf=0.0)
    if np.isinf(xyz).any():
        raise ReaderError(p, f"{where}: infinite keypoint coordinate (or beyond float32 range)")
    meta: dict[str, Any] = {"source": str(p), "index": i}
    for k, val in ann.items():
        if k in ("keypoint", "keypoint_score"):
            continue
        sv = _scalar_meta(val)
        if sv is not None:
            meta[k] = sv
    meta.pop("frame_dir", None)
    meta["name"] = str(name)
    if "label" in ann:
        lab = ann["label"]
        if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
            meta["label"] = int(lab)
        else:
            raise ReaderError(p, f"{where}: 'label' must be an integer, got {lab!r:.40}")
    if m == 0 or t == 0:
        meta["all_missing"] = True
        return SkeletonSequence(np.full((1, 1, v, spec.dims), np.nan, np.float32), format=spec.name,
                                confidence=None if conf is None else np.zeros((1, 1, v), np.float32), meta=meta)
    zero = (xyz == 0).all(axis=-1)
    xyz[zero] = np.nan
    keep = np.asarray(~np.isnan(xyz).all(axis=(1, 2, 3)))
    if not keep.any():
        meta["all_missing"] = True
        keep[0] = True
    elif not keep.all():
        meta["persons_dropped"] = int((~keep).sum())
    if conf is not None:
        conf = conf[keep]
    try:
        return SkeletonSequence(xyz[keep], format=spec.name, confidence=conf, meta=meta)
    except SkeletonValidationError as e:
        raise ReaderError(p, f"{where}: {e}") from None


def read_pyskl(path: str | Path, format: str | None = None) -> tuple[list[SkeletonSequence], dict[str, list[str]]]:
    """Read a PYSKL annotation pickle -> (sequences, split). Zero keypoints become NaN and persons
    that are zero throughout are dropped; meta holds frame_dir as ``name``, ``label`` and the simple
    scalar fields (total_frames, img_shape, ...). ``format`` overrides the V/C-based inference."""
    p = Path(path)
    obj = safe_load_pickle(p)
    if isinstance(obj, list):
        anns, split = obj, {}
    elif isinstance(obj, dict) and "annotations" in obj:
        anns, split = obj["annotations"], obj.get("split", {})
    else:
        raise ReaderError(p, "expected a PYSKL dict {'split', 'annotations'} or a list of annotations,"
                          f" got {type(obj).__name__}")
    if not isinstance(anns, list):
        raise ReaderError(p, f"'annotations' must be a list, got {type(anns).__name__}")
    if not isinstance(split, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v)
            for k, v in split.items()):
        raise ReaderError(p, "'split' must map split names to lists of frame_dir strings")
    seqs = [_annotation(p, i, ann, format) for i, ann in enumerate(anns)]
    return seqs, {k: list(v) for k, v in split.items()}


_SHAPE_KEYS = ("img_shape", "original_shape")


def write_pyskl(path: str | Path, sequences: list[SkeletonSequence], split: dict[str, list[str]]) -> None:
    """Write sequences as a PYSKL annotation pickle (protocol 4), atomically. frame_dir is
    meta["name"] (else the source file's stem) and must be unique; NaN joints are written as 0;
    ``label`` is written when meta has one, ``keypoint_score`` when the sequence has confidence."""
    anns: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, seq in enumerate(sequences):
        name = seq.meta.get("name")
        if name is None and seq.meta.get("source"):
            name = Path(str(seq.meta["source"])).stem
        if name is None:
            raise ValueError(f"sequence {i}: needs meta['name'] or meta['source'] to make a frame_dir")
        name = str(name)
        if name in seen:
            raise ValueError(f"sequences {seen[name]} and {i} share the frame_dir {name!r}; set distinct meta['name']")
        seen[name] = i
        ann: dict[str, Any] = {
            "frame_dir": name,
            "total_frames": seq.num_frames,
            "keypoint": np.nan_to_num(seq.joints, nan=0.0).astype(np.float32),
        }
        if seq.confidence is not None:
            ann["keypoint_score"] = np.nan_to_num(seq.confidence, nan=0.0).astype(np.float32)
        label = seq.meta.get("label")
        if label is not None:
            ann["label"] = int(label)
        for k in _SHAPE_KEYS:
            shp = seq.meta.get(k)
            if isinstance(shp, (tuple, list)) and len(shp) == 2:
                ann[k] = (int(shp[0]), int(shp[1]))
        anns.append(ann)
    if not isinstance(split, dict):
        raise ValueError("split must be a dict {name: [frame_dir, ...]}")
    out_split: dict[str, list[str]] = {}
    for k, names in split.items():
        out_split[str(k)] = [str(n) for n in names]
        unknown = [n for n in out_split[k] if n not in seen]
        if unknown:
            raise ValueError(f"split {k!r} names {len(unknown)} frame_dir(s) not among the sequences,"
                             f" e.g. {unknown[0]!r}")
    with atomic_path(path, suffix=".pkl") as tmp, open(tmp, "wb") as f:
        pickle.dump({"split": out_split, "annotations": anns}, f, protocol=4)

