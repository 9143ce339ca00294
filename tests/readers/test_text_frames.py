"""One-frame-a-line text/CSV files and per-sequence .npy files (issue 13 items 6 and 8)."""

import json

import numpy as np
import pytest

from s2i.cli import main
from s2i.readers import ReaderError, read_input, read_sequence
from s2i.readers.text_frames import frame_rows

from helpers import sample_path


def frames(t=12, v=20, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (t, v, c)).astype(np.float32)


def write(path, x, index=None, sep=",", header=None):
    lines = [header] if header else []
    for k, f in enumerate(x):
        vals = [repr(float(a)) for a in f.ravel()]
        lines.append(sep.join(([str(index[k])] if index is not None else []) + vals))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("sep", [",", " ", "\t"])
def test_plain_frames_any_separator(tmp_path, sep):
    x = frames()
    seq = read_sequence(write(tmp_path / "a.csv", x, sep=sep), fmt="kinect_v1")
    assert seq.format == "kinect_v1" and seq.joints.shape == (1, 12, 20, 3)
    np.testing.assert_allclose(seq.joints[0], x, rtol=1e-6)
    assert "frame_index" not in seq.meta


def test_header_and_frame_index_with_repeats_and_gaps(tmp_path):
    x = frames(t=8)
    index = [10, 11, 11, 12, 15, 16, 16, 17]  # two repeats (Kinect), a gap 12 -> 15
    header = "frame," + ",".join(f"j{j}_{a}" for j in range(20) for a in "xyz")
    seq = read_sequence(write(tmp_path / "kinect.csv", x, index=index, header=header), fmt="kinect_v1")
    assert seq.num_frames == 6
    np.testing.assert_allclose(seq.joints[0, 2], x[3], rtol=1e-6)  # the first row of a repeat is kept
    np.testing.assert_allclose(seq.joints[0, 4], x[5], rtol=1e-6)
    m = seq.meta
    assert m["duplicate_frames"] == 2 and m["frame_gaps"] == [[12, 15]] and m["missing_frames"] == 2
    assert (m["first_frame"], m["last_frame"]) == (10, 17) and m["header"].startswith("frame,")
    assert list(frame_rows(seq, 12, 16)) == [2, 3, 4]


def test_2d_format_and_missing_values(tmp_path):
    x = frames(t=5, v=18, c=2)
    path = write(tmp_path / "pose.tsv", x, sep="\t")
    text = path.read_text().splitlines()
    vals = text[1].split("\t")
    vals[0] = "nan"
    text[1] = "\t".join(vals)
    path.write_text("\n".join(text))
    seq = read_sequence(path, fmt="openpose18")
    assert seq.joints.shape == (1, 5, 18, 2) and np.isnan(seq.joints[0, 1, 0, 0])


def test_errors_name_file_line_and_expectation(tmp_path):
    x = frames(t=4)
    path = write(tmp_path / "bad.csv", x)
    lines = path.read_text().splitlines()
    lines[2] = ",".join(lines[2].split(",")[:-1])
    path.write_text("\n".join(lines))
    with pytest.raises(ReaderError, match=r"bad\.csv:3: expected 60 values \(V x C in the format's joint order\),"
                                          r" got 59"):
        read_sequence(path, fmt="kinect_v1")
    lines[2] = lines[1].replace(lines[1].split(",")[4], "abc", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(ReaderError, match=r"bad\.csv:3: not a number: 'abc'"):
        read_sequence(path, fmt="kinect_v1")
    with pytest.raises(ReaderError, match=r"bad\.csv: a one-frame-a-line text file needs a format"):
        read_sequence(path)
    idx = write(tmp_path / "idx.csv", frames(t=3), index=[5, 4, 6])
    with pytest.raises(ReaderError, match=r"idx\.csv:2: frame index 4 after 5: indices must increase"):
        read_sequence(idx, fmt="kinect_v1")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"1,2,3\x00\x01\x02")
    with pytest.raises(ReaderError, match=r"bin\.csv:1: not a valid text file \(NUL byte"):
        read_sequence(binary, fmt="kinect_v1")


def test_encode_reads_text_frames_and_npy(tmp_path, capsys):
    x = frames(t=20)
    csv_file = write(tmp_path / "rec.csv", x, index=list(range(1, 21)))
    npy3 = tmp_path / "seq3.npy"
    np.save(npy3, x)
    npy4 = tmp_path / "seq4.npy"
    np.save(npy4, np.stack([x, x + 1.0]))
    out = tmp_path / "img"
    assert main(["encode", str(csv_file), str(npy3), str(npy4), "--format", "kinect_v1", "--out", str(out),
                 "--size", "32"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["rec.png", "seq3.png", "seq4.png"]
    printed = capsys.readouterr().out
    assert "kinect_v1: persons=stack (auto: a two-person sequence in 3 input sequence(s))" in printed
    report = json.loads((out / "encode_report.json").read_text())
    assert report["formats"]["kinect_v1"]["persons"] == "stack"
    # without --format the .npy has no joint order: a clear error, not a guess
    assert main(["encode", str(npy3), "--out", str(tmp_path / "x")]) == 1
    assert "seq3.npy: a per-sequence .npy file of shape (T, V, C) or (M, T, V, C) needs a format" in \
        capsys.readouterr().err
    assert read_input(npy4, fmt="kinect_v1").joints.shape == (2, 20, 20, 3)


def test_msr_file_as_generic_frames(tmp_path):
    """An MSR Action3D Real3D file (real or generated) rewritten one frame a line (20 joints x xyz, spaces)
    reads back with all its frames through the generic reader."""
    src = sample_path("msr_action3d", "MSRAction3DSkeletonReal3D", "a01_s01_e01_skeleton3D.txt")
    ref = read_sequence(src)
    rows = np.loadtxt(src).reshape(-1, 20, 4)[:, :, :3]
    path = write(tmp_path / "msr.csv", rows.astype(np.float32), sep=" ")
    seq = read_sequence(path, fmt="msr_action3d")
    assert seq.num_frames == ref.num_frames
