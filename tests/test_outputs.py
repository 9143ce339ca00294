"""Output folders of the learning commands: only folders typed as s2i's own (by a marker's content, never a
file name) are written into or replaced, ``--out`` never overlaps an input or sits inside a store, and
symlinks are never followed out of a folder s2i owns (issue 34, items 1, 2, 6)."""

from __future__ import annotations

import json
import os

import pytest

from s2i.atomic import atomic_path
from s2i.cli import main
from s2i.demo import run_demo
from s2i.store import StoreWriter
from s2i.testing.actions import write_limb_action_store

TINY = ["model.patch_size=8", "encode.height=32", "encode.width=32", "model.backbone_kwargs={depth: 1}",
        "model.decoder_depth=1", "data.batch_size=4", "optim.max_steps=1", "trainer.progress_bar=false"]
SETS = [a for s in TINY for a in ("--set", s)]


def _store(path):
    return write_limb_action_store(path, classes=2, train_per_class=2, test_per_class=1).path


def test_demo_overwrite_leaves_a_folder_whose_demo_json_is_not_a_demos(tmp_path):
    """Item 1: a file named demo.json does not make a folder the demo's: --overwrite deletes nothing."""
    p = tmp_path / "p"
    (p / "eval").mkdir(parents=True)
    (p / "demo.json").write_text("{}")
    (p / "eval" / "important.txt").write_text("x")
    (p / "report.html").write_text("<p>mine</p>")
    with pytest.raises(ValueError, match="not an s2i demo folder"):
        run_demo(tmp_path / "absent", p, overwrite=True)
    assert (p / "eval" / "important.txt").read_text() == "x" and (p / "report.html").read_text() == "<p>mine</p>"


def test_demo_never_deletes_its_own_input(tmp_path, capsys):
    """Item 2: --data D/store --out D --overwrite is refused before anything is deleted."""
    d = tmp_path / "D"
    store = write_limb_action_store(d / "store", classes=2, train_per_class=2, test_per_class=1)
    (d / "demo.json").write_text(json.dumps({"kind": "s2i-demo", "status": "done"}))  # an earlier demo's folder
    rc = main(["demo", "--data", str(store.path), "--out", str(d), "--overwrite", "--quiet", "--steps", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "contains the input --data" in err and len(err.strip().splitlines()) == 1
    assert (store.path / "manifest.json").is_file() and (d / "demo.json").is_file()


def test_demo_overwrite_removes_symlinks_not_their_targets(tmp_path):
    elsewhere = tmp_path / "pics"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_bytes(b"png")
    d = tmp_path / "D"
    d.mkdir()
    (d / "demo.json").write_text(json.dumps({"kind": "s2i-demo"}))  # an earlier demo (before markers)
    (d / "eval").symlink_to(elsewhere)
    with pytest.raises(FileNotFoundError, match="no such folder"):  # the folder was cleared, then --data fails
        run_demo(tmp_path / "absent", d, overwrite=True)
    assert not os.path.lexists(d / "eval") and (elsewhere / "a.png").read_bytes() == b"png"
    assert json.loads((d / ".s2i-output.json").read_text())["kind"] == "demo"  # typed as the demo's now


def test_pretrain_refuses_an_out_that_is_or_is_inside_its_data(tmp_path, capsys):
    """Item 6: a run is never written into a store (prepare --overwrite would delete it)."""
    store = _store(tmp_path / "S")
    before = sorted(p.name for p in store.iterdir())
    for out, how in ((store, "is the input --data"), (store / "runs" / "r", "is inside the input --data")):
        rc = main(["pretrain", "--data", str(store), "--out", str(out), *SETS])
        err = capsys.readouterr().err
        assert rc == 2 and how in err and len(err.strip().splitlines()) == 1, err
    other = _store(tmp_path / "S2")
    rc = main(["pretrain", "--data", str(store), "--out", str(other / "run"), *SETS])
    assert rc == 2 and "inside the prepared store" in capsys.readouterr().err
    assert sorted(p.name for p in store.iterdir()) == before and not (other / "run").exists()


def test_prepare_overwrite_refuses_a_store_that_holds_a_run(tmp_path):
    """Item 6, the other half: a store holding an s2i output (a run kept there) is not replaced."""
    store = _store(tmp_path / "S")
    run = store / "runs" / "r1"
    run.mkdir(parents=True)
    for name in ("config.yaml", "provenance.json"):  # a run written before output markers
        (run / name).write_text("{}")
    with pytest.raises(ValueError, match="holds s2i outputs"):
        StoreWriter(store, "ntu25", 3, 25, overwrite=True)
    assert (run / "config.yaml").is_file()
    from s2i.outputs import mark_output

    marked = tmp_path / "S2" / "deep" / "eval"
    _store(tmp_path / "S2")
    mark_output(marked, "eval")
    with pytest.raises(ValueError, match="holds s2i outputs"):
        StoreWriter(tmp_path / "S2", "ntu25", 3, 25, overwrite=True)
    assert marked.is_dir()


def test_claim_output_types_folders_by_content(tmp_path):
    from s2i.outputs import MARKER, OutputError, claim_output, mark_output

    out = tmp_path / "o"
    assert claim_output(out, "eval") is False  # new
    out.mkdir()
    assert claim_output(out, "eval") is False  # empty
    (out / MARKER).write_text(json.dumps({"tool": "s2i", "kind": "fused"}))
    with pytest.raises(OutputError, match="is an s2i fused-results folder"):
        claim_output(out, "eval")
    (out / MARKER).write_text(json.dumps({"tool": "other", "kind": "eval"}))
    with pytest.raises(OutputError, match="no s2i marker"):
        claim_output(out, "eval")
    mark_output(out, "eval")
    assert claim_output(out, "eval") is True
    (out / "scores.safetensors").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"holds symbolic links \(scores.safetensors\)"):
        claim_output(out, "eval")
    (out / "scores.safetensors").unlink()
    link = tmp_path / "link"
    link.symlink_to(out)
    with pytest.raises(OutputError, match="symbolic link"):
        claim_output(link, "eval")
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        claim_output(tmp_path / "f", "eval")


def test_atomic_write_errors_name_the_target_not_the_temporary_file(tmp_path):
    """Item 15: a file-system error names the user's path (here: a name the temporary file makes too long)."""
    target = tmp_path / ("r" * 240 + ".json")
    with pytest.raises(OSError) as e, atomic_path(target) as tmp:
        tmp.write_text("{}")
    assert e.value.filename == str(target) and ".tmp" not in str(e.value)
