"""UTD-MHAD skeleton files ``aA_sS_tT_skeleton.mat`` (Kinect v1, 20 joints, camera space, metres).

Each file is a MATLAB v5 .mat holding one variable ``d_skel`` of shape (20 joints, 3 xyz, T frames)
in the dataset's own joint order (head first; the ``utd_mhad`` format). Action A (1..27), subject S
(1..8) and trial T (1..4) come from the file name. A joint whose x, y, z are all exactly 0 sits at
the camera centre, which Kinect v1 uses for "not tracked": it becomes NaN (none occur in the release).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from ..skeleton import SkeletonSequence
from .base import ReaderError, read_bytes, register_reader

__all__ = ["read_utd_mhad", "UTD_NAME", "UTD_ACTIONS", "parse_utd_name"]

UTD_NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton")
#: action names, index = 0-based label (dataset paper / website; PROVENANCE.txt)
UTD_ACTIONS: tuple[str, ...] = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)
NUM_JOINTS = 20
MAX_VARIABLES = 256
MAX_BYTES = 64 * 2**20  # a real file is ~20 KB; also the cap on decompressed variable size

# MAT v5 element types and array classes (MATLAB "MAT-File Format" document)
_MI_MATRIX, _MI_COMPRESSED, _MI_INT8, _MI_INT32, _MI_UINT32 = 14, 15, 1, 5, 6
_MI_NUMERIC = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}  # type -> item size
_MX_NUMERIC = range(6, 16)  # double, single, int8 ... uint64
_MX_NAMES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 16: "function", 17: "opaque"}


def parse_utd_name(name: str) -> dict[str, int] | None:
    """``aA_sS_tT_skeleton`` -> {action, subject, trial} (1-based as in the name) or None."""
    m = UTD_NAME.search(name)
    if not m:
        return None
    a, s, t = (int(g) for g in m.groups())
    return {"action": a, "subject": s, "trial": t}


class _MatCorrupt(Exception):
    """Internal: the .mat structure is not what a valid MAT v5 file holds (message says what)."""


def _element(buf: bytes, pos: int, end: int, order: str) -> tuple[int, bytes, int]:
    """One tagged data element at ``pos`` -> (type, payload, position after it, 8-byte aligned)."""
    if pos + 8 > end:
        raise _MatCorrupt(f"corrupt .mat: truncated element tag at byte {pos}")
    mdtype, nbytes = struct.unpack_from(order + "II", buf, pos)
    if mdtype >> 16:  # small data element: size in the upper half, payload in the tag itself
        mdtype, nbytes = mdtype & 0xFFFF, mdtype >> 16
        if nbytes > 4:
            raise _MatCorrupt(f"corrupt .mat: small data element of {nbytes} bytes at byte {pos}")
        return mdtype, buf[pos + 4: pos + 4 + nbytes], pos + 8
    if nbytes > end - pos - 8:
        raise _MatCorrupt(f"corrupt .mat: element at byte {pos} declares {nbytes} bytes,"
                          f" only {end - pos - 8} remain")
    return mdtype, buf[pos + 8: pos + 8 + nbytes], pos + 8 + nbytes + (-nbytes % 8)


def _check_matrix(buf: bytes, order: str, want: str) -> str:
    """Validate one miMATRIX payload's header (flags, dims, name) -> its name; when it is ``want``,
    also its class and data parts, so scipy's reader never sees an unknown type code in them."""
    end = len(buf)
    t, flags, pos = _element(buf, 0, end, order)
    if t != _MI_UINT32 or len(flags) != 8:
        raise _MatCorrupt("corrupt .mat: array flags must be 8 bytes of miUINT32")
    t, dims_raw, pos = _element(buf, pos, end, order)
    if t != _MI_INT32 or len(dims_raw) % 4 or len(dims_raw) < 8:
        raise _MatCorrupt("corrupt .mat: array dimensions must be at least two miINT32 values")
    dims = struct.unpack(order + f"{len(dims_raw) // 4}i", dims_raw)
    if min(dims) < 0:
        raise _MatCorrupt(f"corrupt .mat: negative array dimension in {dims}")
    t, name_raw, pos = _element(buf, pos, end, order)
    if t != _MI_INT8:
        raise _MatCorrupt("corrupt .mat: array name must be miINT8 text")
    name = name_raw.decode("latin-1")
    if name != want:
        return name
    flag_word = struct.unpack_from(order + "I", flags)[0]
    if flag_word & 0xFF not in _MX_NUMERIC:
        cls = _MX_NAMES.get(flag_word & 0xFF, f"code {flag_word & 0xFF}")
        raise _MatCorrupt(f"'{want}' must be a real numeric array, got MATLAB class {cls}")
    count = 1
    for d in dims:
        count *= d
    for part in ("real", "imaginary")[: 1 + bool(flag_word & 0x800)]:
        t, data, pos = _element(buf, pos, end, order)
        if t not in _MI_NUMERIC or len(data) != count * _MI_NUMERIC[t]:
            raise _MatCorrupt(f"corrupt .mat: {part} part of '{want}': element type {t} with {len(data)}"
                              f" bytes does not hold {count} numbers")
    return name


def _check_mat5(raw: bytes, want: str) -> None:
    """Walk a MAT v5 file's variables and validate them before scipy reads it: scipy's compiled
    reader can crash (segfault) on corrupt type codes instead of raising."""
    if len(raw) < 128 or 0 in raw[:4] or raw[126:128] not in (b"IM", b"MI"):
        raise _MatCorrupt("not a MATLAB v5 .mat file: no v5 header (128 bytes, 'MATLAB 5.0 MAT-file',"
                          " endian mark)")
    order = "<" if raw[126:128] == b"IM" else ">"
    version = struct.unpack_from(order + "H", raw, 124)[0]
    if version != 0x0100:
        raise _MatCorrupt(f"not a MATLAB v5 .mat file: header version {version:#06x}, expected 0x0100"
                          + (" (this is v7.3 / HDF5, which is not supported)" if version == 0x0200 else ""))
    pos = 128
    inflated = 0  # all compressed variables together stay within MAX_BYTES (many small bombs add up)
    variables = 0
    while pos < len(raw):
        start = pos
        variables += 1
        if variables > MAX_VARIABLES:
            raise _MatCorrupt(f"more than {MAX_VARIABLES} variables (a skeleton file holds a few)")
        mdtype, payload, pos = _element(raw, pos, len(raw), order)
        if mdtype == _MI_COMPRESSED:
            pos = start + 8 + len(payload)  # compressed elements are not padded
            z = zlib.decompressobj()
            try:
                payload = z.decompress(payload, MAX_BYTES - inflated + 1)
            except zlib.error as e:
                raise _MatCorrupt(f"corrupt .mat: compressed variable at byte {start}: {e}") from None
            if not z.eof or z.unconsumed_tail:
                raise _MatCorrupt(f"corrupt .mat: compressed variable at byte {start} is truncated or"
                                  f" inflates beyond {MAX_BYTES} bytes (all variables together)")
            inflated += len(payload)
            mdtype, payload, _ = _element(payload, 0, len(payload), order)
        if mdtype != _MI_MATRIX or not payload:
            raise _MatCorrupt(f"corrupt .mat: variable at byte {start} has element type {mdtype},"
                              " expected miMATRIX (14)")
        _check_matrix(payload, order, want)


def _is_utd(path: Path) -> bool:
    return path.name.endswith("_skeleton.mat")


@register_reader("utd_mhad", _is_utd)
def read_utd_mhad(path: Path) -> SkeletonSequence:
    """Read one UTD-MHAD ``*_skeleton.mat`` -> (1, T, 20, 3) metres in the utd_mhad format, label 0..26."""
    from scipy.io import loadmat  # scipy is heavy; import only when a .mat file is read

    p = Path(path)
    raw = read_bytes(p, MAX_BYTES, "UTD-MHAD skeleton .mat file")
    try:
        _check_mat5(raw, "d_skel")
    except _MatCorrupt as e:
        raise ReaderError(p, str(e)) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mat = loadmat(io.BytesIO(raw), variable_names=["d_skel"])
    except Exception as e:  # scipy raises many types (ValueError, TypeError, zlib.error, OSError, ...)
        raise ReaderError(p, f"not a readable MATLAB v5 .mat file ({type(e).__name__}: {e})"[:300]) from None
    if "d_skel" not in mat:
        raise ReaderError(p, "no 'd_skel' variable (expected the UTD-MHAD skeleton array, 20 x 3 x T)")
    d = mat["d_skel"]
    if not isinstance(d, np.ndarray) or d.dtype.kind not in "fiub":
        raise ReaderError(p, f"'d_skel' must be a real numeric array, got {getattr(d, 'dtype', type(d))}")
    if d.ndim == 2 and d.shape == (NUM_JOINTS, 3):
        d = d[:, :, None]  # MATLAB drops a trailing singleton axis: a one-frame clip
    if d.ndim != 3 or d.shape[:2] != (NUM_JOINTS, 3) or d.shape[2] < 1:
        raise ReaderError(p, f"'d_skel' must have shape (20 joints, 3 xyz, T >= 1 frames), got {d.shape}")
    with np.errstate(over="ignore"):
        joints = np.ascontiguousarray(d.transpose(2, 0, 1), dtype=np.float32)  # (T, 20, 3)
    bad = ~np.isfinite(joints)
    if bad.any():
        t, v, _ = (int(i) for i in np.argwhere(bad)[0])
        raise ReaderError(p, f"non-finite coordinate in 'd_skel' at frame {t}, joint {v}"
                          f" ({d[v, :, t].tolist()}; NaN/inf or beyond float32 range)")
    missing = (joints == 0).all(axis=-1)
    joints[missing] = np.nan
    meta: dict = {"source": str(p)}
    if missing.any():
        meta["missing_joints"] = int(missing.sum())
    parsed = parse_utd_name(p.name)
    if parsed:
        meta.update(subject=parsed["subject"], trial=parsed["trial"], action=parsed["action"])
        if 1 <= parsed["action"] <= len(UTD_ACTIONS):
            meta["label"] = parsed["action"] - 1
            meta["label_name"] = UTD_ACTIONS[parsed["action"] - 1]
    return SkeletonSequence(joints[None], format="utd_mhad", fps=30.0, meta=meta)
