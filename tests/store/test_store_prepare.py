"""Store writing/reading, `s2i prepare` and `s2i inspect` on real NW-UCLA / NTU files and bad input."""

import json
import shutil

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.cli import main
from s2i.encode import dataset_value_range
from s2i.sources import PrepareOptions
from s2i.store import SkeletonStore, StoreError, StoreWriter
from s2i.store.prepare import prepare

from helpers import data_path, sample_path, synthetic_ntu


def seqs(n=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m, t = 1 + i % 2, 10 + 7 * i
        j = synthetic_ntu(1, t, m, seed=i)[0]
        j[0, 2, 5] = np.nan
        out.append(SkeletonSequence(j, "ntu25", fps=30.0, meta={"label": int(rng.integers(0, 3)), "name": f"s{i}"}))
    return out


@pytest.mark.parametrize("dtype, tol", [("float32", 0), ("float16", 2e-3)])
def test_store_round_trip(tmp_path, dtype, tol):
    data = seqs()
    with StoreWriter(tmp_path / "st", "ntu25", 3, 25, dtype=dtype) as w:
        for s in data:
            w.append(s)
        w.finalize({"all": {"train": [0, 1, 2], "test": [3, 4]}}, {"dataset": "synthetic"}, {})
    st = SkeletonStore(tmp_path / "st")
    assert len(st) == 5 and isinstance(st._joints, np.memmap)
    for i, s in enumerate(data):
        got = st[i]
        assert got.joints.shape == s.joints.shape and got.fps == 30.0
        assert np.isnan(got.joints[0, 2, 5]).all()
        np.testing.assert_allclose(got.joints, s.joints, atol=tol * 4, rtol=tol)
        assert got.meta["name"] == f"s{i}" and got.label == s.label
    assert list(st.split_ids("all", "test")) == [3, 4]
    assert st.manifest["content_hash"].startswith("sha256:")
    with pytest.raises(StoreError, match="no split 'xsub'"):
        st.split_ids("xsub", "train")


def test_interrupted_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        w.append(seqs(1)[0])
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_killed_run_leftovers_are_removed(tmp_path):
    stale = tmp_path / ".st.partial-999999999"
    stale.mkdir()
    (stale / "joints.bin").write_bytes(b"x" * 10)
    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        w.append(seqs(1)[0])
        w.finalize({}, {}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]


def test_truncated_store_is_detected(tmp_path):
    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        for s in seqs(2):
            w.append(s)
        w.finalize({}, {}, {})
    with open(tmp_path / "st" / "joints.bin", "r+b") as f:
        f.truncate(100)
    with pytest.raises(StoreError, match="truncated store"):
        SkeletonStore(tmp_path / "st")


def test_wrong_shape_rejected(tmp_path):
    with StoreWriter(tmp_path / "st", "kinect_v1", 3, 20) as w, \
            pytest.raises(StoreError, match="store holds \\(V=20, C=3\\)"):
            w.append(seqs(1)[0])


@pytest.fixture(scope="module")
def ucla_store(tmp_path_factory):
    root = data_path("nw_ucla", "all_sqe")
    out = tmp_path_factory.mktemp("ucla") / "store"
    res = prepare("nw-ucla", root, out, workers=2, progress=False)
    return res, SkeletonStore(out)


def test_prepare_nw_ucla_official_counts(ucla_store):
    res, st = ucla_store
    assert res.sequences == 1484 and not res.failed and not res.mismatches
    assert {k: len(v) for k, v in st.splits["xview"].items()} == {"train": 1020, "test": 464}
    assert st.class_names[3] == "walk around"
    assert np.bincount(st.labels).tolist() == [150, 152, 141, 173, 148, 149, 142, 142, 145, 142]
    stats = st.manifest["stats"]
    assert stats["length"]["min"] == 1 and stats["length"]["max"] == 201
    lo, hi = dataset_value_range(st, "xview")
    assert all(a < b for a, b in zip(lo, hi))
    i = [m["name"] for m in st.meta].index("a04_s01_e00_v01")
    assert st[i].meta["view"] == 1 and st[i].label == 3


def test_inspect_json_line(ucla_store, capsys):
    _, st = ucla_store
    assert main(["inspect", str(st.path), "--json"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary == {"sequences": 1484, "classes": 10, "splits": {"xview": {"train": 1020, "test": 464}}}
    md = (st.path / "quality_report.md").read_text()
    assert "| xview | train | 1020 | 1020 |" in md and "walk around" in md


def test_prepare_skips_bad_files_and_is_deterministic(tmp_path, capsys):
    src = sample_path("nw_ucla", "all_sqe")
    root = tmp_path / "raw"
    root.mkdir()
    for name in ("a01_s01_e00_v01", "a01_s01_e00_v03", "a04_s02_e01_v02"):
        shutil.copy(src / f"{name}.json", root)
    (root / "a02_s01_e00_v01.json").write_text('{"label": 2, "skeletons": [[[1, 2')
    code = main(["prepare", "nw-ucla", "--root", str(root), "--out", str(tmp_path / "a"), "--workers", "1",
                 "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped 1 bad file" in err and "a02_s01_e00_v01.json:1: invalid JSON" in err
    assert "WARNING: counts differ from the official numbers" in err
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert len(report["failed"]) == 1 and report["sequences"] == 3
    # the same input with two worker processes gives the same store, byte for byte
    res = prepare("nw-ucla", root, tmp_path / "b", workers=2, progress=False)
    assert res.sequences == 3
    ha = json.loads((tmp_path / "a" / "manifest.json").read_text())["content_hash"]
    hb = json.loads((tmp_path / "b" / "manifest.json").read_text())["content_hash"]
    assert ha == hb
    # the hash does not depend on where the raw files live
    moved = tmp_path / "elsewhere" / "raw"
    shutil.copytree(root, moved)
    prepare("nw-ucla", moved, tmp_path / "c", workers=1, progress=False)
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["content_hash"] == ha
    assert SkeletonStore(tmp_path / "c").meta[0]["source"] == "a01_s01_e00_v01.json"
    # an existing store is not overwritten by accident; --overwrite replaces it
    with pytest.raises(StoreError, match="already exists"):
        prepare("nw-ucla", root, tmp_path / "b", workers=1, progress=False)
    prepare("nw-ucla", root, tmp_path / "b", workers=1, progress=False, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_prepare_ntu_samples_with_missing_list(tmp_path):
    root = sample_path("ntu_samples")  # the five real samples' names, real or generated
    missing = sample_path("ntu_metadata", "NTU_RGBD_samples_with_missing_skeletons.txt")
    res = prepare("ntu60", root, tmp_path / "ntu", workers=1, progress=False,
                  options=PrepareOptions(missing=str(missing)))
    st = SkeletonStore(tmp_path / "ntu")
    assert res.sequences == 5 and len(res.mismatches) == 5  # five samples, not the full data set
    assert {k: len(v) for k, v in st.splits["xsub"].items()} == {"train": 3, "test": 2}
    assert {k: len(v) for k, v in st.splits["xview"].items()} == {"train": 2, "test": 3}
    assert st.manifest["stats"]["persons_per_sequence"] == {"1": 4, "2": 1}
    assert st.class_names[57] == "handshaking"
    names = [m["name"] for m in st.meta]
    assert st.labels[names.index("S001C003P008R002A058")] == 57


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["prepare", "nw-ucla", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "s")]) == 2
    assert "raw data folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "nw-ucla", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "s")]) == 2
    assert "no nw-ucla files found" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "empty")]) == 2
    assert "not a prepared s2i store" in capsys.readouterr().err
    assert main(["prepare", "folder", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "s"),
                 "--split-by", "bad-rule"]) == 2
    assert "expected NAME:SUBSET=REGEX" in capsys.readouterr().err
