"""The report writes only its own page and image folder: a symlinked image folder, a browser's saved
``page_files/`` and a file that is not a report are refused, never emptied or replaced (issue 34, items 3,
4, 15); class names are drawn literally, whatever matplotlib would read as mathtext."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from s2i.cli import main
from s2i.report import write_report
from s2i.report.figures import confusion_png, per_class_png, tsne_png


def _copy(demo: Path, dest: Path) -> Path:
    """The demo's run with no store (every section that needs one is skipped: a quick report)."""
    shutil.copytree(demo / "pretrain", dest, ignore=shutil.ignore_patterns("*.ckpt"))
    prov = json.loads((dest / "provenance.json").read_text())
    prov["stores"][0]["path"] = "/nonexistent/store"
    (dest / "provenance.json").write_text(json.dumps(prov))
    return dest


def _pictures(folder: Path) -> Path:
    folder.mkdir()
    for name in ("holiday.png", "cat.gif", "notes.txt"):
        (folder / name).write_bytes(name.encode())
    return folder


def test_a_symlinked_image_folder_is_refused_and_its_target_untouched(demo, tmp_path, capsys):
    """Item 3: RUN/report_files -> ~/pics must not make `s2i report RUN` delete the pictures."""
    run = _copy(demo, tmp_path / "run")
    pics = _pictures(tmp_path / "pics")
    (run / "report_files").symlink_to(pics)
    assert main(["report", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in pics.iterdir()) == ["cat.gif", "holiday.png", "notes.txt"]
    assert not (run / "report.html").exists()


def test_a_foreign_files_folder_and_a_foreign_page_are_refused(demo, tmp_path):
    """Item 4: a browser's page_files/ keeps its images; an existing non-report file is not replaced."""
    run = _copy(demo, tmp_path / "run")
    _pictures(tmp_path / "page_files")
    with pytest.raises(ValueError, match="no s2i marker"):
        write_report(run, tmp_path / "page.html", progress=False)
    assert sorted(p.name for p in (tmp_path / "page_files").iterdir()) == ["cat.gif", "holiday.png", "notes.txt"]
    (tmp_path / "thesis.tex").write_text("\\documentclass{article}")
    with pytest.raises(ValueError, match="not an s2i report page"):
        write_report(run, tmp_path / "thesis.tex", progress=False)
    assert (tmp_path / "thesis.tex").read_text() == "\\documentclass{article}"
    assert not (tmp_path / "thesis_files").exists()
    page = write_report(run, tmp_path / "r.html", progress=False)
    (tmp_path / "r_files" / "old.png").write_bytes(b"ours")
    (tmp_path / "r_files" / "link.png").symlink_to(tmp_path / "page_files" / "holiday.png")
    (tmp_path / "r_files" / "pretrain_loss.png").unlink()  # an image the report writes, as a dangling link:
    (tmp_path / "r_files" / "pretrain_loss.png").symlink_to(tmp_path / "elsewhere.png")  # never written through
    assert write_report(run, page, progress=False) == page  # its own page and folder: replaced
    assert not (tmp_path / "r_files" / "old.png").exists() and not os.path.lexists(tmp_path / "r_files" / "link.png")
    assert (tmp_path / "page_files" / "holiday.png").read_bytes() == b"holiday.png"
    assert not os.path.lexists(tmp_path / "elsewhere.png")
    assert not (tmp_path / "r_files" / "pretrain_loss.png").is_symlink()


def test_out_that_names_a_folder_says_so(demo, tmp_path, capsys):
    """Item 15: `report --out /` names the problem, not "PosixPath('/') has an empty name"."""
    run = _copy(demo, tmp_path / "run")
    assert main(["report", str(run), "--quiet", "--out", "/"]) == 2
    err = capsys.readouterr().err
    assert "--out / is a folder, not the HTML file to write" in err and "PosixPath" not in err


def test_class_names_with_mathtext_characters_are_drawn_literally(tmp_path):
    """Item 15: a class name with $, ^ or _ no longer fails the confusion-matrix, per-class and t-SNE figures."""
    names = ["a$^$", "cost $5", "$x_{$", "plain"]
    confusion_png(np.eye(4, dtype=int), names, tmp_path / "c.png", "run $ one")
    per_class_png([100.0, 50.0, None, 0.0], names, tmp_path / "p.png", "$^$", 50.0)
    tsne_png([("$_$", np.random.default_rng(0).normal(size=(8, 2)))], np.arange(8) % 4, names, tmp_path / "t.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("c.png", "p.png", "t.png"))
