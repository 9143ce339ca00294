"""`s2i prepare` for every data-set source on the real samples in ../shared/data (else on generated files in
each release's layout, with the release's own counts checked only on the real data) and on generated
exchange files (PYSKL pickles, NumPy arrays, a user's folder)."""

import json
import pickle
import shutil

import numpy as np
import pytest

from s2i.cli import main
from s2i.readers import read_sequence
from s2i.readers.pku_mmd import read_pku_labels
from s2i.sources import SOURCES, PrepareOptions
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare

from helpers import data_path, is_real, sample_path, synthetic_ntu

ALL = {"ntu60", "ntu120", "pku-mmd1", "pku-mmd2", "nw-ucla", "utd-mhad", "msr-action3d", "kinetics-skeleton",
       "pyskl", "mocap", "npy", "folder"}


def splits(st):
    return {s: {k: len(v) for k, v in p.items()} for s, p in st.splits.items()}


def test_every_dataset_named_in_the_cli_has_a_source():
    assert set(SOURCES) >= ALL


def test_utd_mhad(tmp_path):
    src = sample_path("utd_mhad")
    res = prepare("utd-mhad", src, tmp_path / "s", workers=2, progress=False)
    st = SkeletonStore(tmp_path / "s")
    files = sorted(src.rglob("*_skeleton.mat"))
    assert res.sequences == len(files) and not res.failed
    odd = sum(int(f.name.split("_")[1][1:]) % 2 for f in files)  # odd subjects train
    assert splits(st) == {"xsub": {"train": odd, "test": len(files) - odd}}
    if is_real(src):
        assert res.sequences == 861 and not res.mismatches
        assert splits(st) == {"xsub": {"train": 431, "test": 430}}
    assert st.num_joints == 20 and st.format == "utd_mhad" and len(st.class_names) == 27


def test_nw_ucla(tmp_path):
    src = sample_path("nw_ucla")
    res = prepare("nw-ucla", src, tmp_path / "s", workers=1, progress=False)
    files = sorted(f for f in src.rglob("a*_s*_e*_v*.json"))
    assert res.sequences == len(files) and not res.failed
    train = sum(int(f.stem[-2:]) in (1, 2) for f in files)  # views 1 and 2 train, view 3 tests
    assert splits(SkeletonStore(tmp_path / "s")) == {"xview": {"train": train, "test": len(files) - train}}
    if is_real(src):
        assert res.sequences == 1484 and not res.mismatches


def test_msr_action3d(tmp_path):
    src = sample_path("msr_action3d")
    res = prepare("msr-action3d", src, tmp_path / "s", workers=2, progress=False)
    st = SkeletonStore(tmp_path / "s")
    sp = splits(st)
    assert set(sp) == {"xsub", "xsub_AS1", "xsub_AS2", "xsub_AS3"}
    assert st.num_joints == 20 and st.format == "msr_action3d"
    if is_real(src):
        assert res.sequences == 567 and not res.mismatches
        assert sp["xsub"] == {"train": 292, "test": 275}
        i = [m["name"] for m in st.meta].index("a13_s09_e02_skeleton3D")
        assert np.isnan(st.joints(i)).all()  # the all-zero sequence is all missing, not zeros
        assert st.manifest["stats"]["persons_per_sequence"]["0"] == 1
    else:  # one sequence per Real3D file (the world variant), subjects 1, 3, 5, ... train
        world = sorted(src.rglob("*_skeleton3D.txt"))
        odd = sum(int(f.name[5:7]) % 2 for f in world)
        assert res.sequences == len(world) and sp["xsub"] == {"train": odd, "test": len(world) - odd}


def test_kinetics_skeleton(tmp_path):
    src = sample_path("kinetics_skeleton_sample")
    res = prepare("kinetics-skeleton", src, tmp_path / "s", workers=1, progress=False)
    st = SkeletonStore(tmp_path / "s")
    assert res.sequences == 7 and st.dims == 2 and st.manifest["confidence"]
    assert splits(st) == {"kinetics400": {"val": 7}}
    first = next(src.rglob("__NrybzYzUg.json")) if is_real(src) else sorted(src.rglob("*_old/*.json"))[0]
    seq = st[[m["name"] for m in st.meta].index(first.stem)]
    assert seq.label == json.loads(first.read_text())["label_index"] and seq.joints.shape[2:] == (18, 2)
    raw = read_sequence(first)
    assert seq.confidence is not None and raw.confidence is not None
    assert seq.confidence.shape == raw.confidence.shape and raw.confidence.std() > 0.05  # not a constant
    np.testing.assert_allclose(seq.confidence, raw.confidence, atol=1e-3)  # stored values, not a shifted row
    assert len(st.class_names) == 400
    assert st.class_names[seq.label] == json.loads(first.read_text())["label"]
    if is_real(src):
        assert seq.label == 0 and st.class_names[0] == "abseiling"


def test_kinetics_clips_without_skeleton_are_excluded(tmp_path):
    src = sample_path("kinetics_skeleton_sample", "kinetics-skeleton", "kinetics_val_old")
    root = tmp_path / "k" / "kinetics_val"
    root.mkdir(parents=True)
    a, b = (p.stem for p in sorted(src.glob("*.json"))[:2])
    for name in (a, b):
        shutil.copy(src / f"{name}.json", root)
    labels = {a: {"has_skeleton": True, "label": "abseiling", "label_index": 0},
              b: {"has_skeleton": False, "label": "jumpstyle dancing", "label_index": 173}}
    (tmp_path / "k" / "kinetics_val_label.json").write_text(json.dumps(labels))
    res = prepare("kinetics-skeleton", tmp_path / "k", tmp_path / "s", workers=1, progress=False)
    assert res.sequences == 1 and "has_skeleton is false" in res.excluded[b]
    assert splits(SkeletonStore(tmp_path / "s")) == {"kinetics400": {"val": 1}}


def test_pku_mmd_phase1(tmp_path):
    src = sample_path("pku_mmd_sample", "phase1")
    res = prepare("pku-mmd1", src, tmp_path / "s", workers=1, progress=False)
    st = SkeletonStore(tmp_path / "s")
    n = {v: len(read_pku_labels(next(src.rglob(f"Label/**/{v}.txt")))) for v in ("0160-L", "0310-R")}
    assert res.sequences == sum(n.values())  # one sequence per labelled action instance
    # 0160-L is a cross-subject training video, 0310-R a test one; both are cross-view training videos
    assert splits(st) == {"xsub": {"train": n["0160-L"], "test": n["0310-R"]}, "xview": {"train": sum(n.values())}}
    if is_real(src):
        assert n == {"0160-L": 16, "0310-R": 8}
    videos = {m["video"] for m in st.meta}
    assert videos == {"0160-L", "0310-R"}
    assert all(st.lengths[i] == m["segment_end"] - m["segment_start"] + 1 for i, m in enumerate(st.meta))


def test_pku_mmd_phase2_without_labels_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pku-mmd2 files found"):
        prepare("pku-mmd2", sample_path("pku_mmd_sample", "phase2"), tmp_path / "s", workers=1, progress=False)


def test_mocap(tmp_path):
    res = prepare("mocap", data_path("mocap_samples"), tmp_path / "s", workers=1, progress=False)
    st = SkeletonStore(tmp_path / "s")
    assert res.sequences == 3 and st.format == "cmu31"
    assert sorted(st.lengths.tolist()) == [597, 2751, 2752]


def test_pyskl_export_and_prepare_round_trip(tmp_path):
    root = sample_path("ntu_samples")
    prepare("ntu60", root, tmp_path / "ntu", workers=1, progress=False,
            options=PrepareOptions(
                missing=str(sample_path("ntu_metadata", "NTU_RGBD_samples_with_missing_skeletons.txt"))))
    pkl = tmp_path / "ntu.pkl"
    assert main(["export", str(tmp_path / "ntu"), "--to", "pyskl", "--out", str(pkl)]) == 0
    res = prepare("pyskl", pkl, tmp_path / "back", workers=1, progress=False)
    a, b = SkeletonStore(tmp_path / "ntu"), SkeletonStore(tmp_path / "back")
    assert res.sequences == 5 and splits(b) == splits(a)
    for i in range(5):
        j = [m["name"] for m in b.meta].index(a.meta[i]["name"])
        np.testing.assert_allclose(b.joints(j), a.joints(i), atol=1e-6)
        assert b.labels[j] == a.labels[i]


def test_npy_arrays_with_label_pickle(tmp_path):
    x = synthetic_ntu(6, 30, 2)  # (N, M, T, V, C)
    x[0, :, 20:] = 0  # a shorter sequence, zero padded as in ST-GCN files
    x[1, 1] = 0  # one person only
    data = np.ascontiguousarray(x.transpose(0, 4, 2, 3, 1))  # -> (N, C, T, V, M)
    raw = tmp_path / "raw"  # the store goes beside the raw data: --out inside --root is refused
    raw.mkdir()
    np.save(raw / "train_data.npy", data)
    with open(raw / "train_label.pkl", "wb") as f:
        pickle.dump(([f"s{i}" for i in range(6)], [0, 1, 2, 0, 1, 2]), f)
    res = prepare("npy", raw, tmp_path / "s", progress=False, options=PrepareOptions(format="ntu25"))
    st = SkeletonStore(tmp_path / "s")
    assert res.sequences == 6 and st.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert st.lengths[0] == 20 and st.index["persons"][1] == 1
    assert splits(st) == {"default": {"train": 6}}
    np.testing.assert_allclose(st.joints(2), x[2], atol=1e-6)


def test_folder_with_class_subfolders_and_split_rules(tmp_path):
    src = sample_path("nw_ucla", "all_sqe")
    root = tmp_path / "mine"
    classes = {"pick_up": ["a01_s01_e00_v01", "a01_s02_e00_v01"], "walk": ["a04_s01_e00_v01", "a04_s02_e00_v01"]}
    for cls, names in classes.items():
        (root / cls).mkdir(parents=True)
        for n in names:
            shutil.copy(src / f"{n}.json", root / cls)
    (root / "notes.txt").write_text("not skeleton data")
    code = main(["prepare", "folder", "--root", str(root), "--out", str(tmp_path / "s"), "--format", "kinect_v1",
                 "--split-by", "xsub:train=_s01_", "--split-by", "xsub:test=_s02_", "--quiet", "--workers", "1"])
    assert code == 0
    st = SkeletonStore(tmp_path / "s")
    assert sorted(m["label_name"] for m in st.meta) == ["pick_up", "pick_up", "walk", "walk"]
    assert st.class_names == ["pick_up", "walk"]
    assert splits(st) == {"xsub": {"train": 2, "test": 2}}


def test_folder_with_label_csv(tmp_path):
    src = sample_path("nw_ucla", "all_sqe")
    root = tmp_path / "flat"
    root.mkdir()
    rows = ["file,label,subject,split"]
    for k, n in enumerate(["a01_s01_e00_v01", "a04_s01_e00_v01", "a05_s02_e00_v01"]):
        shutil.copy(src / f"{n}.json", root)
        rows.append(f"{n}.json,{['grab', 'walk', 'sit'][k]},{k + 1},{'train' if k < 2 else 'test'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    prepare("folder", root, tmp_path / "s", workers=1, progress=False,
            options=PrepareOptions(format="kinect_v1", labels=str(tmp_path / "labels.csv")))
    st = SkeletonStore(tmp_path / "s")
    assert {m["label_name"]: m["label"] for m in st.meta} == {"grab": 0, "sit": 1, "walk": 2}
    assert splits(st) == {"csv": {"train": 2, "test": 1}}
    assert json.loads((tmp_path / "s" / "report.json").read_text())["failed"] == []
