"""NTU .skeleton and NW-UCLA JSON readers: real files (skipped when absent) and malformed input."""

import json

import numpy as np
import pytest

from s2i.readers import ReaderError, read_sequence
from s2i.readers.mediapipe import read_mediapipe
from s2i.readers.ntu import denoise_bodies, parse_ntu_name, parse_ntu_skeleton
from s2i.testing import ntu_text

from helpers import is_real, reader_error, sample_path

NTU_FRAMES = {"S001C001P001R001A011": (82, 1), "S001C003P008R002A058": (70, 2), "S002C001P003R001A003": (100, 1),
              "S003C001P015R001A034": (71, 1), "S004C002P003R001A017": (124, 1)}


@pytest.mark.parametrize("name", sorted(NTU_FRAMES))
def test_ntu_files(name):
    """The five real samples (frames and bodies known), else generated files of those names."""
    path = sample_path("ntu_samples", f"{name}.skeleton")
    seq = read_sequence(path)
    if is_real(path):
        frames, persons = NTU_FRAMES[name]
    else:  # the frame count heads the file; each frame line of a generated file lists every body
        head = path.read_text().split(maxsplit=2)
        frames, persons = int(head[0]), int(head[1])
    assert seq.joints.shape == (persons, frames, 25, 3)
    assert seq.format == "ntu25" and seq.fps == 30
    info = parse_ntu_name(name)
    assert seq.meta["label"] == info["action"] - 1 and seq.meta["subject"] == info["subject"]
    assert seq.meta["view"] == info["camera"]
    assert not np.isnan(seq.joints).any()
    # camera-space metres: the sensor is 1.5-5 m away, the head above the pelvis
    assert 1.0 < np.nanmean(seq.joints[..., 2]) < 5.0
    assert (seq.joints[0, :, 3, 1] > seq.joints[0, :, 0, 1]).mean() > 0.95


def person(t, dx=0.0, amp=0.2):
    base = np.zeros((25, 3))
    base[:, 1] = np.linspace(-0.9, 0.8, 25)
    base[:, 0] = np.linspace(-0.2, 0.2, 25) + dx
    base[:, 2] = 3.0
    return [base + amp * np.sin(k / 5) for k in range(t)]


def test_denoising_drops_short_and_wide_bodies_and_orders_by_motion(tmp_path):
    t = 40
    actor, still = person(t, amp=0.3), person(t, dx=0.8, amp=0.01)
    blip = person(5, dx=-1)
    table = [np.stack([np.linspace(-1, 1, 25), np.full(25, 0.1), np.full(25, 3.0)], 1)] * t  # wide: an object
    frames = []
    for k in range(t):
        bodies = [("still", still[k]), ("actor", actor[k]), ("table", table[k])]
        if k < 5:
            bodies.append(("blip", blip[k]))
        frames.append(bodies)
    p = tmp_path / "S001C001P001R001A050.skeleton"
    p.write_text(ntu_text(frames))
    _, bodies = parse_ntu_skeleton(p)
    kept, log = denoise_bodies(bodies)
    assert [b.body_id for b in kept] == ["actor", "still"]
    assert any("blip" in m and "frames" in m for m in log) and any("table" in m and "object" in m for m in log)
    seq = read_sequence(p)
    assert seq.joints.shape == (2, t, 25, 3)
    np.testing.assert_allclose(seq.joints[0, 3], actor[3], atol=1e-6)


def test_retracked_body_is_merged(tmp_path):
    a = person(30)
    frames = [[("id1", a[k])] if k < 15 else [("id2", a[k])] for k in range(30)]
    p = tmp_path / "x.skeleton"
    p.write_text(ntu_text(frames))
    seq = read_sequence(p)
    assert seq.joints.shape == (1, 30, 25, 3) and not np.isnan(seq.joints).any()
    assert any("merge" in m for m in seq.meta["denoise"])


@pytest.mark.parametrize("mutate, msg", [
    (lambda s: s[: len(s) // 2], r"ends early"),
    (lambda s: "", r"ends early, expected the frame count"),
    (lambda s: s.replace("25\r\n", "24\r\n", 1), r"expected 25 joints"),
    (lambda s: s.replace("0.1 0.1 2", "0.1 2", 1), r"body info line needs 10 values"),
    (lambda s: "99999999\r\n", r"implausible frame count"),
    (lambda s: s.replace(" 3.0 0 0", " 3.O 0 0", 1), r"not numeric"),
    (lambda s: s.replace("3.0 0 0", "nan 0 0", 1), r"non-finite"),
])
def test_malformed_ntu_errors_name_file_and_line(tmp_path, mutate, msg):
    good = ntu_text([[("b", f)] for f in person(3)])
    p = tmp_path / "bad.skeleton"
    p.write_text(mutate(good))
    with pytest.raises(ReaderError, match=msg) as e:
        read_sequence(p)
    assert str(p) in str(e.value)


def test_nw_ucla_file():
    seq = read_sequence(sample_path("nw_ucla", "all_sqe", "a04_s01_e00_v01.json"))
    assert seq.format == "kinect_v1" and seq.joints.shape[0] == 1 and seq.joints.shape[2:] == (20, 3)
    assert seq.meta["label"] == 3 and seq.meta["subject"] == 1 and seq.meta["view"] == 1
    assert seq.joints.shape[1] > 10


@pytest.mark.parametrize("content, msg", [
    ("{not json", r"invalid JSON"),
    (json.dumps({"label": 1}), r"'skeletons' key"),
    (json.dumps({"label": 1, "skeletons": []}), r"non-empty"),
    (json.dumps({"label": 1, "skeletons": [[[0, 0, 0]] * 19]}), r"frame 0: expected 20 joints"),
    (json.dumps({"label": 11, "skeletons": [[[0, 0, 0]] * 20]}), r"'label' must be an integer 1..10"),
    (json.dumps({"label": 1, "skeletons": [[["a", 0, 0]] * 20]}), r"must be numbers"),
])
def test_malformed_ucla(tmp_path, content, msg):
    p = tmp_path / "a01_s01_e00_v01.json"
    p.write_text(content)
    with pytest.raises(ReaderError, match=msg):
        read_sequence(p)


@pytest.mark.parametrize("name, read", [
    ("a01_s01_e00_v01.json", read_sequence),  # NW-UCLA
    ("abcdefghijk.json", read_sequence),  # Kinetics
    ("clip_000000000000_keypoints.json", read_sequence),  # one OpenPose frame
    ("pose.json", read_mediapipe),  # MediaPipe (read_sequence would need "visibility" in the head)
])
@pytest.mark.parametrize("content, where", [
    ('{"label": 1,\n "skeletons": [1,,]}', ":2: invalid JSON: Expecting value (column 18)"),
    ("[" * 100_000, ": invalid JSON: nested too deeply"),
    ("1" * 5000, ": invalid JSON: Exceeds the limit"),
])
def test_json_errors_name_file_and_line(tmp_path, name, read, content, where):
    """The JSON readers share one parse step: the error names the file, the line of a syntax error, and why."""
    p = tmp_path / name
    assert reader_error(read, p, content).startswith(f"{p}{where}")


def test_unknown_file_type(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\0")
    with pytest.raises(ReaderError, match="no reader recognises"):
        read_sequence(p)
