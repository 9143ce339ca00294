"""Fuzz the UTD-MHAD, MSR Action3D and Kinetics readers: truncated, garbled, empty, huge-count and
NaN/inf-injected versions of realistic files must give a valid sequence or a ReaderError naming the file.

Set S2I_FUZZ_EXAMPLES to run more examples per test (default 60).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from s2i.readers.kinetics import read_kinetics
from s2i.readers.msr_action3d import read_msr_action3d
from s2i.readers.utd_mhad import read_utd_mhad
from s2i.skeleton import SkeletonSequence

from helpers import fresh_file, mutated, read_or_reader_error

FUZZ = settings(max_examples=int(os.environ.get("S2I_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
T_UTD = 9


def _utd_bytes(compress: bool) -> bytes:
    rng = np.random.default_rng(1)
    d = rng.normal(0, 0.3, (20, 3, T_UTD)) + np.array([0, 0, 3.0])[None, :, None]
    buf = io.BytesIO()
    savemat(buf, {"d_skel": d}, do_compression=compress)
    return buf.getvalue()


UTD_PLAIN, UTD_ZIP = _utd_bytes(False), _utd_bytes(True)
DIMS = struct.pack("<iii", 20, 3, T_UTD)
assert UTD_PLAIN.count(DIMS) == 1

MSR_TEXT = "".join(f"{0.1 * j - 1:.6f} {0.5 - 0.05 * j:.6f} {2.5 + 0.01 * t:.6f} {j % 3 / 2:.6f}\n"
                   for t in range(4) for j in range(20)).encode()
MSR_SCREEN = "".join(f"  {100 + j:.7e}  {80 + t:.7e}  {669 - j:.7e}  1.0000000e+000\r\n"
                     for t in range(3) for j in range(20)).encode()


def _kinetics_doc() -> dict:
    rng = np.random.default_rng(2)
    data = []
    for f in range(1, 6):
        people = []
        for _ in range(f % 3 + (f == 3)):
            pose = np.round(rng.uniform(0, 1, 36), 3)
            pose[:4] = 0  # two undetected joints
            people.append({"pose": pose.tolist(), "score": np.round(rng.uniform(0, 1, 18), 3).tolist()})
        data.append({"frame_index": f, "skeleton": people})
    return {"data": data, "label": "abseiling", "label_index": 0}


KIN_DOC = _kinetics_doc()
KIN_TEXT = json.dumps(KIN_DOC).encode()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check(reader, path: Path, **kw) -> SkeletonSequence | None:
    """The shared reader contract (helpers.read_or_reader_error); these readers' confidences are also in [0, 1]."""
    seq = read_or_reader_error(reader, path, **kw)
    if seq is not None and seq.confidence is not None:
        assert seq.confidence.min() >= 0 and seq.confidence.max() <= 1
    return seq


NUM_TOKENS = (b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"2147483647", b"99999999999999999999",
              b"-0", b" ", b"\n", b"x", b"1e-320", b"\x00", b"0 0 0 0\n")
JSON_TOKENS = (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"99999999999999", b"null", b"true", b"[]",
               b"{}", b'"x"', b"-1", b"0", b",", b"[" * 50)


def _recompress(plain: bytes) -> bytes:
    """A compressed .mat whose (garbled) inner stream is ``plain``: tests what scipy sees after zlib."""
    z = zlib.compress(plain[128:])
    return plain[:128] + struct.pack("<II", 15, len(z)) + z


@FUZZ
@given(raw=st.one_of(mutated(UTD_ZIP), mutated(UTD_PLAIN), mutated(UTD_PLAIN, head=256),
                     mutated(UTD_PLAIN, head=256).map(_recompress)))
def test_fuzz_utd_bytes(fuzz_dir, raw):
    """scipy's compiled .mat reader segfaults on some corrupt type codes; the reader must not."""
    p = fresh_file(fuzz_dir, "a1_s1_t1_skeleton.mat", raw)
    seq = check(read_utd_mhad, p)
    if seq is not None:
        assert seq.joints.shape[2:] == (20, 3)


@FUZZ
@given(dims=st.tuples(*[st.sampled_from([0, 1, 3, 20, T_UTD, 2**16, 2**31 - 1, -1, -(2**31)])] * 3),
       size=st.sampled_from([None, 0, 8, 2**31 - 1, 2**32 - 1]))
def test_fuzz_utd_huge_counts(fuzz_dir, dims, size):
    """Declared array dimensions and element byte counts far beyond the data must not allocate."""
    raw = bytearray(UTD_PLAIN.replace(DIMS, struct.pack("<iii", *dims)))
    if size is not None:
        raw[132:136] = struct.pack("<I", size)  # byte count of the miMATRIX element after the 128-byte header
    p = fresh_file(fuzz_dir, "a1_s1_t1_skeleton.mat", bytes(raw))
    seq = check(read_utd_mhad, p)
    if seq is not None:  # only the true dimensions fit the data
        assert seq.joints.shape == (1, T_UTD, 20, 3) and dims == (20, 3, T_UTD)


@FUZZ
@given(raw=st.one_of(mutated(MSR_TEXT, NUM_TOKENS), mutated(MSR_SCREEN, NUM_TOKENS)))
def test_fuzz_msr_bytes(fuzz_dir, raw):
    p = fresh_file(fuzz_dir, "a01_s01_e01_skeleton3D.txt", raw)
    seq = check(read_msr_action3d, p)
    if seq is not None:
        assert seq.joints.shape[2:] == (20, 3) and seq.confidence.shape == seq.joints.shape[:3]
        assert not (np.abs(np.nan_to_num(seq.joints)) >= 1e9).any()


@FUZZ
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                                 st.sampled_from([0.0, 2147483647.0, 1.0])), min_size=1, max_size=200))
def test_fuzz_msr_values(fuzz_dir, values):
    """Arbitrary numbers, 4 per line: a multiple of 20 rows parses unless a value is non-finite or
    a confidence lies outside [0, 1]."""
    rows = [values[i:i + 4] for i in range(0, len(values), 4)]
    text = "\n".join(" ".join(repr(v) for v in r) for r in rows)
    p = fresh_file(fuzz_dir, "a02_s02_e02_skeleton.txt", text.encode())
    seq = check(read_msr_action3d, p)
    ok = (len(values) % 80 == 0 and all(np.isfinite(values))
          and all(0 <= r[3] <= 1 for r in rows))
    assert (seq is not None) == ok


@FUZZ
@given(raw=mutated(KIN_TEXT, JSON_TOKENS), max_persons=st.sampled_from([None, 1, 2]))
def test_fuzz_kinetics_bytes(fuzz_dir, raw, max_persons):
    p = fresh_file(fuzz_dir, "abcdefghijk.json", raw)
    seq = check(read_kinetics, p, max_persons=max_persons)
    if seq is not None:
        assert seq.joints.shape[2:] == (18, 2) and seq.num_frames <= 100_000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.just(10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


@st.composite
def mutated_doc(draw):
    """The Kinetics document with one value replaced somewhere (frame_index, pose, score, label...)."""
    doc = json.loads(KIN_TEXT)
    f = draw(st.integers(0, len(doc["data"]) - 1))
    frame = doc["data"][f]
    target = draw(st.sampled_from(["frame_index", "skeleton", "person", "pose", "score", "pose_item",
                                   "label_index", "label", "data"]))
    value = draw(json_values | st.sampled_from([10**6, 10**9, 2**63, 0, -5, 100_000])
                 if target in ("frame_index", "label_index") else json_values)
    people = frame["skeleton"]
    if target in ("frame_index", "skeleton"):
        frame[target] = value
    elif target in ("label_index", "label", "data"):
        doc[target] = value
    elif people:
        person = people[draw(st.integers(0, len(people) - 1))]
        if target == "person":
            people[0] = value
        elif target == "pose_item":
            person["pose"][draw(st.integers(0, 35))] = value
        else:
            person[target] = value
    return doc


@FUZZ
@given(doc=mutated_doc())
def test_fuzz_kinetics_structure(fuzz_dir, doc):
    # json.dumps writes NaN / Infinity literals, which json.loads accepts
    p = fresh_file(fuzz_dir, "abcdefghijk.json", json.dumps(doc).encode())
    seq = check(read_kinetics, p, max_persons=None)
    if seq is not None:
        assert seq.joints.shape[2:] == (18, 2)


def test_unmutated_bases_parse(fuzz_dir):
    """The fuzz starting points themselves are valid files."""
    p = fuzz_dir / "a1_s1_t1_skeleton.mat"
    for raw in (UTD_PLAIN, UTD_ZIP):
        p.write_bytes(raw)
        assert read_utd_mhad(p).joints.shape == (1, T_UTD, 20, 3)
    q = fuzz_dir / "a01_s01_e01_skeleton3D.txt"
    q.write_bytes(MSR_TEXT)
    assert read_msr_action3d(q).joints.shape == (1, 4, 20, 3)
    q.write_bytes(MSR_SCREEN)
    assert read_msr_action3d(q).joints.shape == (1, 3, 20, 3)
    k = fuzz_dir / "abcdefghijk.json"
    k.write_bytes(KIN_TEXT)
    seq = read_kinetics(k, max_persons=None)
    assert seq.joints.shape == (2, 5, 18, 2) and np.isnan(seq.joints[:, :, :2]).all()
