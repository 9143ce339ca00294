"""Hostile and unlucky input files: each becomes a listed skip with a reason that names the file, never a
hang, a memory blow-up or the end of the run (issue 12, items 5, 6, 7, 10, 11). Memory bombs run in a
subprocess under an address-space limit."""

import io
import json
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from s2i.readers import read_sequence
from s2i.readers.base import ReaderError, read_bytes
from s2i.readers.safe_pickle import _DtypeSpec, _frombuffer, _reconstruct, safe_load_pickle
from s2i.store.prepare import _describe, _load_one, prepare

SRC = str(Path(__file__).resolve().parents[2] / "src")


def write_ucla(root, n=3):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        (root / f"a01_s{i:02d}_e00_v01.json").write_text(
            json.dumps({"label": 1, "skeletons": rng.normal(size=(8, 20, 3)).round(3).tolist()}))
    return root


def run_python(code, limit_mb=None, timeout=60, env=None):
    """Run ``code`` in a fresh interpreter (optionally under RLIMIT_AS); returns the CompletedProcess."""
    pre = "import resource\n"
    if limit_mb:
        pre += f"resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))\n"
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-c", pre + code], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def test_deeply_nested_json_is_a_listed_skip_not_the_end_of_the_run(tmp_path):
    root = write_ucla(tmp_path / "raw")
    (root / "a02_s01_e00_v01.json").write_text("[" * 100_000)
    res = prepare("nw-ucla", root, tmp_path / "st", workers=1, progress=False)
    assert res.sequences == 3
    assert [(Path(i).name, e) for i, e in res.failed] == [
        ("a02_s01_e00_v01.json", f"ReaderError: {root / 'a02_s01_e00_v01.json'}: invalid JSON: nested too deeply")]


@pytest.mark.parametrize("exc, reason", [
    (TypeError("unsupported operand"), "TypeError: unsupported operand"),
    (MemoryError(), "MemoryError: out of memory while reading this file"),
    (RecursionError("maximum recursion depth exceeded"), "RecursionError: structure nested too deeply"),
])
def test_any_exception_of_a_reader_becomes_that_files_skip_reason(exc, reason):
    def load(item, opts):
        raise exc

    seqs, err = _load_one(load, "/data/x.json", None)
    assert seqs is None and err.startswith(f"/data/x.json: {reason}")


def test_fifo_and_dev_zero_symlink_are_skipped_not_read(tmp_path):
    root = write_ucla(tmp_path / "raw")
    os.mkfifo(root / "a03_s01_e00_v01.json")
    (root / "a03_s02_e00_v01.json").symlink_to("/dev/zero")
    code = (f"from s2i.store.prepare import prepare\n"
            f"r = prepare('nw-ucla', {str(root)!r}, {str(tmp_path / 'st')!r}, workers=1, progress=False)\n"
            f"import json; print(json.dumps([r.sequences, r.failed]))\n")
    proc = run_python(code, limit_mb=2048, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sequences, failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sequences == 3
    assert sorted(e.split(": ", 2)[-1] for _, e in failed) == [
        "is a FIFO (named pipe), not a regular file; only regular files are read",
        "is a character device, not a regular file; only regular files are read"]


def test_read_bytes_counts_bytes_read_not_the_reported_size():
    proc_file = Path("/proc/self/maps")  # a regular file whose reported size is 0
    if not proc_file.exists():
        pytest.skip("no /proc")
    assert proc_file.stat().st_size == 0
    with pytest.raises(ReaderError, match="holds more than 10 bytes"):
        read_bytes(proc_file, 10)


def test_per_file_cap_is_configurable(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    p.write_bytes(b"x" * 5000)
    assert read_bytes(p) == b"x" * 5000
    monkeypatch.setenv("S2I_MAX_FILE_MB", str(2000 / 2**20))
    with pytest.raises(ReaderError, match="at most 2000 bytes"):
        read_bytes(p)


def test_directory_given_as_a_file_says_so(tmp_path):
    d = tmp_path / "a01_s01_e00_v01.json"
    d.mkdir()
    with pytest.raises(ReaderError, match="is a directory, not a regular file"):
        read_sequence(d)


def _npz_bomb(path, declared_bytes):
    """A tiny .npz whose member's header and zip entry both promise ``declared_bytes`` of float64."""
    n = declared_bytes // 8
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy_head = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_data.npy", npy_head + bytes(1 << 16))
    data = bytearray(buf.getvalue())
    size = len(npy_head) + n * 8
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, size)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))
    return path


def test_npz_zip_bomb_fails_that_file_under_the_expansion_cap(tmp_path):
    p = _npz_bomb(tmp_path / "bomb.npz", int(2.6e9))  # 70 KB on disk, 2.6 GB promised
    assert p.stat().st_size < 200_000
    code = ("from s2i.readers.arrays import read_npy_array\n"
            "from s2i.readers.base import ReaderError\n"
            f"try:\n    read_npy_array({str(p)!r}, 'ntu25')\n"
            "except ReaderError as e:\n    print('REFUSED', e)\n")
    proc = run_python(code, limit_mb=1024)
    assert "REFUSED" in proc.stdout, proc.stderr[-1500:]
    assert "more than the per-file cap of 2048 MiB" in proc.stdout and "bomb.npz" in proc.stdout


def _bvh_with_empty_joints(path, joints, frames):
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for j in range(joints):
        lines += [f"JOINT j{j}", "{", "OFFSET 0 1 0", "CHANNELS 0"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * joints + ["}"]
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333"] + ["0 0 0"] * frames
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bvh_with_thousands_of_channel_less_joints_fails_clearly_without_allocating(tmp_path):
    p = _bvh_with_empty_joints(tmp_path / "bomb.bvh", joints=2000, frames=20000)
    assert p.stat().st_size < 1_000_000
    code = ("from s2i.readers.bvh import read_bvh\n"
            "from s2i.readers.base import ReaderError\n"
            f"try:\n    read_bvh({str(p)!r}, format='cmu31')\n"
            "except ReaderError as e:\n    print('REFUSED', e)\n")
    proc = run_python(code, limit_mb=1024)
    assert "REFUSED" in proc.stdout, proc.stderr[-1500:]
    assert "declares 2001 joints; a BVH skeleton has at most 1024" in proc.stdout


def test_bvh_frames_times_joints_beyond_the_cap_fail_that_file(tmp_path, monkeypatch):
    p = _bvh_with_empty_joints(tmp_path / "long.bvh", joints=500, frames=3000)
    monkeypatch.setenv("S2I_MAX_DECOMPRESSED_MB", "100")
    with pytest.raises(ReaderError, match="3000 frames x 501 joints would need .* MiB, more than the per-file cap"):
        read_sequence(p, fmt="cmu31")


def test_mat_with_many_compressed_variables_fails_fast(tmp_path):
    one = io.BytesIO()
    scipy.io.savemat(one, {"x": np.zeros(7_500_000)}, do_compression=True)  # 60 MB inflated, ~60 KB stored
    raw = one.getvalue()
    element = raw[128:]
    p = tmp_path / "a01_s01_t01_skeleton.mat"
    p.write_bytes(raw[:128] + element * 100)  # 100 such variables: 6 GB to inflate
    t0 = time.perf_counter()
    with pytest.raises(ReaderError, match="inflates beyond 67108864 bytes \\(all variables together\\)"):
        read_sequence(p)
    assert time.perf_counter() - t0 < 5


def test_newline_in_a_file_name_cannot_fake_lines_in_the_skip_list():
    name = "/raw/a02.json\n  /raw/a01.json: forged reason"
    line = _describe(name, ReaderError(name, "invalid JSON"))
    assert "\n" not in line
    assert line == "ReaderError: /raw/a02.json\\n  /raw/a01.json: forged reason: invalid JSON"


@pytest.mark.parametrize("label", ["true", "false"])
def test_boolean_label_is_refused(tmp_path, label):
    p = tmp_path / "a01_s01_e00_v01.json"
    p.write_text(f'{{"label": {label}, "skeletons": [{json.dumps([[0.1, 0.2, 0.3]] * 20)}]}}')
    with pytest.raises(ReaderError, match=f"'label' must be an integer 1..10, got {label.title()}"):
        read_sequence(p)


def test_huge_integer_error_names_the_file(tmp_path):
    p = tmp_path / "a01_s01_e00_v01.json"
    p.write_text('{"label": ' + "9" * 5000 + ', "skeletons": []}')
    with pytest.raises(ReaderError, match=f"^{p}: invalid JSON: Exceeds the limit"):
        read_sequence(p)


# --- the restricted unpickler ------------------------------------------------------------------

def _build_on_global(module, name, attr, value_ops):
    """GLOBAL module.name; BUILD (None, {attr: <value>}): sets an attribute of the allowlisted object."""
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"N}" + b"X" + struct.pack("<I", len(attr))
            + attr.encode() + value_ops + b"s\x86b.")


@pytest.mark.parametrize("module, name, target", [
    ("numpy", "dtype", _DtypeSpec),
    ("numpy.core.multiarray", "_reconstruct", _reconstruct),
    ("numpy.core.numeric", "_frombuffer", _frombuffer),
])
def test_pickle_build_on_an_allowed_global_is_refused_and_changes_nothing(tmp_path, module, name, target):
    data = _build_on_global(module, name, "resolve", b"N")
    pickletools.dis(data, out=io.StringIO())  # a well-formed pickle
    p = tmp_path / "evil.pkl"
    p.write_bytes(data)
    before = dict(vars(target)) if isinstance(target, type) else dict(target.__dict__)
    with pytest.raises(ReaderError, match=f"refused pickle: BUILD \\(object state\\) on the global {module}.{name}"):
        safe_load_pickle(p)
    after = dict(vars(target)) if isinstance(target, type) else dict(target.__dict__)
    assert after == before


def test_pickle_cannot_swap_the_dtype_check_to_get_a_structured_dtype_through(tmp_path):
    # numpy.dtype BUILD {"resolve": numpy.dtype}: would make every later dtype "resolve" unchecked
    data = (b"\x80\x02cnumpy\ndtype\nN}X\x07\x00\x00\x00resolvecnumpy\ndtype\ns\x86b.")
    p = tmp_path / "evil.pkl"
    p.write_bytes(data)
    with pytest.raises(ReaderError, match="refused pickle: BUILD"):
        safe_load_pickle(p)
    structured = tmp_path / "structured.pkl"
    structured.write_bytes(pickle.dumps(np.zeros(2, dtype=[("a", "<f4"), ("b", "O")]), protocol=2))
    with pytest.raises(ReaderError, match="refused pickle"):
        safe_load_pickle(structured)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": np.arange(3.0)}, protocol=4))
    np.testing.assert_array_equal(safe_load_pickle(plain)["a"], np.arange(3.0))
