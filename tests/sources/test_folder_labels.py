"""Labels, segments and splits of a user's folder (issue 13 items 7, 10, 11; split grouping in one place)."""

import json

import numpy as np
import pytest

from s2i.cli import main
from s2i.sources import PrepareOptions
from s2i.sources.folder import read_label_rows
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare


def rec(path, t=40, index=None, v=20, seed=0):
    """One frame a line, 20 joints x xyz; frame value k is stored in joint 0's x to check which rows land where."""
    rng = np.random.default_rng(seed)
    idx = index if index is not None else list(range(1, t + 1))
    x = rng.normal(0, 0.3, (len(idx), v, 3))
    x[:, 0, 0] = idx
    lines = [",".join(([str(i)] if index is not None else []) + [f"{a:.4f}" for a in f.ravel()])
             for i, f in zip(idx, x)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def store_of(tmp_path, root, *extra, name="s"):
    out = tmp_path / name
    code = main(["prepare", "folder", "--root", str(root), "--out", str(out), "--format", "kinect_v1",
                 "--workers", "1", "--quiet", *extra])
    return code, out


def test_segments_from_a_labels_csv(tmp_path, capsys):
    root = tmp_path / "raw"
    # a Kinect recording with its own frame numbers (starting at 100, one repeated frame, a gap)
    index = list(range(100, 130)) + [129] + list(range(135, 150))
    rec(root / "session1.csv", index=index)
    rec(root / "session2.csv", t=50)  # no index column: 1-based frame numbers
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label,start,end,subject,view,split\n"
                      "session1.csv,wave,100,109,s01,front,train\n"
                      "session1.csv,kick,125,140,s01,front,train\n"
                      "session2,wave,1,20,s02,side,test\n"
                      "session2,sit,21,50,s02,side,test\n")
    code, out = store_of(tmp_path, root, "--labels", str(labels))
    assert code == 0
    printed = capsys.readouterr().out
    assert "frame indices: 1 repeated frame(s) dropped" in printed and "5 missing frame(s) in 1 file(s)" in printed
    st = SkeletonStore(out)
    assert len(st) == 4 and st.class_names == ["kick", "sit", "wave"]
    names = [m["name"] for m in st.meta]
    assert names == ["session1_100-109", "session1_125-140", "session2_1-20", "session2_21-50"]
    # bounds are inclusive, in the file's own indices (session1) or 1-based frames (session2)
    np.testing.assert_array_equal(st.joints(0)[0, :, 0, 0], np.arange(100, 110))
    np.testing.assert_array_equal(st.joints(1)[0, :, 0, 0], list(range(125, 130)) + list(range(135, 141)))
    np.testing.assert_array_equal(st.joints(3)[0, :, 0, 0], np.arange(21, 51))
    assert [int(x) for x in st.labels] == [2, 0, 2, 1]
    m = st.meta[1]
    assert (m["subject"], m["view"], m["label_name"], m["segment"]) == ("s01", "front", "kick", [125, 140])
    assert "frame_index" not in m  # the per-frame index is not copied into the store
    assert {k: len(v) for k, v in st.splits["csv"].items()} == {"train": 2, "test": 2}
    report = json.loads((out / "report.json").read_text())
    assert report["frame_index"]["duplicate_frames"] == 1 and report["frame_index"]["files_with_gaps"] == 1
    assert main(["inspect", str(out)]) == 0
    assert "kick" in capsys.readouterr().out


def test_segment_errors_name_the_csv_line(tmp_path, capsys):
    root = tmp_path / "raw"
    rec(root / "a.csv", t=10)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label,start,end\na.csv,1,5,3\n")
    with pytest.raises(ValueError, match=r"labels\.csv:2: segment start 5 is after its end 3"):
        read_label_rows(labels)
    labels.write_text("file,label,start,end\na.csv,1,x,3\n")
    with pytest.raises(ValueError, match=r"labels\.csv:2: 'start' and 'end' must be integers"):
        read_label_rows(labels)
    rec(root / "b.csv", t=5)
    labels.write_text("file,label,start,end\na.csv,1,1,5\na.csv,1,50,60\nb.csv,1,1,5\n")
    code, out = store_of(tmp_path, root, "--labels", str(labels))
    assert code == 1  # a.csv is skipped and listed, b.csv makes the store
    err = capsys.readouterr().err
    assert "a.csv: labels line 3: segment 50..60 holds no frame (the file has frames 1..10)" in err
    labels.write_text("file,label\na.csv,wave\nb.csv,3\n")
    code, _ = store_of(tmp_path, root, "--labels", str(labels), name="s2")
    assert code == 2
    assert "labels.csv: the label column mixes numbers ('3') and class names" in capsys.readouterr().err


def test_split_by_matches_file_names_and_fails_on_empty_rules(tmp_path, capsys):
    root = tmp_path / "raw"
    for cls in ("wave", "kick"):
        for s in (1, 2, 3, 4):
            rec(root / cls / f"a_s{s:02d}.csv", t=8, seed=s)
    # anchored at the start of the FILE NAME: 'wave/a_s01.csv' would not match as a path
    code, out = store_of(tmp_path, root, "--split-by", "xsub:train=^a_s0[13]", "--split-by", "xsub:test=^a_s0[24]")
    assert code == 0
    st = SkeletonStore(out)
    assert {k: len(v) for k, v in st.splits["xsub"].items()} == {"train": 4, "test": 4}
    # a regex with '/' is matched against the relative path
    code, out = store_of(tmp_path, root, "--split-by", "cls:train=^wave/", "--split-by", "cls:test=^kick/", name="p")
    assert code == 0 and {k: len(v) for k, v in SkeletonStore(out).splits["cls"].items()} == {"train": 4, "test": 4}
    code, out = store_of(tmp_path, root, "--split-by", "xsub:train=_s0[13]", "--split-by", "xsub:test=_S0[24]",
                         name="bad")
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "--split-by xsub:test=_S0[24]: the pattern matches no file name (e.g. 'a_s01.csv')" in err


def test_numeric_class_folders_sort_numerically(tmp_path):
    root = tmp_path / "raw"
    for cls in ("1", "2", "10"):
        rec(root / cls / f"take_{cls}.csv", t=6)
    res = prepare("folder", root, tmp_path / "s", progress=False, workers=1,
                  options=PrepareOptions(format="kinect_v1"))
    st = SkeletonStore(res.store)
    assert st.class_names == ["1", "2", "10"]
    got = {m["label_name"]: int(lab) for m, lab in zip(st.meta, st.labels)}
    assert got == {"1": 0, "2": 1, "10": 2}


def test_integer_labels_stay_integers(tmp_path):
    root = tmp_path / "raw"
    rec(root / "a.csv", t=6)
    rec(root / "b.csv", t=6)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label,subject\na.csv,4,7\nb,0,8\n")
    code, out = store_of(tmp_path, root, "--labels", str(labels))
    assert code == 0
    st = SkeletonStore(out)
    assert [int(x) for x in st.labels] == [4, 0] and st.class_names is None and st.meta[0]["subject"] == "7"
