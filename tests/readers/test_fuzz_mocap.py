"""Fuzzing the BVH and ASF/AMC parsers: truncation, garbled bytes, empty files, huge counts and
NaN/inf injection into small synthetic files must give a valid sequence or a ReaderError naming the file."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_readers_mocap import TOY_ASF_YAML, TOY_BVH_YAML, random_amc, toy_asf, toy_bvh

from s2i.readers import ReaderError
from s2i.readers.asf_amc import AsfSkeleton, read_amc, read_asf
from s2i.readers.bvh import read_bvh

from helpers import check_sequence, fresh_file, read_or_reader_error

BVH = toy_bvh(8, seed=1).encode()
ASF = toy_asf().encode()
AMC = random_amc(6, seed=2).encode()

HUGE = {
    "bvh": [(b"Frames: 8", b"Frames: 99999999999999999999"), (b"CHANNELS 6", b"CHANNELS 4000000000"),
            (b"CHANNELS 3", b"CHANNELS 999999"), (b"OFFSET 0 10 0", b"OFFSET 0 1e308 0"),
            (b"Frame Time: 0.04", b"Frame Time: 1e-320")],
    "asf": [(b"length 10", b"length 1e308"), (b"length 0.45", b"length 1e-300"), (b"id 3", b"id 99999999999"),
            (b"direction 0 1 0", b"direction 0 1e308 0")],
    "amc": [(b"\r\n2\r\n", b"\r\n2000000000000\r\n"), (b"\r\n1\r\n", b"\r\n99999999\r\n"),
            (b"root ", b"root 1e308 ")],
}
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@st.composite
def mutated(draw, base: bytes, kind: str) -> bytes:
    """One damaged variant of ``base``."""
    how = draw(st.sampled_from(["truncate", "garble", "empty", "huge", "nonfinite", "delete_line"]))
    if how == "truncate":
        return base[:draw(st.integers(0, len(base)))]
    if how == "garble":
        data = bytearray(base)
        for pos, val in draw(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)),
                                      min_size=1, max_size=8)):
            data[pos] = val
        return bytes(data)
    if how == "empty":
        return b""
    if how == "huge":
        old, new = draw(st.sampled_from(HUGE[kind]))
        return base.replace(old, new, 1)
    if how == "delete_line":
        lines = base.split(b"\n")
        del lines[draw(st.integers(0, len(lines) - 1))]
        return b"\n".join(lines)
    spans = [m.span() for m in NUMBER.finditer(base)]
    a, b = spans[draw(st.integers(0, len(spans) - 1))]
    return base[:a] + draw(st.sampled_from([b"nan", b"inf", b"-inf", b"1e400", b"NaN"])) + base[b:]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz_mocap")
    (d / "toy7.yaml").write_text(TOY_BVH_YAML)
    (d / "toyasf.yaml").write_text(TOY_ASF_YAML)
    (d / "good.asf").write_bytes(ASF)
    (d / "good.amc").write_bytes(AMC)
    return d


def check(result: object, path, joints: int) -> None:
    """The shared contract (helpers.check_sequence), and these readers never leave a joint missing."""
    seq = check_sequence(result, path)
    assert seq.joints.shape[0] == 1 and seq.joints.shape[2:] == (joints, 3)
    assert np.isfinite(seq.joints).all()


FUZZ = settings(max_examples=80, deadline=None)


def test_unmodified_files_parse(work):
    ok = fresh_file(work, "ok.bvh", BVH)
    check(read_bvh(ok, format=str(work / "toy7.yaml")), ok, 7)
    amc = work / "good.amc"
    check(read_amc(amc, read_asf(work / "good.asf"), format=str(work / "toyasf.yaml")), amc, 9)


@FUZZ
@given(data=mutated(BVH, "bvh"))
def test_fuzz_bvh(work, data):
    p = fresh_file(work, "fuzz.bvh", data)
    seq = read_or_reader_error(read_bvh, p, format=str(work / "toy7.yaml"))
    if seq is not None:
        check(seq, p, 7)


@FUZZ
@given(data=mutated(ASF, "asf"))
def test_fuzz_asf(work, data):
    p = fresh_file(work, "fuzz.asf", data)
    sk = read_or_reader_error(read_asf, p)
    if sk is None:
        return
    assert isinstance(sk, AsfSkeleton)
    try:  # a damaged .asf may surface while reading the good .amc: the error names either file
        seq = read_amc(work / "good.amc", sk, format=str(work / "toyasf.yaml"))
    except ReaderError as e:
        assert str(work / "good.amc") in str(e) or str(p) in str(e)
    else:
        check(seq, work / "good.amc", 9)


@FUZZ
@given(data=mutated(AMC, "amc"))
def test_fuzz_amc(work, data):
    sk = read_asf(work / "good.asf")
    p = fresh_file(work, "fuzz.amc", data)
    seq = read_or_reader_error(read_amc, p, sk, format=str(work / "toyasf.yaml"))
    if seq is not None:
        check(seq, p, 9)
