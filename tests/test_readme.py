"""The README's Python example runs as written, and gives the shapes its comments promise; its Quick tour
parses, reads only what set-up or an earlier line made, and runs top to bottom (slow)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import create_backbone, export_encoder
from s2i.testing.actions import write_limb_action_store

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _example() -> str:
    m = re.search(r"## Use a trained encoder from Python\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert m, "README lost its 'Use a trained encoder from Python' example"
    return m.group(1)


def test_readme_feature_example_runs(tmp_path, monkeypatch, capsys):
    # what `s2i demo` leaves: s2i-demo/store and s2i-demo/pretrain/encoder (a 64 x 64, patch-8 ViT-Tiny)
    store = write_limb_action_store(tmp_path / "s2i-demo" / "store", classes=4, train_per_class=3, test_per_class=2)
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=64, patch_size=8, depth=1)
    enc = S2IEncoder(store.format_spec, S2IConfig(height=64, width=64, persons="first"),
                     range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    export_encoder(tmp_path / "s2i-demo" / "pretrain" / "encoder", bb, "vit_tiny_patch16_224", [enc],
                   backbone_kwargs={"depth": 1})
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_example(), "README.md", "exec"), scope)
    # the shapes the example's comments state
    assert scope["vectors"].shape == (8, 192)
    assert scope["tokens"].shape == (8, 64, 192)
    assert scope["seen"].shape == (2, 3, 64, 64)
    assert scope["images"].shape == (2, 3, 224, 224)
    assert scope["images"].min() >= 0.0 and scope["images"].max() <= 1.0
    assert "SkeletonFeatureExtractor(vit_tiny_patch16_224" in capsys.readouterr().out


def _check_generated(doc: Path, flag: str, capsys) -> None:
    """The block between ``<!-- results-table: s2i results FLAG DIR -->`` and ``<!-- /results-table -->`` of
    ``doc`` is exactly what that command prints (DIR relative to the repository root)."""
    from s2i.cli import main

    m = re.search(rf"<!-- results-table: s2i results {flag} (\S+) -->\n(.*?)<!-- /results-table -->", doc.read_text(),
                  re.S)
    assert m, f"{doc.name} lost its generated results table (the results-table markers of `s2i results {flag}`)"
    assert main(["results", flag, str(ROOT / m.group(1))]) == 0
    assert m.group(2) == capsys.readouterr().out, f"{doc.name}'s results table is stale: paste the command's output"


def test_readme_results_table_is_what_its_command_prints(capsys):
    """The README's short headline table is generated: `s2i results --readme docs/results` from the runs declared
    in docs/results/headline.yaml. Editing a number in the README, or a result file or the declaration without
    regenerating the README, fails here."""
    _check_generated(README, "--readme", capsys)


def test_results_doc_table_is_what_its_command_prints(capsys):
    """docs/results.md's table of every committed result is `s2i results --table docs/results`, generated the same
    way."""
    _check_generated(ROOT / "docs" / "results.md", "--table", capsys)


# --- the Quick tour -----------------------------------------------------------------------------------------
#: the arguments of each command that name what it reads (argparse dests)
READS = {"prepare": ("root",), "inspect": ("store",), "encode": ("files", "store"), "pretrain": ("config", "data"),
         "eval": ("checkpoint", "data", "config"), "fuse": ("runs",), "results": ("runs",), "report": ("run", "data")}


def _tour() -> list[str]:
    m = re.search(r"## Quick tour\n\n```bash\n(.*?)```", README.read_text(), re.S)
    assert m, "README lost its 'Quick tour' block"
    return [ln for ln in m.group(1).splitlines() if ln.strip()]


def _shell_variables(lines: list[str]) -> dict[str, str]:
    """Values of the tour's ``name=$(...)...`` lines, as bash gives them."""
    out = {}
    for ln in lines:
        m = re.match(r"(\w+)=(\S.*?)\s+#", ln + " #")
        if m and not ln.startswith("s2i "):
            out[m.group(1)] = subprocess.run(["bash", "-c", f"{ln}\necho ${m.group(1)}"], capture_output=True,
                                             text=True, check=True).stdout.strip()
    return out


def _commands(lines: list[str]) -> list[list[str]]:
    """Each ``s2i ...`` line as its argv (shell variables expanded, comments dropped); other lines must be the
    variable assignments of :func:`_shell_variables`."""
    vars_ = _shell_variables(lines)
    argvs = []
    for ln in lines:
        if not ln.startswith("s2i "):
            assert re.match(r"\w+=\$\(", ln), f"Quick tour line is neither an s2i command nor a variable: {ln}"
            continue
        for k, v in vars_.items():
            ln = ln.replace(f"${k}", v)
        argvs.append(shlex.split(ln, comments=True)[1:])
    return argvs


def test_quick_tour_parses_and_reads_only_what_earlier_lines_made():
    from s2i.cli import build_parser

    parser = build_parser()
    made: list[str] = []  # what earlier lines wrote (their --out), relative to the folder the tour runs in
    evaluations: list[str] = []
    reports: list[str] = []
    argvs = _commands(_tour())
    assert [a[0] for a in argvs][:2] == ["prepare", "inspect"] and "report" in [a[0] for a in argvs]
    for argv in argvs:
        args = parser.parse_args(argv)  # exits (fails the test) on an argument the command does not take
        for dest in READS[argv[0]]:
            value = getattr(args, dest, None)
            for path in ([value] if isinstance(value, str) else value or []):
                p = Path(path)
                by_line = any(fnmatch.fnmatch(m, path) or p == Path(m) or p.is_relative_to(m) for m in made)
                shipped = p.is_absolute() and p.is_file() or (ROOT / p).is_file()  # set-up's files, the repo's
                assert by_line or shipped, f"`s2i {' '.join(argv)}` reads {path}, which no earlier line makes"
        if argv[0] == "prepare":
            assert args.root is None and args.dataset == "humanoid-motions", "the tour must need no download"
        if getattr(args, "out", None):
            made.append(args.out.rstrip("/"))
        if argv[0] in ("eval", "fuse"):
            evaluations.append(args.out)
        if argv[0] == "report":
            reports.append(args.run)
    # `s2i report RUN` finds the results.json files below RUN: every evaluation of the tour is there
    assert evaluations and reports
    for ev in evaluations:
        assert any(Path(ev).is_relative_to(r) for r in reports), f"{ev} is outside the reported run {reports}"
    fused = [a for a in argvs if a[0] == "fuse"]
    assert fused and all(r in evaluations for r in parser.parse_args(fused[0]).runs)


@pytest.mark.slow
def test_quick_tour_runs_top_to_bottom(tmp_path):
    """The block as a bash script (``s2i`` = this checkout's ``python -m s2i``), in an empty folder that has
    only the repository's configs/."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    script = "set -euo pipefail\ns2i() { \"$S2I_PYTHON\" -m s2i \"$@\"; }\n" + "\n".join(_tour()) + "\n"
    env = {**os.environ, "S2I_PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "S2I_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("humanoid3d_walk", "humanoid3d_kick"):
        assert np.asarray(Image.open(tmp_path / "images" / f"{name}.png")).shape == (224, 224, 3)
    run = tmp_path / "runs" / "tour"
    fused = json.loads((run / "eval" / "joint+bone" / "results.json").read_text())
    assert sorted(fused["streams"]) == ["bone", "joint"]
    assert "| method |" in proc.stdout  # the results table
    html = (run / "report.html").read_text()
    for ev in ("joint", "bone", "joint+bone"):  # the report found every evaluation of the run
        assert f"eval/{ev}/results.json" in html, ev
