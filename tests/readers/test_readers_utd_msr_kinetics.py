"""UTD-MHAD .mat, MSR Action3D text and Kinetics-skeleton JSON readers: every real file (skipped when
the shared data is absent), label/split bookkeeping, and targeted malformed inputs."""

from __future__ import annotations

import io
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from s2i.readers import ReaderError, read_sequence, reader_for
from s2i.readers.kinetics import load_kinetics_labels, read_kinetics
from s2i.readers.msr_action3d import MSR_ACTIONS, parse_msr_name, read_msr_action3d
from s2i.readers.utd_mhad import UTD_ACTIONS, read_utd_mhad
from s2i.sources.kinect_v1_sets import MSR_SUBSETS, msr_split

from helpers import data_path, is_real, sample_path

MSR_WORLD = "MSRAction3DSkeletonReal3D"
MSR_SCREEN = "MSRAction3DSkeleton(20joints)"
KINETICS = ("kinetics_skeleton_sample", "kinetics-skeleton")
KINETICS_LABELS = {"__NrybzYzUg": (0, "abseiling"), "__PYrzYbzKE": (173, "jumpstyle dancing"),
                   "__U_scuxNlQ": (58, "clay pottery making"),
                   "__lt03EF4ao": (208, "passing American football (in game)"),
                   "__u6odV5hrI": (207, "parkour"), "__vOysOPoCY": (207, "parkour"),
                   "__vzEs2wzdQ": (335, "strumming guitar")}


# --- UTD-MHAD: all 861 real files -------------------------------------------------------------------
@pytest.fixture(scope="module")
def utd_all():
    files = sorted(data_path("utd_mhad", "Skeleton").glob("*_skeleton.mat"))
    return [read_utd_mhad(f) for f in files]


def test_utd_all_files(utd_all):
    assert len(utd_all) == 861
    lengths = [s.num_frames for s in utd_all]
    assert min(lengths) == 41 and max(lengths) == 125
    assert all(s.format == "utd_mhad" and s.fps == 30 and s.joints.shape[::2] == (1, 20)
               and s.dims == 3 and s.confidence is None for s in utd_all)
    assert sorted({s.meta["label"] for s in utd_all}) == list(range(27))
    assert sorted({s.meta["subject"] for s in utd_all}) == list(range(1, 9))
    assert {s.meta["trial"] for s in utd_all} == {1, 2, 3, 4}
    parity = Counter("train" if s.meta["subject"] % 2 else "test" for s in utd_all)
    assert parity == {"train": 431, "test": 430}
    assert all(s.meta["label_name"] == UTD_ACTIONS[s.meta["label"]] for s in utd_all)
    joints = np.concatenate([s.joints[0] for s in utd_all])
    assert not np.isnan(joints).any()
    # camera space, metres, y up: depth 1.5..4.5 m, head (joint 0) above hip centre (joint 3)
    assert 1.5 < np.median(joints[..., 2]) < 4.5
    assert (joints[:, 0, 1] > joints[:, 3, 1]).mean() > 0.95
    missing = {Path(s.meta["source"]).name for s in utd_all}
    for absent in ("a8_s1_t4", "a23_s6_t4", "a27_s8_t4"):
        assert f"{absent}_skeleton.mat" not in missing


def test_utd_one_file_in_detail():
    p = data_path("utd_mhad", "Skeleton", "a10_s1_t1_skeleton.mat")
    seq = read_sequence(p)
    assert reader_for(p)[0] == "utd_mhad"
    assert seq.meta["label"] == 9 and seq.meta["subject"] == 1 and seq.meta["trial"] == 1
    assert seq.meta["label_name"] == "right hand draw circle (counter clockwise)"
    assert seq.meta["source"] == str(p)
    # head y ~ +0.5, feet y ~ -1.06 (PROVENANCE)
    assert 0.3 < np.median(seq.joints[0, :, 0, 1]) < 0.7
    assert -1.3 < np.median(seq.joints[0, :, [15, 19], 1]) < -0.8


def _mat(tmp_path: Path, name: str = "a3_s2_t1_skeleton.mat", **variables) -> Path:
    p = tmp_path / name
    savemat(p, variables, do_compression=True)
    return p


def test_utd_synthetic_layout_and_zero_joints(tmp_path):
    rng = np.random.default_rng(0)
    d = rng.normal(0, 0.3, (20, 3, 7)) + np.array([0, 0, 3.0])[None, :, None]
    d[5, :, 2] = 0.0  # joint 5 untracked in frame 2
    seq = read_utd_mhad(_mat(tmp_path, d_skel=d))
    assert seq.joints.shape == (1, 7, 20, 3)
    np.testing.assert_allclose(seq.joints[0, 4, 7], d[7, :, 4], rtol=1e-6)
    assert np.isnan(seq.joints[0, 2, 5]).all() and seq.meta["missing_joints"] == 1
    assert seq.meta["label"] == 2 and seq.meta["label_name"] == "right hand wave"
    one = read_utd_mhad(_mat(tmp_path, "a1_s1_t1_skeleton.mat", d_skel=d[:, :, 0]))  # MATLAB drops T=1
    assert one.joints.shape == (1, 1, 20, 3)
    nolabel = read_utd_mhad(_mat(tmp_path, "a30_s1_t1_skeleton.mat", d_skel=d))
    assert "label" not in nolabel.meta and nolabel.meta["action"] == 30


@pytest.mark.parametrize("variables, msg", [
    ({"skel": np.zeros((20, 3, 5))}, r"no 'd_skel' variable"),
    ({"d_skel": np.zeros((20, 2, 5))}, r"shape \(20 joints, 3 xyz"),
    ({"d_skel": np.zeros((25, 3, 5))}, r"shape \(20 joints, 3 xyz"),
    ({"d_skel": np.zeros((20, 3, 0))}, r"T >= 1"),
    ({"d_skel": "hello"}, r"real numeric array, got MATLAB class char"),
    ({"d_skel": {"a": 1}}, r"real numeric array, got MATLAB class struct"),
    ({"d_skel": np.full((20, 3, 4), np.nan)}, r"non-finite coordinate .* frame 0, joint 0"),
    ({"d_skel": np.ones((20, 3, 4)) * 1j}, r"real numeric array"),
])
def test_utd_malformed_variables(tmp_path, variables, msg):
    p = _mat(tmp_path, **variables)
    with pytest.raises(ReaderError, match=msg) as e:
        read_utd_mhad(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"not a mat file at all", b"MATLAB 5.0 MAT-file" + b"\0" * 200])
def test_utd_not_a_mat(tmp_path, content):
    p = tmp_path / "a1_s1_t1_skeleton.mat"
    p.write_bytes(content)
    with pytest.raises(ReaderError, match=r"not a MATLAB v5 .mat file") as e:
        read_sequence(p)
    assert str(p) in str(e.value)


def test_utd_corrupt_type_codes_do_not_reach_scipy(tmp_path):
    """scipy's compiled reader segfaults on an unknown data type code; the pre-check must stop it."""
    buf = io.BytesIO()
    savemat(buf, {"d_skel": np.ones((20, 3, 5))})
    raw = buf.getvalue()
    tag = struct.pack("<II", 9, 20 * 3 * 5 * 8)  # miDOUBLE real part
    assert raw.count(tag) == 1
    p = tmp_path / "a1_s1_t1_skeleton.mat"
    p.write_bytes(raw.replace(tag, struct.pack("<II", 0x1109, 20 * 3 * 5 * 8)))
    with pytest.raises(ReaderError, match=r"real part of 'd_skel': element type 4361"):
        read_utd_mhad(p)
    p.write_bytes(raw[:124] + b"\x00\x02IM" + raw[128:])
    with pytest.raises(ReaderError, match=r"v7.3 / HDF5"):
        read_utd_mhad(p)
    p.write_bytes(raw.replace(struct.pack("<iii", 20, 3, 5), struct.pack("<iii", 20, 3, -5)))
    with pytest.raises(ReaderError, match=r"negative array dimension"):
        read_utd_mhad(p)


def test_utd_truncated_file(tmp_path):
    raw = sample_path("utd_mhad", "Skeleton", "a10_s1_t1_skeleton.mat").read_bytes()
    p = tmp_path / "a10_s1_t1_skeleton.mat"
    for cut in (100, 128, 200, len(raw) // 2, len(raw) - 1):
        p.write_bytes(raw[:cut])
        with pytest.raises(ReaderError, match="corrupt .mat|not a MATLAB v5|no .d_skel. variable") as e:
            read_utd_mhad(p)
        assert str(p) in str(e.value)


# --- MSR Action3D: all 567 files of each variant ---------------------------------------------------
@pytest.fixture(scope="module")
def msr_world():
    files = sorted(data_path("msr_action3d", MSR_WORLD).glob("*_skeleton3D.txt"))
    return {f.name[:11]: read_msr_action3d(f) for f in files}


@pytest.fixture(scope="module")
def msr_screen():
    files = sorted(data_path("msr_action3d", MSR_SCREEN).glob("*_skeleton.txt"))
    return {f.name[:11]: read_msr_action3d(f) for f in files}


def _check_msr_common(seqs, coordinates):
    assert len(seqs) == 567
    assert all(s.format == "msr_action3d" and s.fps == 15 and s.joints.shape[::2] == (1, 20) and s.dims == 3
               and s.meta["coordinates"] == coordinates for s in seqs.values())
    assert sorted({s.meta["label"] for s in seqs.values()}) == list(range(20))
    assert all(s.meta["label_name"] == MSR_ACTIONS[s.meta["label"]] for s in seqs.values())
    assert sorted({s.meta["subject"] for s in seqs.values()}) == list(range(1, 11))
    assert Counter(s.meta["subject"] for s in seqs.values())[4] == 38
    assert Counter(msr_split(s.meta["subject"]) for s in seqs.values()) == {"train": 292, "test": 275}
    for s in seqs.values():
        c = s.confidence
        assert c.shape == s.joints.shape[:3] and c.min() >= 0 and c.max() <= 1
        assert (c[~s.valid] == 0).all()
    # the all-zero sequence comes back all-NaN and flagged; it is the only one
    bad = seqs["a13_s09_e02"]
    assert np.isnan(bad.joints).all() and bad.meta["all_missing"] is True
    assert bad.meta["missing_frames"] == bad.num_frames == 38
    assert [k for k, s in seqs.items() if s.meta.get("all_missing")] == ["a13_s09_e02"]
    # zeros only ever mean whole missing frames: no joint is exactly at the origin any more
    assert all(not (s.joints == 0).all(-1).any() for s in seqs.values())


def test_msr_real3d_all_files(msr_world):
    _check_msr_common(msr_world, "world")
    lengths = [s.num_frames for s in msr_world.values()]
    assert min(lengths) == 13 and max(lengths) == 936 and msr_world["a13_s09_e03"].num_frames == 936
    assert all("overflow_joints" not in s.meta for s in msr_world.values())
    assert sum("zero_joints" in s.meta for s in msr_world.values()) == 20
    j = np.concatenate([s.joints[0] for s in msr_world.values() if not s.meta.get("all_missing")])
    # metres, camera centred, y up: depth 2-4 m, head (joint 19) above hip centre (joint 6)
    assert 1.5 < np.nanmedian(j[..., 2]) < 4.0 and np.nanmax(np.abs(j)) < 10
    both = ~np.isnan(j[:, 19, 1]) & ~np.isnan(j[:, 6, 1])
    assert (j[both, 19, 1] > j[both, 6, 1]).mean() > 0.95
    s = msr_world["a07_s04_e01"]
    assert s.meta["missing_frames"] == 36 and np.isnan(s.joints[0, :36]).all() and not np.isnan(s.joints[0, 36:]).any()


def test_msr_screen_all_files(msr_screen, msr_world):
    _check_msr_common(msr_screen, "screen")
    lengths = [s.num_frames for s in msr_screen.values()]
    assert min(lengths) == 13 and max(lengths) == 255 and msr_screen["a13_s09_e03"].num_frames == 255
    mismatched = [k for k in msr_screen if msr_screen[k].num_frames != msr_world[k].num_frames]
    assert mismatched == ["a13_s09_e03"]
    overflow = {k: s.meta["overflow_joints"] for k, s in msr_screen.items() if "overflow_joints" in s.meta}
    assert len(overflow) == 20 and sum(overflow.values()) == 85
    s = msr_screen["a06_s03_e01"]  # frame 26, joint 12 (right hand) had v = 2.14748e9
    assert np.isnan(s.joints[0, 26, 12]).all() and s.confidence[0, 26, 12] == 0
    j = np.concatenate([s.joints[0] for s in msr_screen.values()])
    assert np.nanmax(j) < 1000 and np.nanmin(j) >= 0  # pixels and raw depth, no overflow left
    # the c column is shared by both variants
    np.testing.assert_array_equal(msr_screen["a01_s01_e01"].confidence, msr_world["a01_s01_e01"].confidence)


def test_msr_dispatch_names_and_protocol():
    p = sample_path("msr_action3d", MSR_SCREEN, "a05_s02_e03_skeleton.txt")
    assert reader_for(p)[0] == "msr_action3d"
    seq = read_sequence(p)
    assert seq.meta["label"] == 4 and seq.meta["subject"] == 2 and seq.meta["repetition"] == 3
    assert seq.meta["coordinates"] == "screen"
    assert parse_msr_name("a20_s10_e03_skeleton3D.txt") == {"action": 20, "subject": 10, "repetition": 3,
                                                             "coordinates": "world"}
    assert [msr_split(s) for s in range(1, 11)] == ["train", "test"] * 5
    assert {k: sorted(v) for k, v in MSR_SUBSETS.items()} == {
        "AS1": [1, 2, 4, 5, 9, 12, 17, 19], "AS2": [0, 3, 6, 7, 8, 10, 11, 13],
        "AS3": [5, 13, 14, 15, 16, 17, 18, 19]}


def _msr_text(frames: int = 3, crlf: bool = False) -> str:
    rows = [f"{0.1 * j:.6f} {0.5 - 0.05 * j:.6f} {2.5 + 0.01 * t:.6f} 1.000000" for t in range(frames)
            for j in range(20)]
    return ("\r\n" if crlf else "\n").join(rows) + "\n"


def test_msr_synthetic_missing_overflow_and_variant(tmp_path):
    lines = _msr_text(3).splitlines()
    lines[20:40] = ["0.000000 0.000000 0.000000 0.000000"] * 20  # frame 1 missing
    lines[45] = "0.1 2147483647 2.5 1"                          # overflow in frame 2, joint 5
    p = tmp_path / "a02_s03_e01_skeleton3D.txt"
    p.write_text("\n".join(lines) + "\n\n")
    seq = read_msr_action3d(p)
    assert seq.joints.shape == (1, 3, 20, 3)
    assert np.isnan(seq.joints[0, 1]).all() and seq.meta["missing_frames"] == 1 and seq.meta["zero_joints"] == 20
    assert np.isnan(seq.joints[0, 2, 5]).all() and seq.meta["overflow_joints"] == 1
    assert seq.confidence[0, 2, 5] == 0 and seq.confidence[0, 2, 4] == 1 and "all_missing" not in seq.meta
    assert seq.meta["label"] == 1 and seq.meta["subject"] == 3 and seq.meta["coordinates"] == "world"
    # unknown name: the variant is guessed from the depth column, or given explicitly
    q = tmp_path / "clip.txt"
    q.write_text(_msr_text(2, crlf=True))
    assert read_msr_action3d(q).meta["coordinates"] == "world" and "label" not in read_msr_action3d(q).meta
    assert read_msr_action3d(q, coordinates="screen").meta["coordinates"] == "screen"
    q.write_text("\n".join("120 80 669 1" for _ in range(20)))
    assert read_msr_action3d(q).meta["coordinates"] == "screen"


@pytest.mark.parametrize("mutate, msg, line", [
    (lambda s: s.replace("1.000000\n", "\n", 1), r"expected 4 numbers .* got 3", 1),
    (lambda s: s.replace("0.450000 2.500000 1.000000", "0.45 2.5 1 7", 1), r"expected 4 numbers .* got 5", 2),
    (lambda s: "\n".join(s.splitlines()[:30]) + "\n", r"30 joint lines is not a multiple of 20.*line 21", 21),
    (lambda s: s.replace("2.500000", "abc", 1), r"not a number in joint line: '0.000000 0.500000 abc", 1),
    (lambda s: s.replace("2.510000", "nan", 1), r"non-finite value in frame 1, joint 0", 21),
    (lambda s: s.replace("2.520000", "-inf", 1), r"non-finite value in frame 2, joint 0", 41),
    (lambda s: s.replace("1.000000", "2.0", 1), r"confidence .* \[0, 1\], got 2.0", 1),
    (lambda s: "", r"empty file", None),
    (lambda s: "\n \r\n\n", r"empty file", None),
])
def test_msr_malformed_errors_name_file_and_line(tmp_path, mutate, msg, line):
    p = tmp_path / "a01_s01_e01_skeleton3D.txt"
    p.write_text(mutate(_msr_text(3)))
    with pytest.raises(ReaderError, match=msg) as e:
        read_msr_action3d(p)
    assert str(p) in str(e.value) and e.value.line == line


def test_msr_non_ascii(tmp_path):
    p = tmp_path / "a01_s01_e01_skeleton.txt"
    p.write_bytes(_msr_text(1).encode() + b"\xff\xfe 1 2\n")
    with pytest.raises(ReaderError, match=r"non-ASCII byte") as e:
        read_sequence(p)
    assert e.value.line == 21


# --- Kinetics-skeleton: the 7 real val samples ---------------------------------------------------------
@pytest.mark.parametrize("k", range(7))
def test_kinetics_samples(k):
    """The k-th of the 7 real val clips when present, else of 7 generated clips in the same layout."""
    p = sorted(sample_path(*KINETICS, "kinetics_val_old").glob("*.json"))[k]
    vid = p.stem
    assert reader_for(p)[0] == "kinetics"
    seq = read_sequence(p)
    raw = json.loads(p.read_text())
    label, name = KINETICS_LABELS[vid] if is_real(p) else (raw["label_index"], raw["label"])
    assert seq.meta["label"] == label and seq.meta["label_name"] == name and seq.meta["youtube_id"] == vid
    assert seq.format == "openpose18" and seq.fps == 30 and seq.dims == 2 and seq.num_joints == 18
    t = max(fr["frame_index"] for fr in raw["data"])
    assert seq.num_frames == t <= 300
    assert seq.confidence.min() >= 0 and seq.confidence.max() <= 1 and (seq.confidence[~seq.valid] == 0).all()
    present = np.isfinite(seq.joints)
    assert np.nanmin(seq.joints) >= 0 and np.nanmax(seq.joints) < 1.1  # normalised (a few slightly > 1)
    # slot 0 of each frame is its best person by mean score; (0, 0) joints are NaN exactly there
    for fr in raw["data"]:
        people = fr["skeleton"]
        f = fr["frame_index"] - 1
        if not people:
            assert not present[:, f].any()
            continue
        best = max(people, key=lambda q: np.mean(q["score"]))
        xy = np.asarray(best["pose"], dtype=np.float64).reshape(18, 2)
        zero = (xy == 0).all(1)
        assert (np.isnan(seq.joints[0, f]).all(1) == zero).all()
        np.testing.assert_allclose(seq.joints[0, f][~zero], xy[~zero], atol=1e-6)
        if len(people) < 2:
            assert not present[1:, f].any()
    if seq.num_persons > 1:
        totals = seq.confidence.sum(axis=(1, 2))
        assert totals[0] >= totals[1]
    everyone = read_kinetics(p, max_persons=None)
    assert everyone.num_persons == max(len(fr["skeleton"]) for fr in raw["data"])
    assert everyone.meta["max_people_per_frame"] == everyone.num_persons
    np.testing.assert_array_equal(everyone.joints[:2], seq.joints)
    assert read_kinetics(p, max_persons=1).num_persons == 1


def test_kinetics_crowded_sample_and_labels():
    seq = read_kinetics(data_path(*KINETICS, "kinetics_val_old", "__PYrzYbzKE.json"), max_persons=None)
    assert seq.num_persons == 11
    labels = load_kinetics_labels(data_path(*KINETICS, "kinetics_val_label-old.json"))
    assert len(labels) == 19906 and sum(v["has_skeleton"] for v in labels.values()) == 19796
    for vid, (idx, name) in KINETICS_LABELS.items():
        assert labels[vid] == {"has_skeleton": True, "label": name, "label_index": idx}
    names = data_path("kinetics_skeleton_sample", "resource", "kinetics_skeleton", "label_name.txt")
    lines = names.read_text().splitlines()
    assert all(lines[idx] == name for idx, name in KINETICS_LABELS.values())


def _person(score: float, x: float = 0.5, n_missing: int = 0) -> dict:
    pose = [x, 0.4] * 18
    sc = [score] * 18
    for j in range(n_missing):
        pose[2 * j: 2 * j + 2] = [0, 0]
        sc[j] = 0.0
    return {"pose": pose, "score": sc}


def _kin(tmp_path: Path, data, name: str = "abcdefghijk.json", **extra) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps({"data": data, "label": "testing", "label_index": 7, **extra}))
    return p


def test_kinetics_ranking_placement_and_missing(tmp_path):
    data = [
        {"frame_index": 2, "skeleton": [_person(0.2, 0.1), _person(0.9, 0.2, n_missing=3), _person(0.5, 0.3)]},
        {"frame_index": 5, "skeleton": [_person(0.4, 0.4)]},
        {"frame_index": 4, "skeleton": []},
        {"frame_index": 5, "skeleton": [_person(0.6, 0.6)]},  # a repeated frame_index is pooled
    ]
    p = _kin(tmp_path, data)
    seq = read_kinetics(p)
    assert seq.joints.shape == (2, 5, 18, 2) and seq.meta["youtube_id"] == "abcdefghijk"
    assert seq.meta["label"] == 7 and seq.meta["label_name"] == "testing"
    assert np.isnan(seq.joints[:, [0, 2, 3]]).all() and (seq.confidence[:, [0, 2, 3]] == 0).all()
    # frame 2 (index 1): 0.9 first (mean 0.75 with 3 missing) > 0.5; 0.2 dropped
    assert seq.joints[0, 1, 5, 0] == pytest.approx(0.2) and seq.joints[1, 1, 0, 0] == pytest.approx(0.3)
    assert np.isnan(seq.joints[0, 1, :3]).all() and (seq.confidence[0, 1, :3] == 0).all()
    assert seq.joints[0, 4, 0, 0] == pytest.approx(0.6) and seq.joints[1, 4, 0, 0] == pytest.approx(0.4)
    assert read_kinetics(p, max_persons=None).num_persons == 3
    # scores above 1 (OpenPose heatmap peaks) are clipped
    q = _kin(tmp_path, [{"frame_index": 1, "skeleton": [_person(1.2)]}])
    one = read_kinetics(q)
    assert one.num_persons == 1 and one.confidence.max() == 1.0


def test_kinetics_no_people_and_no_label(tmp_path):
    p = tmp_path / "abcdefghijk.json"
    p.write_text(json.dumps({"data": [{"frame_index": 3, "skeleton": []}]}))
    seq = read_kinetics(p)
    assert seq.joints.shape == (1, 3, 18, 2) and np.isnan(seq.joints).all() and seq.meta["all_missing"]
    assert "label" not in seq.meta


@pytest.mark.parametrize("content, msg", [
    ("{not json", r"invalid JSON"),
    ("[" * 100_000, r"invalid JSON"),
    (json.dumps([1, 2]), r"'data' list"),
    (json.dumps({"data": []}), r"no frames"),
    (json.dumps({"data": [5]}), r"data\[0\]: a frame must be an object"),
    (json.dumps({"data": [{"frame_index": 0, "skeleton": []}]}), r"'frame_index' must be an integer"),
    (json.dumps({"data": [{"frame_index": 10**9, "skeleton": []}]}), r"'frame_index' must be an integer"),
    (json.dumps({"data": [{"frame_index": True, "skeleton": []}]}), r"'frame_index' must be an integer"),
    (json.dumps({"data": [{"frame_index": "1", "skeleton": []}]}), r"'frame_index' must be an integer"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": {}}]}), r"'skeleton' must be a list"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [3]}]}), r"a person must be an object"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 34, "score": [0.1] * 18}]}]}),
     r"person 0 \(frame_index 1\): 'pose' must be a list of 36 numbers, got 34"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 36}]}]}),
     r"'score' must be a list of 18 numbers, got NoneType"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": ["a"] * 36, "score": [0.1] * 18}]}]}),
     r"'pose' must hold numbers only"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 35 + [float("nan")],
                                                           "score": [0.1] * 18}]}]}),
     r"non-finite value .* in 'pose' at position 35"),
    ('{"data": [{"frame_index": 1, "skeleton": [{"pose": [' + "1e999, " * 35 + '0], "score": [' + "0, " * 17
     + "0]}]}]}", r"non-finite value .* in 'pose' at position 0"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 36, "score": [-0.1] * 18}]}]}),
     r"negative 'score'"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [10**400] * 36, "score": [0] * 18}]}]}),
     r"integer too large"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [True] * 36, "score": [0] * 18}]}]}),
     r"'pose' must hold numbers only"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": []}], "label_index": -1}), r"'label_index' must be"),
    (json.dumps({"data": [{"frame_index": 1, "skeleton": []}], "label": 3}), r"'label' must be a string"),
    (json.dumps({"data": [{"frame_index": 100_000, "skeleton": [_person(0.5)] * 6}]}), r"exceeds the"),
])
def test_kinetics_malformed(tmp_path, content, msg):
    p = tmp_path / "abcdefghijk.json"
    p.write_text(content)
    with pytest.raises(ReaderError, match=msg) as e:
        read_kinetics(p, max_persons=None)
    assert str(p) in str(e.value)


def test_kinetics_non_utf8_and_bad_argument(tmp_path):
    p = tmp_path / "abcdefghijk.json"
    p.write_bytes(b'{"data": [\xff]}')
    with pytest.raises(ReaderError, match="invalid UTF-8 byte"):
        read_kinetics(p)
    with pytest.raises(ValueError, match="max_persons"):
        read_kinetics(p, max_persons=0)


@pytest.mark.parametrize("content", [json.dumps([1]), json.dumps({"x": {"label": "a"}}),
                                     json.dumps({"x": {"has_skeleton": 1, "label": "a", "label_index": 0}}),
                                     "{"])
def test_kinetics_labels_malformed(tmp_path, content):
    p = tmp_path / "labels.json"
    p.write_text(content)
    with pytest.raises(ReaderError, match=str(p)):
        load_kinetics_labels(p)
