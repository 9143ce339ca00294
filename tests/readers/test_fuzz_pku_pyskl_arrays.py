"""Fuzz the PKU-MMD skeleton/label parsers, the restricted pickle loader / PYSKL reader and the NumPy
array reader: truncated, garbled, empty, huge-count and NaN/inf-injected inputs must give a valid result
or a ReaderError naming the file — never another exception, and never run code from a pickle.

Set S2I_FUZZ_EXAMPLES to run more examples per test (default 60).
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import zipfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from s2i.readers import ReaderError
from s2i.readers.arrays import read_npy_array, read_sequence_array
from s2i.readers.pku_mmd import read_pku_labels, read_pku_untrimmed
from s2i.readers.pyskl import read_pyskl, safe_load_pickle
from s2i.sources.pku_mmd import read_pku_split

from helpers import check_sequence, mutated, read_or_reader_error, sample_path
from helpers import fresh_file as fresh

FUZZ = settings(max_examples=int(os.environ.get("S2I_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_pku_pyskl_arrays")


# --- PKU-MMD -----------------------------------------------------------------------------------
def _pku_text(t: int = 4) -> bytes:
    rng = np.random.default_rng(7)
    rows = []
    for f in range(t):
        body = rng.uniform(-1, 1, 75) + np.tile([0, 0, 3], 25)
        other = body + 0.6 if f % 2 else np.zeros(75)
        rows.append(" ".join(f"{v:.6f}" for v in np.concatenate([body, other])))
    return ("\n".join(rows) + "\n").encode()


PKU_TEXT = _pku_text()
LABEL_TEXT = b"4,1,2,2\n40,2,4,2\n9,3,3,1\n27,1,9,2\n"
SPLIT_TEXT = (b"Training videos: \n0002-L, 0002-M, A01N01-R\nValidataion videos: \n0003-L, 0003-M\n")
NUM_TOKENS = (b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"99999999999999999999", b"-0", b" ", b"\n",
              b"x", b"1e-320", b"\x00", b",", b"\r\n", b"0 " * 75, b"\n\n")
LABEL_TOKENS = (b",", b"99999999999999999999", b"-1", b"0", b"52", b"\n", b"nan", b" ", b"\xff", b"1,1,1,1,1")


@FUZZ
@given(raw=mutated(PKU_TEXT, NUM_TOKENS))
def test_fuzz_pku_skeleton(fuzz_dir, raw):
    p = fresh(fuzz_dir, "0001-L.txt", raw)
    seq = read_or_reader_error(read_pku_untrimmed, p)
    if seq is not None:
        check_sequence(seq, p)
        assert seq.joints.shape[2:] == (25, 3) and seq.num_persons <= 2


@FUZZ
@given(data=st.data())
def test_fuzz_pku_file_head(fuzz_dir, data):
    src = sample_path("pku_mmd_sample", "phase2", "A10N08-L.txt")
    with open(src, "rb") as f:
        base = f.read(12_000)  # ~8 frames of the file
    base = base[: base.rfind(b"\n") + 1]
    p = fresh(fuzz_dir, "A10N08-L.txt", data.draw(mutated(base, NUM_TOKENS)))
    seq = read_or_reader_error(read_pku_untrimmed, p)
    if seq is not None:
        check_sequence(seq, p)


@FUZZ
@given(raw=mutated(LABEL_TEXT, LABEL_TOKENS), skel=st.sampled_from([PKU_TEXT, PKU_TEXT[:600], b""]))
def test_fuzz_pku_labels_and_segments(fuzz_dir, raw, skel):
    from s2i.readers.pku_mmd import pku_segments

    lab = fresh(fuzz_dir, "label.txt", raw)
    out = read_or_reader_error(read_pku_labels, lab)
    if out is not None:
        assert all(1 <= a <= 51 and 0 <= b <= c for a, b, c, _ in out)
    sk = fresh(fuzz_dir, "0002-M.txt", skel)
    try:
        segs = pku_segments(sk, lab, skipped=[])
    except ReaderError as e:
        assert str(sk) in str(e) or str(lab) in str(e)
        return
    for s in segs:
        check_sequence(s, sk)
        assert 0 <= s.label < 51


@FUZZ
@given(raw=mutated(SPLIT_TEXT, (b",", b"\n", b"Training videos: ", b"Validataion videos:", b"0002-L", b"\xff")))
def test_fuzz_pku_split(fuzz_dir, raw):
    p = fresh(fuzz_dir, "split.txt", raw)
    out = read_or_reader_error(read_pku_split, p)
    if out is not None:
        assert set(out) == {"train", "test"}
        assert not set(out["train"]) & set(out["test"])


# --- pickles / PYSKL ---------------------------------------------------------------------------
def _pyskl_obj() -> dict:
    rng = np.random.default_rng(3)
    kp = rng.uniform(0, 1, (1, 3, 17, 2)).astype(np.float32)
    kp[0, 1, 4] = 0
    return {"split": {"train": ["a"], "test": ["b"]}, "annotations": [
        {"frame_dir": "a", "label": 3, "keypoint": kp, "keypoint_score": rng.uniform(0, 1, (1, 3, 17)),
         "total_frames": 3, "img_shape": (64, 48)},
        {"frame_dir": "b", "label": 1, "keypoint": rng.uniform(0, 1, (2, 2, 25, 3)), "total_frames": 2},
    ]}


PICKLES = [pickle.dumps(_pyskl_obj(), protocol=proto) for proto in (2, 4, 5)]
PICKLE_TOKENS = (
    b"cos\nsystem\n", b"cbuiltins\neval\n", b"\x8c\x02os\x8c\x06system\x93", b"R", b"\x93", b"b", b"0", b"(",
    b"r\xff\xff\xff\x7f", b"q\xff", b"h\x00", b"j\xff\xff\xff\x7f", b"\x8e\xff\xff\xff\xff\xff\xff\x00\x00",
    b"\x95\xff\xff\xff\xff\xff\x00\x00\x00", b"B\xff\xff\xff\x7f", b"X\xff\xff\xff\x7f", b"\x82\x01",
    b"P", b"Q", b"\x97", b"\x98", b"cnumpy\nndarray\n", b"cnumpy\ndtype\n(S'O8'\nI0\nI1\ntR", b"s", b"u", b".",
)


def _forbid(*a, **k):
    raise AssertionError("a pickle ran code")


@FUZZ
@given(raw=st.one_of(*[mutated(b, PICKLE_TOKENS) for b in PICKLES]))
def test_fuzz_pickle_loader(fuzz_dir, raw):
    p = fresh(fuzz_dir, "ann.pkl", raw)
    with mock.patch("os.system", _forbid), mock.patch.object(builtins, "eval", _forbid), \
            mock.patch.object(builtins, "exec", _forbid):
        read_or_reader_error(safe_load_pickle, p)
        out = read_or_reader_error(read_pyskl, p)
    if out is not None:
        seqs, split = out
        for s in seqs:
            check_sequence(s, p)
        assert isinstance(split, dict)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_pickle_random_bytes(fuzz_dir, data):
    p = fresh(fuzz_dir, "rnd.pkl", b"\x80\x04" + data)
    read_or_reader_error(safe_load_pickle, p)


# --- NumPy arrays ------------------------------------------------------------------------------
def _npy_bytes() -> bytes:
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (2, 3, 6, 25, 2)).astype(np.float32)
    a[0, :, :, :, 1] = 0
    a[1, :, 4:] = 0
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _npz_bytes(compress: bool) -> bytes:
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(
        buf, x_data=rng.uniform(-1, 1, (2, 3, 4, 25, 1)).astype(np.float32), y=np.eye(3)[[0, 2]])
    return buf.getvalue()


NPY = _npy_bytes()
NPZ, NPZ_ZIP = _npz_bytes(False), _npz_bytes(True)
SHAPE = b"(2, 3, 6, 25, 2)"
assert NPY.count(SHAPE) == 1
ARRAY_TOKENS = (b"(99999999999, 3, 6, 25, 2)", b"(2, 3, 6, 25, 99999999999999)", b"(-1, 3, 6, 25, 2)",
                b"'<f8'", b"'|O'", b"'>f4'", b"True", b"\x00" * 8, b"\xff" * 8, b"\x00\x00\xc0\x7f",
                b"\x00\x00\x80\x7f", b"}", b"{", b"\n")


@FUZZ
@given(raw=mutated(NPY, ARRAY_TOKENS))
def test_fuzz_npy(fuzz_dir, raw):
    p = fresh(fuzz_dir, "batch.npy", raw)
    seqs = read_or_reader_error(read_npy_array, p, "ntu25")
    for s in seqs or []:
        check_sequence(s, p)
        assert s.joints.shape[2:] == (25, 3) and s.num_persons <= 2


@FUZZ
@given(raw=st.one_of(mutated(NPZ, ARRAY_TOKENS), mutated(NPZ_ZIP, ARRAY_TOKENS)))
def test_fuzz_npz(fuzz_dir, raw):
    p = fresh(fuzz_dir, "batch.npz", raw)
    seqs = read_or_reader_error(read_npy_array, p, "ntu25")
    for s in seqs or []:
        check_sequence(s, p)


@FUZZ
@given(shape=st.lists(st.sampled_from([0, 1, 2, 3, 25, 2**20, 2**40, 2**62]), min_size=0, max_size=6),
       descr=st.sampled_from(["<f4", "<f8", "<i2", "|u1", "|b1", "<c8", "|O", "<U4", "|V8"]))
@example(shape=[1, 3, 0, 25, 0], descr="<f4")  # zero persons and frames: once a reshape ValueError
def test_fuzz_npy_header_claims(fuzz_dir, shape, descr):
    """A hand-written header may claim any shape / dtype; the body holds only 64 bytes."""
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(64)
    p = fresh(fuzz_dir, "claim.npy", raw)
    for reader, args in ((read_npy_array, ("ntu25",)), (read_sequence_array, ("ntu25",))):
        out = read_or_reader_error(reader, p, *args)
        for s in (out if isinstance(out, list) else [out] if out is not None else []):
            check_sequence(s, p)


def test_npz_member_claiming_more_than_it_holds(fuzz_dir):
    """An .npz member whose header claims a huge array is refused before NumPy allocates it."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (2**33, 3, 4, 25, 1)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x_data.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(64))
    p = fresh(fuzz_dir, "huge.npz", buf.getvalue())
    with pytest.raises(ReaderError, match="declares shape") as e:
        read_npy_array(p, "ntu25")
    assert str(p) in str(e.value)
