"""A restricted unpickler: plain containers and numeric/string NumPy arrays, nothing else.

Unpickling runs no code from the file: only the allowlisted globals below can be named, each one a
wrapper that refuses BUILD (``__setstate__``), so a crafted pickle cannot alter s2i's own module state
(functions, classes) through them; BUILD is accepted only on the array builder and dtype placeholders of
a NumPy array reconstruction, whose states are checked before NumPy sees them (a forged dtype state can
make NumPy read memory as pointers). Used for PYSKL / MMAction2 annotation files and label pickles.
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

from .base import ReaderError, read_bytes

__all__ = ["safe_load_pickle", "MAX_DEPTH"]

MAX_DEPTH = 64            # nesting depth of containers accepted in a pickle
_DTYPE_KINDS = "biufcUS"  # bool, integers, floats, complex, fixed-width strings: no objects, no voids
_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1"}


class _Forbidden(Exception):
    """A pickle asked for something the restricted unpickler does not build."""


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` inside a pickle: usable only as _reconstruct's first argument."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<numpy.ndarray placeholder>"

    def __setstate__(self, state: Any) -> None:
        raise _Forbidden("BUILD (object state) on numpy.ndarray itself")


class _Global:
    """What an allowlisted global name unpickles to: calls go to ``fn``; BUILD (``__setstate__``) is
    refused, so a pickle cannot set attributes of s2i's functions and classes (which would change how
    every later file is read, e.g. let a structured dtype past the allowlist)."""

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Any) -> None:
        self.name, self.fn = name, fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        raise _Forbidden(f"BUILD (object state) on the global {self.name}: only array reconstructions take a state")

    def __reduce__(self) -> Any:
        raise _Forbidden(f"the global {self.name} cannot be pickled again")


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


_GLOBALS: dict[tuple[str, str], Any] = {
    k: (v if v is _NDARRAY else _Global(f"{k[0]}.{k[1]}", v)) for k, v in _ALLOWED.items()}


class _OrderedDict(collections.OrderedDict):
    """collections.OrderedDict as unpickled: a plain container, no state to BUILD."""

    def __setstate__(self, state: Any) -> None:
        raise _Forbidden("BUILD (object state) on an OrderedDict")


_GLOBALS[("collections", "OrderedDict")] = _Global("collections.OrderedDict", _OrderedDict)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
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


_PLACEHOLDERS = (_ArrayBuilder, _DtypeSpec, _NdarrayToken)
_SCALARS = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, slice)


class _Finisher:
    """Swaps array builders / dtype specs for the real objects, walking containers (cycles allowed)."""

    def __init__(self) -> None:
        self.seen: dict[int, Any] = {}

    def walk(self, x: Any, depth: int) -> Any:
        if isinstance(x, _PLACEHOLDERS):
            return self._placeholder(x)
        if isinstance(x, _SCALARS):
            return x
        if depth > MAX_DEPTH:
            raise _Forbidden(f"containers nested deeper than {MAX_DEPTH}")
        key = id(x)
        if key in self.seen:
            return self.seen[key]
        if isinstance(x, dict):
            return self._dict(x, depth)
        if isinstance(x, list):
            self.seen[key] = x
            for i, v in enumerate(x):
                x[i] = self.walk(v, depth + 1)
            return x
        if isinstance(x, tuple):
            out = tuple(self.walk(v, depth + 1) for v in x)
            self.seen[key] = out
            return out
        if isinstance(x, (set, frozenset)):
            if any(isinstance(v, _PLACEHOLDERS) for v in x):
                raise _Forbidden("array or dtype inside a set")
            self.seen[key] = x
            return x
        raise _Forbidden(f"unexpected object of type {type(x).__name__}")

    @staticmethod
    def _placeholder(x: Any) -> Any:
        if isinstance(x, _ArrayBuilder):
            if x.array is None:
                raise _Forbidden("ndarray without a state")
            return x.array
        if isinstance(x, _DtypeSpec):
            return x.resolve()
        raise _Forbidden("bare numpy.ndarray reference")

    def _dict(self, x: dict, depth: int) -> dict:
        if type(x) is not dict and not isinstance(x, collections.OrderedDict):
            raise _Forbidden(f"unexpected mapping of type {type(x).__name__}")
        self.seen[id(x)] = x
        for k in list(x):
            if isinstance(k, _PLACEHOLDERS):
                raise _Forbidden("array or dtype used as a dict key")
            x[k] = self.walk(x[k], depth + 1)
        return x


def _finish(obj: Any) -> Any:
    """The unpickled object with every placeholder replaced by the real array / dtype."""
    return _Finisher().walk(obj, 0)


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
