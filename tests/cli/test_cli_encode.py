"""`s2i encode` end to end on NW-UCLA and NTU files (the real ones when present, else generated stand-ins)."""

import json

import numpy as np
from PIL import Image

from s2i.cli import main

from helpers import sample_path


def test_encode_real_files_to_png(tmp_path):
    ucla = sample_path("nw_ucla", "all_sqe", "a04_s01_e00_v01.json")
    ntu = sample_path("ntu_samples", "S001C003P008R002A058.skeleton")
    out = tmp_path / "img"
    assert main(["encode", str(ucla), str(ntu), "--out", str(out)]) == 0
    for stem in ("a04_s01_e00_v01", "S001C003P008R002A058"):
        img = np.asarray(Image.open(out / f"{stem}.png"))
        assert img.shape == (224, 224, 3)
        # motion is visible: columns (time) differ; bands are visible: rows differ
        assert img.astype(float).std(axis=1).mean() > 1.0
        assert img.astype(float).std(axis=0).mean() > 5.0
    # the mutual action has two people: the lower person block is not a constant fill
    two = np.asarray(Image.open(out / "S001C003P008R002A058.png")).astype(float)
    assert two[112:].std() > 5.0
    report = json.loads((out / "encode_report.json").read_text())
    assert set(report["formats"]) == {"kinect_v1", "ntu25"}
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_encode_npy_and_bad_files_are_skipped(tmp_path, capsys):
    ucla = sample_path("nw_ucla", "all_sqe", "a01_s01_e00_v01.json")
    bad = tmp_path / "a02_s01_e00_v01.json"
    bad.write_text("{broken")
    out = tmp_path / "npy"
    code = main(["encode", str(ucla), str(bad), "--out", str(out), "--output", "npy", "--size", "64",
                 "--stream", "motion", "--value-range", "sequence"])
    assert code == 1
    arr = np.load(out / "a01_s01_e00_v01.npy")
    assert arr.shape == (3, 64, 64) and arr.dtype == np.float32
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-2:] == ["skipped 1 file(s):", f"  {bad}:1: invalid JSON: Expecting property name"
                                                                      " enclosed in double quotes (column 2)"]
    assert captured.out.splitlines() == ["kinect_v1: persons=first (auto: no two-person sequence in 1 input"
                                         " sequence(s))", f"wrote 1 image(s) to {out}"]
    assert not (out / "a02_s01_e00_v01.npy").exists()


def test_encode_from_a_store_uses_its_value_range(tmp_path, capsys):
    import shutil

    from s2i.store.prepare import prepare

    src = sample_path("nw_ucla", "all_sqe")
    root = tmp_path / "raw"
    root.mkdir()
    for name in ("a01_s01_e00_v01", "a04_s01_e00_v03", "a05_s02_e00_v03", "a06_s03_e00_v03"):
        shutil.copy(src / f"{name}.json", root)
    prepare("nw-ucla", root, tmp_path / "store", workers=1, progress=False)
    out = tmp_path / "img"
    assert main(["encode", "--store", str(tmp_path / "store"), "--split", "xview", "--subset", "test",
                 "--limit", "2", "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 2 and all(p.endswith("_v03.png") for p in pngs)
    assert capsys.readouterr().out.splitlines()[-2:] == ["kinect_v1: persons=first (auto: no two-person sequence in the"
                                                         f" statistics of {tmp_path / 'store'})",
                                                         f"wrote 2 image(s) to {out}"]
    report = json.loads((out / "encode_report.json").read_text())
    assert "statistics of" in report["formats"]["kinect_v1"]["range_from"]
    assert main(["encode", "--out", str(out)]) == 2  # neither files nor a store
