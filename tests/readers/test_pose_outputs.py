"""Pose-estimator output of a user's own video: OpenPose --write_json folders and MediaPipe landmarks
(issue 13 item 9), generated here in the tools' layouts."""

import csv
import json

import numpy as np
import pytest

from s2i.cli import main
from s2i.formats import get_format
from s2i.readers import ReaderError, read_input, read_sequence
from s2i.readers.openpose import track_people
from s2i.store import SkeletonStore


def person(v, x0, y0, t, score=0.9):
    """(v, 3) keypoints of a person near (x0, y0) drifting right with t; keypoint 3 undetected."""
    kp = np.zeros((v, 3))
    kp[:, 0] = x0 + 2.0 * t + np.arange(v)
    kp[:, 1] = y0 + 3.0 * np.arange(v)
    kp[:, 2] = score
    kp[3] = 0.0
    return kp


def write_openpose(folder, t=6, v=25, swap_every=2, video="clip"):
    """Two people per frame whose order in 'people' swaps every other frame (OpenPose does not track)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(t):
        a, b = person(v, 100, 50, k, 0.9), person(v, 400, 60, k, 0.6)
        people = [a, b] if (k // swap_every) % 2 == 0 else [b, a]
        data = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist(),
                                            "face_keypoints_2d": []} for p in people]}
        (folder / f"{video}_{k:012d}_keypoints.json").write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("v,fmt", [(25, "openpose25"), (18, "openpose18")])
def test_openpose_folder_is_tracked(tmp_path, v, fmt):
    folder = write_openpose(tmp_path / "clip", v=v)
    seq = read_input(folder)
    assert seq.format == fmt and seq.joints.shape == (2, 6, v, 2) and seq.confidence.shape == (2, 6, v)
    # the tracks follow each person although their order in the files swaps
    np.testing.assert_allclose(seq.joints[0, :, 0, 0], 100 + 2.0 * np.arange(6))
    np.testing.assert_allclose(seq.joints[1, :, 0, 0], 400 + 2.0 * np.arange(6))
    assert np.isnan(seq.joints[:, :, 3]).all() and (seq.confidence[:, :, 3] == 0).all()
    assert seq.meta["people_per_frame_max"] == 2


def test_tracking_keeps_the_strongest_tracks_and_starts_new_ones():
    v = 5
    frames = [[person(v, 0, 0, 0)], [person(v, 0, 0, 1), person(v, 900, 0, 1, 0.2)], [person(v, 900, 0, 2, 0.2)]]
    joints, conf = track_people(frames, max_persons=1)
    assert joints.shape == (1, 3, v, 2)
    # the strong person (0.9) is kept; it is absent in frame 2 (the far person is a different track)
    assert np.isnan(joints[0, 2]).all() and joints[0, 1, 0, 0] == 2.0


def test_openpose_errors_name_the_file(tmp_path):
    folder = write_openpose(tmp_path / "clip", t=2)
    bad = folder / "clip_000000000001_keypoints.json"
    bad.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 10}]}))
    with pytest.raises(ReaderError, match=r"clip_000000000001_keypoints\.json: people\[0\]\.pose_keypoints_2d:"
                                          r" expected 75 \(BODY_25\) or 54 \(COCO-18\) numbers"):
        read_input(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReaderError, match=r"empty: is a directory, not a regular file \(a folder is read as OpenPose"):
        read_input(tmp_path / "empty")


def test_openpose_folders_prepare_and_encode(tmp_path):
    root = tmp_path / "videos"
    write_openpose(root / "wave" / "v1")
    write_openpose(root / "wave" / "v2", t=8)
    write_openpose(root / "jump" / "v3", t=5)
    out = tmp_path / "store"
    assert main(["prepare", "folder", "--root", str(root), "--out", str(out), "--format", "openpose25",
                 "--workers", "1", "--quiet"]) == 0
    st = SkeletonStore(out)
    assert len(st) == 3 and st.class_names == ["jump", "wave"] and st.dims == 2
    assert sorted(m["name"] for m in st.meta) == ["v1", "v2", "v3"]
    assert main(["encode", str(root / "wave" / "v1"), "--out", str(tmp_path / "img"), "--size", "32"]) == 0
    assert (tmp_path / "img" / "v1.png").is_file()


def mediapipe_frames(t=5):
    rng = np.random.default_rng(3)
    lm = rng.uniform(0, 1, (t, 33, 4))
    lm[..., 3] = rng.uniform(0.5, 1, (t, 33))
    return lm


def test_mediapipe_wide_csv(tmp_path):
    lm = mediapipe_frames()
    names = get_format("mediapipe33").joints
    path = tmp_path / "pose.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame"] + [f"{n}_{a}" for n in names for a in ("x", "y", "z", "visibility")])
        for k in range(len(lm)):
            w.writerow([k] + lm[k].ravel().tolist())
    seq = read_sequence(path)
    assert seq.format == "mediapipe33" and seq.joints.shape == (1, 5, 33, 3)
    np.testing.assert_allclose(seq.joints[0], lm[..., :3], rtol=1e-6)
    np.testing.assert_allclose(seq.confidence[0], lm[..., 3], rtol=1e-6)


def test_mediapipe_long_csv_and_json(tmp_path):
    lm = mediapipe_frames(t=3)
    names = get_format("mediapipe33").joints
    path = tmp_path / "long.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "landmark", "x", "y", "z", "visibility"])
        for k in range(3):
            for j in range(33):
                w.writerow([k, names[j] if j % 2 else j, *lm[k, j]])
    seq = read_sequence(path)
    np.testing.assert_allclose(seq.joints[0], lm[..., :3], rtol=1e-6)
    js = tmp_path / "pose.json"
    frames = [[dict(zip(("x", "y", "z", "visibility"), map(float, lm[k, j]))) for j in range(33)] for k in range(3)]
    frames.insert(1, [])  # a frame without a detection
    js.write_text(json.dumps(frames))
    seq = read_sequence(js)
    assert seq.joints.shape == (1, 4, 33, 3) and np.isnan(seq.joints[0, 1]).all()
    np.testing.assert_allclose(seq.joints[0, 3], lm[2, :, :3], rtol=1e-6)


def test_mediapipe_errors(tmp_path):
    js = tmp_path / "pose.json"
    js.write_text(json.dumps([[{"x": 0, "y": 0, "z": 0, "visibility": 1}] * 32]))
    with pytest.raises(ReaderError, match=r"pose\.json: frame 0: expected a list of 33 landmarks, got 32"):
        read_sequence(js)
    path = tmp_path / "long.csv"
    path.write_text("frame,landmark,x,y,z,visibility\n0,tail,1,2,3,1\n")
    with pytest.raises(ReaderError, match=r"long\.csv:2: landmark 'tail': expected 0\.\.32 or a MediaPipe name"):
        read_sequence(path)
    # JSON is UTF-8 (RFC 8259): a Latin-1 byte is named with its offset and line, not guessed at
    js.write_bytes(b'[\n{"note": "caf\xe9", "visibility": 1}]')
    with pytest.raises(ReaderError, match=r"pose\.json:2: not a valid MediaPipe landmark file \(invalid UTF-8 byte at"
                                          r" offset 15\)"):
        read_sequence(js)
