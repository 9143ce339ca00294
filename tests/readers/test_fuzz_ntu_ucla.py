"""Fuzz the NTU .skeleton and NW-UCLA JSON readers: any byte string gives a sequence or a ReaderError
that names the file — never another exception, a hang or a huge allocation."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2i.readers import read_sequence
from s2i.testing import ntu_text

from helpers import fresh_file, read_or_reader_error

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def ntu_bytes(frames=4, bodies=1):
    xyz = lambda f, b: [(0.1 * j + b, 0.05 * f, 3.8) for j in range(25)]  # noqa: E731
    return ntu_text([[(f"7205759403793{b}", xyz(f, b)) for b in range(bodies)] for f in range(frames)],
                    tail="276 190 1032 514 -0.17 0.04 0.97 -0.15 2", body_info="0 1 1 1 1 0 -0.1 0.14 2").encode()


def ucla_bytes(frames=3):
    return json.dumps({"file_name": "a01_s01_e00_v01", "label": 1,
                       "skeletons": [[[0.1 * j, 0.2, 3.0] for j in range(20)] for _ in range(frames)]}).encode()


def check(folder, name, data):
    seq = read_or_reader_error(read_sequence, fresh_file(folder, name, data))
    if seq is not None:
        assert seq.joints.ndim == 4


def mutate(base: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "garble", "insert", "empty", "huge", "nan"]))
    if kind == "truncate":
        return base[: data.draw(st.integers(0, len(base)))]
    if kind == "garble":
        b = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            b[data.draw(st.integers(0, len(b) - 1))] = data.draw(st.integers(0, 255))
        return bytes(b)
    if kind == "insert":
        at = data.draw(st.integers(0, len(base)))
        return base[:at] + data.draw(st.binary(min_size=1, max_size=20)) + base[at:]
    if kind == "empty":
        return b""
    if kind == "huge":
        return base.replace(b"4\r\n", b"99999999999\r\n", 1).replace(b"1\r\n", b"2147483647\r\n", 1)
    return base.replace(b"3.8 ", b"nan ", 2).replace(b"0.2,", b"NaN,", 1).replace(b"3.0]", b"Infinity]", 1)


@FUZZ
@given(data=st.data())
def test_fuzz_ntu(tmp_path, data):
    check(tmp_path, "S001C001P001R001A001.skeleton", mutate(ntu_bytes(bodies=data.draw(st.integers(1, 2))), data))


@FUZZ
@given(data=st.data())
def test_fuzz_ucla(tmp_path, data):
    check(tmp_path, "a01_s01_e00_v01.json", mutate(ucla_bytes(), data))


@FUZZ
@given(blob=st.binary(max_size=300))
def test_random_bytes(tmp_path, blob):
    check(tmp_path, "S001C001P001R001A001.skeleton", blob)
    check(tmp_path, "a01_s01_e00_v01.json", blob)
