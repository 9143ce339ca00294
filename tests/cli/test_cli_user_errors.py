"""What a new user runs into: one-line errors naming the flag, no silent collisions, normal permissions
(issue 12, items 12 and 13)."""

import json
import os
import pickle
import stat

import numpy as np
import pytest
import torch

from s2i.cli import main
from s2i.readers.base import ReaderError
from s2i.readers.pyskl import read_pyskl


def ucla_file(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.random.default_rng(seed).normal(size=(15, 20, 3)).round(3).tolist()
    path.write_text(json.dumps({"label": 1, "skeletons": frames}))
    return path


def test_encode_same_file_name_in_two_folders_writes_two_images(tmp_path, capsys):
    a = ucla_file(tmp_path / "a" / "a01_s01_e00_v01.json", seed=1)
    b = ucla_file(tmp_path / "b" / "a01_s01_e00_v01.json", seed=2)
    out = tmp_path / "out"
    assert main(["encode", str(a), str(b), "--out", str(out), "--value-range", "sequence"]) == 0
    assert "wrote 2 image(s)" in capsys.readouterr().out
    pa, pb = out / "a" / "a01_s01_e00_v01.png", out / "b" / "a01_s01_e00_v01.png"
    assert pa.is_file() and pb.is_file() and pa.read_bytes() != pb.read_bytes()


def test_encode_outputs_get_normal_permissions(tmp_path):
    f = ucla_file(tmp_path / "a01_s01_e00_v01.json")
    old = os.umask(0o022)
    try:
        for kind in ("png", "npy"):
            assert main(["encode", str(f), "--out", str(tmp_path / kind), "--output", kind]) == 0
            mode = stat.S_IMODE((tmp_path / kind / f"a01_s01_e00_v01.{kind}").stat().st_mode)
            assert mode == 0o644
            assert stat.S_IMODE((tmp_path / kind / "encode_report.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_device_cuda_without_gpu_is_a_one_line_error(tmp_path, capsys):
    f = ucla_file(tmp_path / "a01_s01_e00_v01.json")
    assert main(["encode", str(f), "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert capsys.readouterr().err.strip() == "error: --device cuda: no CUDA GPU is available here; use --device cpu"


def test_device_that_is_not_a_device_names_the_flag(tmp_path, capsys):
    f = ucla_file(tmp_path / "a01_s01_e00_v01.json")
    assert main(["encode", str(f), "--out", str(tmp_path / "o"), "--device", "gpu0"]) == 2
    assert capsys.readouterr().err.startswith("error: --device 'gpu0': not a device name")


def test_size_zero_names_size_not_a_pydantic_dump(tmp_path, capsys):
    f = ucla_file(tmp_path / "a01_s01_e00_v01.json")
    assert main(["encode", str(f), "--out", str(tmp_path / "o"), "--size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --size: Input should be greater than or equal to 10") and "\n" not in err
    assert main(["encode", str(f), "--out", str(tmp_path / "o"), "--height", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --height: Input should be greater than or equal to 10")


def test_directory_given_as_a_skeleton_file_says_it_is_a_directory(tmp_path, capsys):
    d = tmp_path / "a01_s01_e00_v01.json"
    d.mkdir()
    assert main(["encode", str(d), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{d}: is a directory, not a regular file" in err and "no such file" not in err


def test_ambiguous_pickle_format_points_to_the_cli_flag(tmp_path):
    p = tmp_path / "a.pkl"
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [
        {"frame_dir": "x", "label": 0, "keypoint": np.ones((1, 4, 7, 3), np.float32), "total_frames": 4}]}))
    with pytest.raises(ReaderError, match="pass --format \\(format= in Python\\)"):
        read_pyskl(p)


def test_prepare_where_every_file_fails_writes_no_store(tmp_path, capsys):
    root = tmp_path / "raw"
    root.mkdir()
    for name in ("a01_s01_e00_v01", "a02_s01_e00_v01"):
        (root / f"{name}.json").write_text('{"label": 1, "skeletons": [[')
    code = main(["prepare", "nw-ucla", "--root", str(root), "--out", str(tmp_path / "st"), "--workers", "1",
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no store written: all 2 file(s) under {root} failed (ReaderError:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_prepare_cap_flags_must_be_positive(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert main(["prepare", "nw-ucla", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "st"),
                 "--max-file-mb", "0"]) == 2
    assert "--max-file-mb must be a positive number of MiB" in capsys.readouterr().err


@pytest.mark.parametrize("content", [
    {"protocol": "x"},  # KeyError 'dataset' before
    {"protocol": "linear", "top1": "abc", "top5": 1, "seeds": [0], "dataset": "d", "split": "s", "stream": "joint"},
    {"protocol": "linear", "top1": 50, "top5": 60, "seeds": [0], "dataset": "d", "split": "s", "stream": "joint",
     "per_seed": [{"top1": "zz"}], "top1_seeds": {"n": 2, "mean": "a", "std": 1}},
])
def test_results_of_malformed_files_are_one_line_errors_naming_them(tmp_path, capsys, content):
    """Issue 34 item 15: `s2i results` on a hand-edited or hostile results.json names the file, no traceback."""
    f = tmp_path / "run" / "results.json"
    f.parent.mkdir()
    f.write_text(json.dumps(content))
    for extra in ([], ["--runs"]):
        assert main(["results", str(f.parent), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {f}:") and len(err.strip().splitlines()) == 1, err
