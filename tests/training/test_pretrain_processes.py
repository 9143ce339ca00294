"""Slow checks in real processes: kill -9 mid-run then --resume; 2-process DDP (torchrun, gloo on CPU)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny import TINY, ntu_store

SRC = Path(__file__).resolve().parents[2] / "src"
pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}


def _cli(store: Path, out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "s2i", "pretrain", "--data", str(store), "--out", str(out)]
    for s in [*TINY, "optim.max_steps=12", "trainer.checkpoint_every=2", *extra]:
        args += ["--set", s]
    return args


def test_kill_9_then_resume_matches_the_uninterrupted_run(tmp_path):
    store = ntu_store(tmp_path / "ntu")
    subprocess.run(_cli(store, tmp_path / "a"), check=True, env=_env(), capture_output=True)
    proc = subprocess.Popen(_cli(store, tmp_path / "b"), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpts = tmp_path / "b" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not any(ckpts.glob("step000000[4-9].ckpt")):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # no clean-up, possibly mid-write
    proc.wait()
    assert not (tmp_path / "b" / "metrics.json").exists()
    subprocess.run(_cli(store, tmp_path / "b", "trainer.progress_bar=true") + ["--resume"], check=True,
                   env=_env(), capture_output=True)
    ma, mb = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in "ab")
    assert mb["steps"] == ma["steps"] == 12
    assert abs(ma["final_loss"] - mb["final_loss"]) <= 1e-6


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun not installed")
def test_two_process_ddp_matches_one_process(tmp_path):
    store = ntu_store(tmp_path / "ntu", n=26)
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    one = _cli(store, tmp_path / "one", "data.batch_size=8")
    two = [torchrun, "--nproc_per_node", "2", "--master_port", "29533", "-m", "s2i"] + \
        _cli(store, tmp_path / "two", "data.batch_size=4")[3:]
    subprocess.run(one, check=True, env=_env(), capture_output=True)
    subprocess.run(two, check=True, env=_env(), capture_output=True, timeout=600)
    m1, m2 = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("one", "two"))
    assert m2["world_size"] == 2 and m2["steps"] == m1["steps"] == 12
    c1, c2 = (json.loads((tmp_path / r / "provenance.json").read_text())["schedule"] for r in ("one", "two"))
    assert c1["total_batch"] == c2["total_batch"] == 8
    assert m2["final_loss"] < m2["first_loss"] and m1["final_loss"] < m1["first_loss"]
    assert abs(m2["final_loss"] - m1["final_loss"]) < 0.1 * m1["final_loss"]


def test_two_process_ddp_stops_together_on_a_non_finite_loss(tmp_path):
    """Every process stops at the same step with the error (none waits forever for the others); rc != 0."""
    store = ntu_store(tmp_path / "ntu", n=26)
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    two = [torchrun, "--nproc_per_node", "2", "--master_port", "29534", "-m", "s2i"] + \
        _cli(store, tmp_path / "two", "data.batch_size=4", "optim.base_lr=1e12")[3:]
    proc = subprocess.run(two, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert proc.stderr.count("training diverged: the loss is not finite") == 2  # one line from each process
    assert not (tmp_path / "two" / "encoder").exists()
