"""PKU-MMD (real files, else generated ones in their layout), PYSKL pickles (round trip, restricted
unpickler) and generic NumPy arrays."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from s2i.readers import ReaderError, read_sequence
from s2i.readers.arrays import read_npy_array, read_sequence_array
from s2i.readers.base import READERS
from s2i.readers.pku_mmd import (
    PKU_ACTIONS,
    PKU_TWO_PERSON,
    parse_pku_name,
    pku_segments,
    read_pku_labels,
    read_pku_untrimmed,
)
from s2i.readers.pyskl import read_pyskl, safe_load_pickle, write_pyskl
from s2i.skeleton import SkeletonSequence
from s2i.sources.pku_mmd import read_pku_split

from helpers import is_real, sample_path, synthetic_ntu

P1 = ("pku_mmd_sample", "phase1")


def skel(video):
    return sample_path(*P1, "Data", "Skeleton", "PKU_Skeleton_Renew", f"{video}.txt")


def labels(video):
    return sample_path(*P1, "Label", "Train_Label_PKU_final", f"{video}.txt")


def raw_bodies(path):
    """An independent reading: (T, 2 bodies, 25, 3) from the 150 numbers a line."""
    return np.loadtxt(path, dtype=np.float64).reshape(-1, 2, 25, 3)


# --- PKU-MMD: the real files when present, else generated ones in the same layout ----------------------

def test_pku_single_person_drops_absent_body():
    p = skel("0160-L")
    seq = read_pku_untrimmed(p)
    raw = raw_bodies(p)
    assert (raw[:, 1] == 0).all()  # the file holds a second body, absent in every frame
    assert seq.joints.shape == (1, len(raw), 25, 3)
    assert seq.format == "ntu25" and seq.fps == 30
    assert not np.isnan(seq.joints).any()
    np.testing.assert_allclose(seq.joints[0], raw[:, 0], rtol=1e-6)
    assert seq.meta["video"] == "0160-L" and seq.meta["view"] == "L" and seq.meta["phase"] == 1
    assert "subject" not in seq.meta  # phase-I numbers do not name subjects
    if is_real(p):
        assert len(raw) == 2566
        np.testing.assert_allclose(seq.joints[0, 0, 0], [0.212642, -0.145207, 2.621357], rtol=1e-6)


def test_pku_two_persons():
    p = skel("0310-R")
    seq = read_pku_untrimmed(p)
    assert seq.joints.shape == (2, len(raw_bodies(p)), 25, 3) and (not is_real(p) or seq.num_frames == 1158)
    assert not np.isnan(seq.joints).any() and seq.meta["view"] == "R"
    assert 1.0 < float(np.mean(seq.joints[..., 2])) < 5.0


def test_pku_phase2_partial_second_body():
    p = sample_path("pku_mmd_sample", "phase2", "A10N08-L.txt")
    seq = read_pku_untrimmed(p)
    raw = raw_bodies(p)
    assert seq.joints.shape == (2, len(raw), 25, 3)
    absent = np.isnan(seq.joints[1]).all(axis=(1, 2))
    assert 0 < int(absent.sum()) < len(raw)
    np.testing.assert_array_equal(absent, (raw[:, 1] == 0).all(axis=(1, 2)))
    if is_real(p):
        assert len(raw) == 1040 and int(absent.sum()) == 1040 - 728  # body 2 present in 728 frames (PROVENANCE)
    assert not np.isnan(seq.joints[0]).any()
    assert seq.meta["phase"] == 2 and seq.meta["video"] == "A10N08-L" and seq.meta["view"] == "L"


def test_pku_registry_predicate_and_read_sequence():
    matches = READERS["pku-mmd"][1]
    assert matches(skel("0160-L"))
    assert matches(sample_path("pku_mmd_sample", "phase2", "A10N08-L.txt"))
    assert not matches(labels("0160-L"))  # same name, but a label file
    for name in ("a01_s01_e01_skeleton.txt", "a01_s01_e01_skeleton3D.txt", "0160-L.json", "160-L.txt",
                 "0160-X.txt", "notes.txt", "A10N08-L-copy.txt", "cross-view.txt"):
        assert not matches(Path("/nonexistent") / name), name
    seq = read_sequence(skel("0310-R"), kind="pku-mmd")
    assert seq.num_persons == 2


def test_parse_pku_name():
    assert parse_pku_name("0002-M") == {"video": "0002-M", "view": "M", "phase": 1, "number": 2}
    assert parse_pku_name("A01N02-R")["n_number"] == 2
    assert parse_pku_name("S001C001P001R001A001") is None


def test_pku_label_files():
    for video in ("0160-L", "0310-R"):
        p = labels(video)
        want = [tuple(int(v) for v in line.split(",")) for line in p.read_text().split()]
        assert read_pku_labels(p) == want and want
    if is_real(labels("0160-L")):
        a, b = read_pku_labels(labels("0160-L")), read_pku_labels(labels("0310-R"))
        assert len(a) == 16 and len(b) == 8
        assert a[0] == (4, 134, 207, 2) and a[4] == (42, 970, 1093, 1) and b[0] == (27, 148, 192, 2)


def test_pku_segments_single_person():
    full = read_pku_untrimmed(skel("0160-L"))
    inst = read_pku_labels(labels("0160-L"))
    segs = pku_segments(skel("0160-L"), labels("0160-L"))
    assert len(segs) == len(inst)
    for s, (lab, start, end, conf) in zip(segs, inst):
        assert s.label == lab - 1 and s.meta["label_name"] == PKU_ACTIONS[lab - 1]
        assert s.num_frames == end - start + 1  # 1-based inclusive
        np.testing.assert_array_equal(s.joints, full.joints[:, start - 1:end])
        assert s.meta["segment_start"] == start and s.meta["segment_end"] == end
        assert s.meta["confidence"] == conf and s.meta["view"] == "L" and s.meta["video"] == "0160-L"
        assert s.num_persons == 1 and s.fps == 30 and s.format == "ntu25"
    assert len({s.meta["name"] for s in segs}) == len(inst)
    if is_real(skel("0160-L")):
        assert len(segs) == 16 and [s.label for s in segs][:3] == [3, 39, 8]
        assert segs[0].meta["label_name"] == "check time (from watch)"


def test_pku_segments_two_person_actions():
    segs = pku_segments(skel("0310-R"), labels("0310-R"))
    inst = read_pku_labels(labels("0310-R"))
    assert [s.label for s in segs] == [lab - 1 for lab, *_ in inst]
    assert [s.num_frames for s in segs] == [end - start + 1 for _, start, end, _ in inst]
    assert all(s.label in PKU_TWO_PERSON and s.num_persons == 2 for s in segs)
    if is_real(skel("0310-R")):
        assert [s.label for s in segs] == [26, 17, 25, 15, 23, 20, 11, 13]
        assert [s.num_frames for s in segs] == [45, 22, 57, 110, 64, 66, 94, 90]


def test_pku_splits():
    xsub = read_pku_split(sample_path(*P1, "Split", "Split", "cross-subject.txt"))
    xview = read_pku_split(sample_path(*P1, "Split", "Split", "cross-view.txt"))
    if is_real(sample_path(*P1)):
        assert (len(xsub["train"]), len(xsub["test"])) == (944, 132)
        assert (len(xview["train"]), len(xview["test"])) == (717, 359)
    assert "0160-L" in xsub["train"] and "0160-L" in xview["train"]
    assert "0310-R" in xsub["test"] and "0310-R" in xview["train"]
    assert all(v.endswith("-M") for v in xview["test"])
    assert not set(xsub["train"]) & set(xsub["test"])


# --- PKU-MMD: synthetic edge cases -------------------------------------------------------------

def pku_lines(t, two=False, seed=0):
    rng = np.random.default_rng(seed)
    body = rng.uniform(-1, 1, (t, 75)) + np.tile([0, 0, 3], 25)
    other = body + 0.5 if two else np.zeros((t, 75))
    return "\n".join(" ".join(f"{v:.6f}" for v in row) for row in np.hstack([body, other])) + "\n"


def test_pku_segments_clip_and_skip(tmp_path):
    s = tmp_path / "0001-M.txt"
    s.write_text(pku_lines(30))
    lab = tmp_path / "label.txt"
    lab.write_text("1,1,10,2\n2,0,5,1\n3,25,40,2\n4,31,40,1\n\n")
    skipped: list[str] = []
    segs = pku_segments(s, lab, skipped=skipped)
    assert [x.num_frames for x in segs] == [10, 5, 6]
    assert "clipped" not in segs[0].meta and segs[1].meta["clipped"] and segs[2].meta["clipped"]
    assert segs[1].meta["segment_start"] == 0  # kept as written in the label file
    assert len(skipped) == 1 and "31..40" in skipped[0] and "skipped" in skipped[0]


def test_pku_segment_drops_body_absent_in_segment(tmp_path):
    s = tmp_path / "0002-L.txt"
    rows = pku_lines(20, two=True).splitlines()
    rows[:10] = [" ".join(r.split()[:75] + ["0"] * 75) for r in rows[:10]]
    s.write_text("\n".join(rows) + "\n")
    lab = tmp_path / "l.txt"
    lab.write_text("5,1,10,2\n14,8,20,2\n")
    a, b = pku_segments(s, lab)
    assert a.num_persons == 1 and b.num_persons == 2
    assert np.isnan(b.joints[1, :3]).all() and not np.isnan(b.joints[1, 3:]).any()


@pytest.mark.parametrize("text, msg", [
    ("", "empty"),
    ("1 2 3\n", "expected 150 numbers"),
    ("4,134,207,2\n", "label file"),
    (" ".join(["0.5"] * 149 + ["abc"]) + "\n", "not a number"),
    (" ".join(["0.5"] * 149 + ["nan"]) + "\n", "non-finite"),
    (" ".join(["0.5"] * 150) + "\n\n" + " ".join(["0.5"] * 150) + "\n", "frame 2"),
])
def test_pku_malformed_skeleton(tmp_path, text, msg):
    f = tmp_path / "0003-L.txt"
    f.write_text(text)
    with pytest.raises(ReaderError, match=msg) as e:
        read_pku_untrimmed(f)
    assert str(f) in str(e.value)


def test_pku_all_zero_file(tmp_path):
    f = tmp_path / "0004-L.txt"
    f.write_text((" ".join(["0"] * 150) + "\n") * 3)
    seq = read_pku_untrimmed(f)
    assert seq.joints.shape == (1, 3, 25, 3) and np.isnan(seq.joints).all() and seq.meta["all_missing"]


@pytest.mark.parametrize("text, msg", [
    ("", "empty label file"),
    ("4,134,207\n", "4 non-negative integers"),
    ("52,1,2,1\n", "label must be 1..51"),
    ("0,1,2,1\n", "label must be 1..51"),
    ("4,20,10,1\n", "before start"),
    ("4,a,10,1\n", "4 non-negative integers"),
    ("4,1,99999999999,1\n", "implausible"),
])
def test_pku_malformed_labels(tmp_path, text, msg):
    f = tmp_path / "0160-L.txt"
    f.write_text(text)
    with pytest.raises(ReaderError, match=msg):
        read_pku_labels(f)


def test_pku_labels_tolerate_spaces_and_trailing_comma(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text(" 4, 134 ,207,2,\r\n\r\n5,1,2,1")
    assert read_pku_labels(f) == [(4, 134, 207, 2), (5, 1, 2, 1)]


@pytest.mark.parametrize("text, msg", [
    ("Training videos: \n0002-L, 0002-M\n", "Validataion"),
    ("0002-L\n", "Training videos"),
    ("Training videos: \n0002-L, bogus\nValidataion videos: \n0003-L\n", "not a PKU-MMD video id"),
    ("Training videos: \n0002-L\nValidataion videos: \n0002-L\n", "listed twice"),
])
def test_pku_malformed_split(tmp_path, text, msg):
    f = tmp_path / "split.txt"
    f.write_text(text)
    with pytest.raises(ReaderError, match=msg):
        read_pku_split(f)


def test_pku_split_phase2_ids(tmp_path):
    f = tmp_path / "split.txt"
    f.write_text("Training videos: \nA01N01-L, A01N01-M,\nValidation videos: A01N02-L\n")
    assert read_pku_split(f) == {"train": ["A01N01-L", "A01N01-M"], "test": ["A01N02-L"]}


# --- PYSKL pickles -----------------------------------------------------------------------------

def ntu_sequences(n=4):
    x = synthetic_ntu(n=n, t=30, persons=2, seed=1)
    seqs = []
    for i in range(n):
        j = x[i].copy()
        j[0, 5, 3] = np.nan          # a missing joint
        persons = 1 if i % 2 else 2
        seqs.append(SkeletonSequence(j[:persons], format="ntu25",
                                     meta={"name": f"S001C001P00{i}R001A00{i}", "label": i}))
    return seqs


def test_pyskl_round_trip_ntu(tmp_path):
    seqs = ntu_sequences()
    split = {"xsub_train": [s.meta["name"] for s in seqs[:3]], "xsub_val": [seqs[3].meta["name"]]}
    f = tmp_path / "ntu60_3d.pkl"
    write_pyskl(f, seqs, split)
    raw = safe_load_pickle(f)
    ann = raw["annotations"][0]
    assert ann["keypoint"].dtype == np.float32 and ann["keypoint"].shape == (2, 30, 25, 3)
    assert ann["keypoint"][0, 5, 3].tolist() == [0, 0, 0] and ann["total_frames"] == 30
    assert "keypoint_score" not in ann
    back, split2 = read_pyskl(f)
    assert split2 == split
    for a, b in zip(seqs, back):
        assert b.format == "ntu25" and b.meta["name"] == a.meta["name"] and b.label == a.label
        np.testing.assert_array_equal(a.joints, b.joints)  # NaN <-> 0 <-> NaN
        assert b.meta["total_frames"] == 30 and b.meta["source"] == str(f)


def test_pyskl_round_trip_coco_2d_with_scores(tmp_path):
    rng = np.random.default_rng(2)
    seqs = []
    for i in range(3):
        xy = rng.uniform(10, 500, (2, 20, 17, 2)).astype(np.float32)
        score = rng.uniform(0.1, 1, (2, 20, 17)).astype(np.float32)
        xy[1, 3:6] = np.nan
        score[1, 3:6] = 0
        seqs.append(SkeletonSequence(xy, format="coco17", confidence=score,
                                     meta={"name": f"clip{i}", "label": 7 + i, "img_shape": (480, 640)}))
    f = tmp_path / "out" / "coco.pkl"
    write_pyskl(f, seqs, {"train": ["clip0", "clip1"], "test": ["clip2"]})
    back, split = read_pyskl(f)
    assert split == {"train": ["clip0", "clip1"], "test": ["clip2"]}
    for a, b in zip(seqs, back):
        assert b.format == "coco17" and b.dims == 2 and b.meta["img_shape"] == (480, 640)
        np.testing.assert_array_equal(a.joints, b.joints)
        np.testing.assert_array_equal(a.confidence, b.confidence)
    assert not list(f.parent.glob(".*"))  # no temporary left behind


def pyskl_file(path, anns, split=None, protocol=4):
    with open(path, "wb") as fh:
        pickle.dump({"split": split or {}, "annotations": anns}, fh, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pyskl_reads_any_protocol_and_packed_scores(tmp_path, protocol):
    rng = np.random.default_rng(3)
    kp = rng.uniform(1, 100, (1, 8, 17, 3)).astype(np.float64)  # x, y, score packed
    ann = {"frame_dir": "v1", "label": np.int64(4), "keypoint": kp, "keypoint_score": kp[..., 2].copy(),
           "total_frames": 8, "img_shape": (240, 320), "original_shape": np.array([240, 320]),
           "dataset": "toy", "extra_array": np.zeros((3, 3))}
    f = pyskl_file(tmp_path / "a.pkl", [ann], {"train": ["v1"]}, protocol)
    (seq,), split = read_pyskl(f)
    assert seq.format == "coco17" and seq.joints.shape == (1, 8, 17, 2) and seq.label == 4
    np.testing.assert_allclose(seq.confidence, kp[..., 2], rtol=1e-6)
    assert seq.meta["dataset"] == "toy" and seq.meta["original_shape"] == (240, 320)
    assert "extra_array" not in seq.meta and split == {"train": ["v1"]}


def test_pyskl_bare_list_and_zero_persons(tmp_path):
    kp = np.zeros((2, 5, 25, 3), np.float32)
    kp[0] = synthetic_ntu(n=1, t=5)[0, 0]
    kp[0, 2, 7] = 0
    f = tmp_path / "mm.pkl"
    f.write_bytes(pickle.dumps([{"frame_dir": "x", "label": 1, "keypoint": kp}]))
    (seq,), split = read_pyskl(f)
    assert split == {} and seq.num_persons == 1 and seq.meta["persons_dropped"] == 1
    assert np.isnan(seq.joints[0, 2, 7]).all() and np.isnan(seq.joints).sum() == 3


def test_pyskl_format_inference_and_override(tmp_path):
    kp = np.random.default_rng(0).uniform(1, 9, (1, 4, 18, 2)).astype(np.float32)
    f = pyskl_file(tmp_path / "op.pkl", [{"frame_dir": "a", "label": 0, "keypoint": kp}])
    with pytest.raises(ReaderError, match="V=18, C=2.*format"):
        read_pyskl(f)
    (seq,), _ = read_pyskl(f, format="openpose18")
    assert seq.format == "openpose18"
    with pytest.raises(ReaderError, match="25 joints"):
        read_pyskl(f, format="ntu25")


@pytest.mark.parametrize("ann, msg", [
    ({"frame_dir": "a"}, "no 'keypoint'"),
    ({"frame_dir": "a", "raw_file": "k.pkl"}, "kpfiles"),
    ({"frame_dir": "a", "keypoint": np.zeros((4, 25, 3))}, r"\(M, T, V, C\)"),
    ({"frame_dir": "a", "keypoint": np.ones((1, 4, 17, 2)), "keypoint_score": np.ones((1, 4))}, "keypoint_score"),
    ({"frame_dir": "a", "keypoint": np.full((1, 2, 25, 3), np.inf)}, "infinite"),
    ({"frame_dir": "a", "keypoint": np.ones((1, 2, 25, 3)), "label": "x"}, "integer"),
    ("not a dict", "expected a dict"),
])
def test_pyskl_bad_annotations(tmp_path, ann, msg):
    f = pyskl_file(tmp_path / "bad.pkl", [ann])
    with pytest.raises(ReaderError, match=msg) as e:
        read_pyskl(f)
    assert str(f) in str(e.value)


class Custom:
    pass


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_restricted_unpickler_refuses_code(tmp_path, protocol):
    marker = tmp_path / "pwned"
    cases = {
        "system": (RunsCommand(marker), "system"),
        "eval": (RunsEval(), r"_?_?builtins?_?_?\.eval"),
        "custom": (Custom(), "Custom"),
        "object_array": (np.array([1, "a"], dtype=object), "dtype"),
        "structured": (np.zeros(2, dtype=[("a", "f4")]), "dtype"),
    }
    for name, (obj, msg) in cases.items():
        f = tmp_path / f"{name}.pkl"
        f.write_bytes(pickle.dumps({"annotations": [obj]}, protocol=protocol))
        with pytest.raises(ReaderError, match=msg) as e:
            safe_load_pickle(f)
        assert str(f) in str(e.value) and "refused" in str(e.value)
    assert not marker.exists()


def test_restricted_unpickler_handcrafted(tmp_path):
    marker = tmp_path / "x"
    evil = (b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    f = tmp_path / "evil.pkl"
    f.write_bytes(evil)
    with pytest.raises(ReaderError, match="forbidden global os.system"):
        safe_load_pickle(f)
    assert not marker.exists()
    # a memo index far beyond the data would make the C unpickler allocate a huge table
    f.write_bytes(b"\x80\x02Nr\xff\xff\xff\x7f.")
    with pytest.raises(ReaderError, match="memo index"):
        safe_load_pickle(f)
    # numpy.ndarray may only appear as _reconstruct's argument, never be called
    f.write_bytes(b"\x80\x02cnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85R.")
    with pytest.raises(ReaderError):
        safe_load_pickle(f)
    f.write_bytes(b"")
    with pytest.raises(ReaderError, match="empty"):
        safe_load_pickle(f)


def test_safe_load_plain_containers(tmp_path):
    import collections
    obj = {"a": [1, 2.5, "s", None, True], "t": (1, (2, 3)), "s": {1, 2}, "fs": frozenset("ab"),
           "od": collections.OrderedDict(x=1), "b": b"", "bb": b"\x00\xff", "c": 1 + 2j,
           "arr": np.arange(6, dtype=">i4").reshape(2, 3), "f": np.asfortranarray(np.ones((2, 3))),
           "u": np.array(["ab", "c"]), "sc": np.float32(2.5), "st": np.str_("hi")}
    shared = [1]
    obj["shared"] = (shared, shared)
    for proto in (0, 2, 4, 5):
        f = tmp_path / f"c{proto}.pkl"
        f.write_bytes(pickle.dumps(obj, protocol=proto))
        back = safe_load_pickle(f)
        assert back.keys() == obj.keys()
        for k, v in obj.items():
            if isinstance(v, np.ndarray):
                assert back[k].dtype == v.dtype and np.array_equal(back[k], v), (proto, k)
                back[k][...] = back[k]  # writable copies
            else:
                assert back[k] == v, (proto, k)
        assert back["shared"][0] is back["shared"][1]


def test_write_pyskl_errors(tmp_path):
    seqs = ntu_sequences(2)
    seqs[1].meta["name"] = seqs[0].meta["name"]
    f = tmp_path / "dup.pkl"
    with pytest.raises(ValueError, match="share the frame_dir"):
        write_pyskl(f, seqs, {})
    assert not f.exists()
    seqs = ntu_sequences(1)
    with pytest.raises(ValueError, match="not among the sequences"):
        write_pyskl(f, seqs, {"train": ["nope"]})
    seqs[0].meta.pop("name")
    seqs[0].meta["source"] = "/data/S001C001P001R001A001.skeleton"
    write_pyskl(f, seqs, {"train": ["S001C001P001R001A001"]})
    (back,), _ = read_pyskl(f)
    assert back.meta["name"] == "S001C001P001R001A001"


# --- generic arrays ----------------------------------------------------------------------------

def padded_batch():
    """(N, C, T, V, M) with zero padding: sample 0 one person, sample 1 shorter, sample 2 a lost joint."""
    x = synthetic_ntu(n=3, t=40, persons=2, seed=5)  # (N, M, T, V, C)
    x[0, 1] = 0
    x[1, :, 25:] = 0
    x[2, 0, :, 3] = 0
    return x


def check_padded(seqs, x):
    assert [s.joints.shape for s in seqs] == [(1, 40, 25, 3), (2, 25, 25, 3), (2, 40, 25, 3)]
    np.testing.assert_array_equal(seqs[0].joints[0], x[0, 0])
    assert seqs[0].meta["persons_dropped"] == 1 and seqs[1].meta["padded_frames"] == 15
    assert np.isnan(seqs[2].joints[0, :, 3]).all() and np.isnan(seqs[2].joints).sum() == 40 * 3
    assert all(s.format == "ntu25" for s in seqs)


def test_npy_nctvm(tmp_path):
    x = padded_batch()
    f = tmp_path / "train_data_joint.npy"
    np.save(f, x.transpose(0, 4, 2, 3, 1))
    seqs = read_npy_array(f, "ntu25")
    check_padded(seqs, x)
    assert seqs[1].meta["index"] == 1 and seqs[1].meta["source"] == str(f) and seqs[0].label is None


@pytest.mark.parametrize("layout", ["NMTVC", "NTVC"])
def test_npy_other_layouts(tmp_path, layout):
    x = padded_batch()
    f = tmp_path / "a.npy"
    if layout == "NMTVC":
        np.save(f, x)
        check_padded(read_npy_array(f, "ntu25", layout=layout), x)
    else:
        np.save(f, x[:, 0])
        seqs = read_npy_array(f, "ntu25", layout=layout)
        assert [s.joints.shape for s in seqs] == [(1, 40, 25, 3), (1, 25, 25, 3), (1, 40, 25, 3)]


@pytest.mark.parametrize("key, ykey, y", [
    ("x_data", "y", np.eye(60)[[4, 0, 59]]),
    ("data", "label", np.array([4, 0, 59])),
    ("anything", "labels", np.array([[4], [0], [59]], dtype=float)),
])
def test_npz_with_labels(tmp_path, key, ykey, y):
    x = padded_batch()
    f = tmp_path / "b.npz"
    np.savez_compressed(f, **{key: x.transpose(0, 4, 2, 3, 1), ykey: y})
    seqs = read_npy_array(f, "ntu25")
    check_padded(seqs, x)
    assert [s.label for s in seqs] == [4, 0, 59] and seqs[0].meta["array"] == key


def test_npy_2d_with_score_channel(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.1, 1, (2, 3, 10, 17, 1)).astype(np.float32)  # N C T V M, C = x, y, score
    a[1, :, 6:] = 0
    f = tmp_path / "k.npy"
    np.save(f, a)
    s0, s1 = read_npy_array(f, "coco17")
    assert s0.dims == 2 and s0.confidence.shape == (1, 10, 17) and s1.num_frames == 6
    np.testing.assert_allclose(s0.confidence[0], a[0, 2, :, :, 0])


def test_npy_all_zero_sample_kept_as_missing(tmp_path):
    x = padded_batch()
    x[1] = 0
    f = tmp_path / "z.npy"
    np.save(f, x.transpose(0, 4, 2, 3, 1))
    seqs = read_npy_array(f, "ntu25")
    assert len(seqs) == 3 and seqs[1].meta["all_missing"] and seqs[1].joints.shape == (1, 1, 25, 3)


@pytest.mark.parametrize("arr, kw, msg", [
    (np.zeros((2, 3, 10, 17, 2), np.float32), {}, "25 joints"),
    (np.zeros((2, 3, 10, 25), np.float32), {}, "layout 'NCTVM' has 5 axes"),
    (np.ones((2, 3, 10, 25, 1), np.float32), {"layout": "NCTXM"}, "permutation"),
    (np.ones((2, 2, 10, 25, 1), np.float32), {}, "3D, the array has C=2"),
    (np.array([[1, "a"]], dtype=object), {}, "Python objects|pickle"),
    (np.array(["a", "b"]), {}, "numeric"),
])
def test_npy_errors(tmp_path, arr, kw, msg):
    f = tmp_path / "e.npy"
    np.save(f, arr, allow_pickle=True)
    with pytest.raises(ReaderError, match=msg) as e:
        read_npy_array(f, "ntu25", **kw)
    assert str(f) in str(e.value)


def test_npy_inf_and_unknown_format(tmp_path):
    a = np.ones((1, 3, 4, 25, 1), np.float32)
    a[0, 0, 2, 5, 0] = np.inf
    f = tmp_path / "i.npy"
    np.save(f, a)
    with pytest.raises(ReaderError, match="infinite value.* at person 0, frame 2, joint 5"):
        read_npy_array(f, "ntu25")
    with pytest.raises(ReaderError, match="unknown skeleton format"):
        read_npy_array(f, "nope")


def test_npz_ambiguous_and_mismatched_labels(tmp_path):
    f = tmp_path / "m.npz"
    np.savez(f, a=np.ones((1, 3, 4, 25, 1)), b=np.ones((1, 3, 4, 25, 1)))
    with pytest.raises(ReaderError, match="cannot tell the data array"):
        read_npy_array(f, "ntu25")
    np.savez(f, x=np.ones((2, 3, 4, 25, 1)), y=np.array([1, 2, 3]))
    with pytest.raises(ReaderError, match="does not match 2 samples"):
        read_npy_array(f, "ntu25")


def test_npy_huge_declared_shape(tmp_path):
    f = tmp_path / "h.npy"
    np.save(f, np.ones((1, 3, 4, 25, 1), np.float32))
    raw = f.read_bytes().replace(b"(1, 3, 4, 25, 1)", b"(10000000000, 3, 4, 25, 1)")
    f.write_bytes(raw)
    with pytest.raises(ReaderError, match="declares shape"):
        read_npy_array(f, "ntu25")


def test_sequence_array(tmp_path):
    x = padded_batch()[1]  # (M, T, V, C), 25 valid frames
    f = tmp_path / "one.npy"
    np.save(f, x)
    seq = read_sequence_array(f, "ntu25")
    assert seq.joints.shape == (2, 25, 25, 3) and seq.meta["name"] == "one"
    np.save(f, x[0])
    assert read_sequence_array(f, "ntu25").joints.shape == (1, 25, 25, 3)
    g = tmp_path / "one.npz"
    np.savez(g, x[0])
    assert read_sequence_array(g, "ntu25").joints.shape == (1, 25, 25, 3)
    np.save(f, x[0, 0])
    with pytest.raises(ReaderError, match=r"\(M, T, V, C\) or \(T, V, C\)"):
        read_sequence_array(f, "ntu25")
    np.save(f, np.ones((0, 25, 3)))
    with pytest.raises(ReaderError):
        read_sequence_array(f, "ntu25")


def test_values_beyond_float32_are_errors(tmp_path):
    """Finite float64 values that overflow float32 must not slip through as inf."""
    f = tmp_path / "0005-L.txt"
    f.write_text(" ".join(["0.5"] * 10 + ["1e300"] + ["0.5"] * 139) + "\n")
    with pytest.raises(ReaderError, match="non-finite"):
        read_pku_untrimmed(f)
    a = np.ones((1, 3, 4, 25, 1))
    a[0, 1, 2, 3, 0] = 1e300
    g = tmp_path / "big.npy"
    np.save(g, a)
    with pytest.raises(ReaderError, match="float32 range"):
        read_npy_array(g, "ntu25")
    kp = np.ones((1, 4, 25, 3))
    kp[0, 2, 3, 1] = 1e300
    h = pyskl_file(tmp_path / "big.pkl", [{"frame_dir": "a", "keypoint": kp}])
    with pytest.raises(ReaderError, match="float32 range"):
        read_pyskl(h)
