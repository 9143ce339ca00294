"""The generated stand-ins (s2i.testing.samples): every file is read by the reader of its release's layout,
as that release's format, and the same seed writes the same bytes."""

from __future__ import annotations

import hashlib

import pytest

from s2i.readers import read_sequence, reader_for
from s2i.testing.samples import SAMPLES, write_samples

#: folder -> (reader name, format) of its skeleton files
EXPECT = {"nw_ucla": ("nw-ucla", "kinect_v1"), "ntu_samples": ("ntu", "ntu25"), "utd_mhad": ("utd_mhad", "utd_mhad"),
          "msr_action3d": ("msr_action3d", "msr_action3d"), "pku_mmd_sample": ("pku-mmd", "ntu25"),
          "kinetics_skeleton_sample": ("kinetics", "openpose18")}
NOT_SKELETON = ("Label", "Split", "label", "missing")  # label, split and metadata files


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_every_generated_file_reads_as_its_release(tmp_path, name):
    folder = write_samples(tmp_path, name)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not any(k in str(p) for k in NOT_SKELETON)]
    assert files
    reader, fmt = EXPECT[name]
    for p in files:
        assert reader_for(p)[0] == reader, p
        seq = read_sequence(p)
        assert seq.format == fmt and seq.num_frames >= 20, p
        if "label" in seq.meta:
            assert seq.meta["label"] >= 0


def test_generated_samples_are_deterministic_and_written_once(tmp_path):
    for name in SAMPLES:
        a = _digest(write_samples(tmp_path / "a", name))
        b = _digest(write_samples(tmp_path / "b", name))
        assert a == b and a, name
        before = (tmp_path / "a" / name).stat().st_mtime_ns
        write_samples(tmp_path / "a", name)  # an existing folder is kept as it is
        assert (tmp_path / "a" / name).stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="no generated stand-in for 'nope'"):
        write_samples(tmp_path, "nope")


def test_a_utd_mhad_file_has_the_same_bytes_at_another_clock_time(tmp_path, monkeypatch):
    """scipy writes the clock time into a MAT file's header: the writer's bytes must not depend on it."""
    import time

    import numpy as np

    from s2i.testing.writers import write_utd_mhad

    joints = np.random.default_rng(0).normal(size=(4, 20, 3))
    monkeypatch.setattr(time, "asctime", lambda *a: "Mon Dec  7 10:00:00 2026")
    a = write_utd_mhad(tmp_path / "a.mat", joints).read_bytes()
    monkeypatch.setattr(time, "asctime", lambda *a: "Tue Dec  8 11:11:11 2026")
    assert write_utd_mhad(tmp_path / "b.mat", joints).read_bytes() == a
