"""Publishing a store never loses data: --out checks, the lock, rename-aside publish, leftovers (issue 12, 1-4, 11)."""

import json
import os
import socket
import time

import numpy as np
import pytest

from s2i.cli import main
from s2i.store import SkeletonStore, StoreError
from s2i.store.lock import StoreLock, StoreLockError, lock_path
from s2i.store.prepare import _relative, prepare
from s2i.store.publish import publish, recover_interrupted_publish


def write_ucla(root, n=4, seed=0, start=1):
    """n small NW-UCLA JSON files (synthetic motion, 12 frames) named like the real ones."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(start, start + n):
        frames = rng.normal(size=(12, 20, 3)).round(4).tolist()
        (root / f"a{1 + i % 3:02d}_s{i:02d}_e00_v01.json").write_text(
            json.dumps({"label": 1 + i % 3, "skeletons": frames}))
    return root


def content_hash(path):
    return json.loads((path / "manifest.json").read_text())["content_hash"]


def run_prepare(root, out, *extra):
    return main(["prepare", "nw-ucla", "--root", str(root), "--out", str(out), "--workers", "1", "--quiet", *extra])


def test_overwrite_refuses_out_equal_to_inside_or_above_root(tmp_path, capsys):
    root = write_ucla(tmp_path / "data" / "raw")
    before = sorted(p.name for p in root.iterdir())
    for out, why in ((root, "is the raw-data folder"), (root / "store", "inside the raw-data folder"),
                     (tmp_path / "data", "contains the raw-data folder")):
        assert run_prepare(root, out, "--overwrite") == 2
        assert why in capsys.readouterr().err
    assert sorted(p.name for p in root.iterdir()) == before  # nothing deleted, nothing written


def test_overwrite_refuses_a_folder_that_is_not_a_store(tmp_path, capsys):
    root = write_ucla(tmp_path / "raw")
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    assert run_prepare(root, precious, "--overwrite") == 2
    assert "is not an s2i store" in capsys.readouterr().err
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_out_that_is_a_file_or_under_a_file_is_one_line_error(tmp_path, capsys):
    root = write_ucla(tmp_path / "raw")
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    assert run_prepare(root, f, "--overwrite") == 2
    assert "is a file, not a store folder" in capsys.readouterr().err
    assert run_prepare(root, f / "store") == 2
    assert "is a file, so no folder can be created under it" in capsys.readouterr().err
    assert f.read_text() == "keep me"


def test_folder_source_refuses_out_inside_root_so_rerun_never_sees_the_store_as_a_class(tmp_path, capsys):
    root = tmp_path / "mine"
    for cls in ("wave", "clap"):
        write_ucla(root / cls, n=2)
    args = ["prepare", "folder", "--root", str(root), "--out", str(root / "store"), "--format", "kinect_v1",
            "--workers", "1", "--quiet"]
    assert main(args) == 2
    assert "inside the raw-data folder" in capsys.readouterr().err
    assert sorted(p.name for p in root.iterdir()) == ["clap", "wave"]


def test_overwrite_replaces_a_store_and_leaves_no_leftovers(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    assert run_prepare(root, out) == 0  # counts differ from the official ones: only a warning
    write_ucla(root, n=1, start=9)
    assert run_prepare(root, out, "--overwrite") == 0
    assert len(SkeletonStore(out)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "store"]


def test_folder_that_appears_during_the_run_is_not_deleted_at_publish(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"

    def appear(store):  # runs on the complete temporary store, just before publishing
        out.mkdir()
        (out / "someone-elses.txt").write_text("x")
        return {}

    with pytest.raises(StoreError, match="appeared while this run was preparing it"):
        prepare("nw-ucla", root, out, workers=1, progress=False, stats_hook=appear)
    assert (out / "someone-elses.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "store"]  # partial and lock removed


def test_second_run_on_the_same_out_is_refused_naming_the_holder(tmp_path, capsys):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    with StoreLock(out) as lock:  # a live run of this process holds the store
        assert run_prepare(root, out) == 2
        err = capsys.readouterr().err
        assert f"host {socket.gethostname()} pid {os.getpid()}" in err and str(lock.path) in err
        assert not out.exists()
    assert not lock_path(out).exists()
    assert run_prepare(root, out) == 0 and len(SkeletonStore(out)) == 4


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    lock_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": 999_999_999, "time": 0,
                                          "token": "dead"}))
    res = prepare("nw-ucla", root, out, workers=1, progress=False)
    assert res.sequences == 4 and not lock_path(out).exists()


def test_lock_of_another_host_is_respected_until_it_is_stale(tmp_path):
    out = tmp_path / "store"
    lock_path(out).write_text(json.dumps({"host": "other-node", "pid": 1, "time": time.time(), "token": "x"}))
    with pytest.raises(StoreLockError, match="host other-node pid 1"):
        StoreLock(out).acquire()
    old = time.time() - 3600
    os.utime(lock_path(out), (old, old))  # not refreshed for an hour: its run died
    with StoreLock(out) as lock:
        assert lock.took_over["host"] == "other-node"


def test_partial_of_a_live_run_on_another_host_is_kept(tmp_path):
    root = write_ucla(tmp_path / "raw")
    other = tmp_path / ".other.partial-node7-123"
    other.mkdir()
    lock_path(tmp_path / "other").write_text(json.dumps({"host": "node7", "pid": 123, "time": time.time(),
                                                         "token": "t"}))
    dead = tmp_path / ".old-name.partial-node9-55"  # another --out name, its lock gone: a killed run
    dead.mkdir()
    mine = tmp_path / ".store.partial-node3-77"
    mine.mkdir()
    prepare("nw-ucla", root, tmp_path / "store", workers=1, progress=False)
    assert other.is_dir() and not dead.exists() and not mine.exists()


def test_publish_over_a_store_keeps_old_until_new_is_in_place(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    prepare("nw-ucla", root, out, workers=1, progress=False)
    old_hash = content_hash(out)
    write_ucla(root, n=1, start=9)
    prepare("nw-ucla", root, tmp_path / "new", workers=1, progress=False)
    new_hash = content_hash(tmp_path / "new")
    publish(tmp_path / "new", out, overwrite=True)
    assert content_hash(out) == new_hash != old_hash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "store"]


def test_crash_between_renames_is_restored_by_the_next_run(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    prepare("nw-ucla", root, out, workers=1, progress=False)
    h = content_hash(out)
    os.rename(out, tmp_path / ".store.old-deadbeef")  # killed after moving the old store aside
    notes = recover_interrupted_publish(out)
    assert content_hash(out) == h and "restored" in notes[0]
    # and a finished replacement with an old copy left: the copy is removed, the new store kept
    (tmp_path / ".store.old-cafe").mkdir()
    (tmp_path / ".store.old-cafe" / "manifest.json").write_text(json.dumps({"store_version": 1,
                                                                            "content_hash": "sha256:0"}))
    assert "already been replaced" in recover_interrupted_publish(out)[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "store"]


def test_restored_store_is_not_replaced_without_overwrite(tmp_path):
    root = write_ucla(tmp_path / "raw")
    out = tmp_path / "store"
    prepare("nw-ucla", root, out, workers=1, progress=False)
    h = content_hash(out)
    os.rename(out, tmp_path / ".store.old-1234")
    with pytest.raises(StoreError, match="already exists"):
        prepare("nw-ucla", root, out, workers=1, progress=False)
    assert content_hash(out) == h


def test_content_hash_does_not_depend_on_root_spelling_with_symlinked_files(tmp_path, monkeypatch):
    real = write_ucla(tmp_path / "real")
    root = tmp_path / "links"
    root.mkdir()
    for f in real.iterdir():
        (root / f.name).symlink_to(f)
    monkeypatch.chdir(tmp_path)
    prepare("nw-ucla", "links", tmp_path / "a", workers=1, progress=False)
    prepare("nw-ucla", str(root) + "/", tmp_path / "b", workers=1, progress=False)
    assert content_hash(tmp_path / "a") == content_hash(tmp_path / "b")
    assert SkeletonStore(tmp_path / "a").meta[0]["source"] == sorted(p.name for p in real.iterdir())[0]
    assert _relative(str(root / "x.json"), root) == "x.json"


def test_internal_error_stops_the_run_with_the_report_so_far(tmp_path, monkeypatch):
    from s2i.store.write import StoreWriter

    root = write_ucla(tmp_path / "raw")
    (root / "a00_s01_e00_v01.json").write_text("{")  # read first
    calls = []

    def disk_full(self, seq):
        calls.append(seq)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return len(calls) - 1

    monkeypatch.setattr(StoreWriter, "append", disk_full)
    with pytest.raises(StoreError, match="prepare stopped after 1 sequence\\(s\\) by OSError: .*No space left"):
        prepare("nw-ucla", root, tmp_path / "store", workers=1, progress=False)
    report = json.loads((tmp_path / "store.error-report.json").read_text())
    assert report["sequences_written"] == 1 and len(report["failed"]) == 1
    assert report["failed"][0]["item"].endswith("a00_s01_e00_v01.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "store.error-report.json"]
