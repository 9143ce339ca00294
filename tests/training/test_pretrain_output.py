"""What a pretraining run prints (issue 35, item 2): progress only on stderr, as whole lines in a log, an
estimate of the run's duration after its first steps, none of Lightning's banners or tips unless ``-v``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tiny import TINY, ntu_store

SRC = Path(__file__).resolve().parents[2] / "src"


def pretrain_cli(store: Path, out: Path, *pre: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "s2i", *pre, "pretrain", "--data", str(store), "--out", str(out)]
    for s in [*TINY, "trainer.progress_bar=true", "optim.max_steps=9", "trainer.log_every=10"]:
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return res


def test_pretrain_output_is_progress_lines_on_stderr_and_one_summary(tmp_path):
    store = ntu_store(tmp_path / "ntu")
    res = pretrain_cli(store, tmp_path / "quiet")
    assert res.stdout.startswith("pretrained 9 steps") and len(res.stdout.splitlines()) == 1
    assert "\r" not in res.stderr
    lines = res.stderr.splitlines()
    assert any(line.startswith("Epoch 0: ") and "/9 [" in line for line in lines), res.stderr
    assert any(line.startswith("estimate: ") and "steps left" in line for line in lines), res.stderr
    for noise in ("GPU available", "TPU available", "Tip:", "deprecated", "logging interval"):
        assert noise not in res.stderr, noise

    loud = pretrain_cli(store, tmp_path / "verbose", "-v")
    assert "GPU available" in loud.stderr and "Tip:" in loud.stderr and "deprecated" in loud.stderr
    assert "logging interval" in loud.stderr
