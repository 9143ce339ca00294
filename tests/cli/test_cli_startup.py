"""The command line parses its arguments before importing anything heavy: ``s2i --help``, ``s2i formats`` and
every ``s2i COMMAND --help`` run without torch, Lightning or timm (issue 35, item 3)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from s2i.cli import COMMANDS, build_parser

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("torch", "lightning", "timm", "torchmetrics", "torchvision")

PROBE = """
import contextlib, io, json, sys
HEAVY = """ + repr(HEAVY) + """
from s2i.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules], "chars": len(out.getvalue())}))
"""


def run_cli(*argv: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    res = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_help_and_formats_do_not_import_torch():
    for argv in (["--help"], ["formats"], ["formats", "list"], ["formats", "show", "ntu25"]):
        res = run_cli(*argv)
        assert res["code"] == 0 and res["chars"] > 100, (argv, res)
        assert res["heavy"] == [], f"s2i {' '.join(argv)} imported {res['heavy']}"


def test_every_command_help_parses_without_torch():
    names = [a.dest for a in build_parser()._subparsers._group_actions[0]._choices_actions]  # type: ignore[union-attr]
    assert len(names) == len(COMMANDS)
    for name in names:
        res = run_cli(name, "--help")
        assert res["code"] == 0 and res["chars"] > 100, (name, res)
        assert res["heavy"] == [], f"s2i {name} --help imported {res['heavy']}"
