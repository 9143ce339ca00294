"""benchmarks/ntu25_windows.py: the 25-joint streams of a data folder as one labels CSV of windows."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from s2i.testing.synthetic import synthetic_ntu
from s2i.testing.writers import write_pku_skeleton

from helpers import load_benchmark


def _stream(path: Path, frames: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bodies = np.zeros((frames, 2, 25, 3))
    bodies[:, 0] = synthetic_ntu(1, frames, 1, seed=frames)[0][0]
    write_pku_skeleton(path, bodies)


def test_streams_are_cut_into_half_overlapping_windows(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    _stream(data / "pku_mmd_sample" / "phase1" / "Data" / "Skeleton" / "a" / "0001-L.txt", 100)
    _stream(data / "pku_mmd_sample" / "phase2" / "A01N01-M.txt", 50)
    out = tmp_path / "raw25"
    monkeypatch.setattr(sys, "argv", ["ntu25_windows.py", "--data", str(data), "--out", str(out), "--win", "60"])
    load_benchmark("ntu25_windows").main()
    rows = list(csv.reader((out / "windows.csv").read_text().splitlines()))
    assert rows == [["file", "label", "start", "end", "split"],
                    ["0001-L.txt", "unlabelled", "1", "60", "train"], ["0001-L.txt", "unlabelled", "31", "90", "train"],
                    ["A01N01-M.txt", "unlabelled", "1", "50", "train"]]  # shorter than a window: whole
    assert (out / "0001-L.txt").resolve() == (data / "pku_mmd_sample/phase1/Data/Skeleton/a/0001-L.txt").resolve()
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["segments"] == 3
