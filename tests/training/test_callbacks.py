"""The run's callbacks: throughput totals and the loss curve carried over resumes in the checkpoint, the step
of the newest checkpoint; driven by hand-made trainer states, then through a stopped and resumed run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tiny import ntu_store, tiny_config

from s2i.training.callbacks import LossCurve, SavedStep, Throughput
from s2i.training.fit import pretrain


def test_throughput_counters_carry_over_a_resume():
    """A resumed start counts the starts and the samples and seconds before the checkpoint; each batch adds
    its sequences of every format times the world size."""
    tp = Throughput(world=2)
    tp.load_state_dict({"train_s": 5.0, "samples": 40, "starts": 1})
    assert tp.starts == 2 and tp.before_samples == 40 and tp.before_s == 5.0
    logged = []
    module = SimpleNamespace(log=lambda name, value, **kw: logged.append((name, float(value))))
    tp.on_train_start(None, module)
    batch = {"formats": {"ntu25": {"length": torch.tensor([5, 6, 7])}, "kinect_v1": {"length": torch.tensor([9])}}}
    tp.on_train_batch_end(None, module, None, batch, 0)
    tp.on_train_batch_end(None, module, None, batch, 1)
    assert tp.samples == 16 and tp.total_samples == 56
    state = tp.state_dict()
    assert state["samples"] == 56 and state["starts"] == 2 and state["train_s"] >= 5.0
    assert [n for n, _ in logged] == ["samples_per_s"] * 2
    fresh = Throughput(world=1)
    assert fresh.starts == 1 and fresh.total_samples == 0


def test_throughput_reads_the_state_of_checkpoints_written_before_it_had_a_name():
    tp = Throughput(world=1)
    tp.on_load_checkpoint(None, None, {"callbacks": {Throughput.LEGACY_KEY: {"train_s": 2.0, "samples": 8,
                                                                            "starts": 3}}})
    assert (tp.before_s, tp.before_samples, tp.starts) == (2.0, 8, 4)
    other = Throughput(world=1)
    other.on_load_checkpoint(None, None, {"callbacks": {}})
    assert (other.before_s, other.before_samples, other.starts) == (0.0, 0, 1)


def _trainer(step: int, loss: float | None):
    metrics = {} if loss is None else {"train/loss": torch.tensor(loss)}
    return SimpleNamespace(global_step=step, callback_metrics=metrics)


def test_loss_curve_takes_every_nth_optimizer_step_under_the_loggers_step_number():
    """A point after every ``every``-th optimizer step, numbered like the CSV logs (steps before it); batches
    that only accumulate (the step did not move) add nothing, even on a logging step."""
    curve = LossCurve(every=2)
    curve.on_train_start(_trainer(0, None), None)
    for step, loss in [(1, 5.0), (2, 4.0), (2, 9.0), (3, 3.0), (4, 2.5), (4, 9.0), (5, 2.0), (6, 1.5)]:
        curve.on_train_batch_end(_trainer(step, loss), None, None, None, 0)
    assert curve.curve == [(1, 4.0), (3, 2.5), (5, 1.5)]
    resumed = LossCurve(every=2)
    resumed.load_state_dict(curve.state_dict())
    resumed.on_train_start(_trainer(6, None), None)
    resumed.on_train_batch_end(_trainer(6, 9.0), None, None, None, 0)  # accumulating right after the resume
    resumed.on_train_batch_end(_trainer(8, 1.0), None, None, None, 0)
    assert resumed.curve == [(1, 4.0), (3, 2.5), (5, 1.5), (7, 1.0)]


def test_loss_curve_of_a_checkpoint_without_one_comes_from_the_csv_logs(tmp_path):
    """Checkpoints written before the curve travelled in them: the logged points before its step, a later log
    version winning; a checkpoint that has the curve is not mixed with the logs."""
    for version, rows in [(0, "step,train/loss\n0,3.0\n1,2.0\n2,1.5\n"), (1, "step,train/loss,x\n1,2.5,\n,,7\n")]:
        (tmp_path / f"version_{version}").mkdir()
        (tmp_path / f"version_{version}" / "metrics.csv").write_text(rows)
    curve = LossCurve(every=1, logs=tmp_path)
    curve.on_load_checkpoint(None, None, {"global_step": 2, "callbacks": {}})
    assert curve.curve == [(0, 3.0), (1, 2.5)]
    own = LossCurve(every=1, logs=tmp_path)
    own.load_state_dict({"steps": [0], "loss": [4.0]})
    own.on_load_checkpoint(None, None, {"global_step": 2, "callbacks": {own.state_key: {}}})
    assert own.curve == [(0, 4.0)]


def test_saved_step_follows_the_checkpoints_written():
    saved = SavedStep()
    assert saved.step == 0
    saved.on_save_checkpoint(SimpleNamespace(global_step=6), None, {})
    assert saved.step == 6


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ntu_store(tmp_path_factory.mktemp("data") / "ntu")


def test_a_resumed_curve_comes_from_the_checkpoint_not_the_logs(store, tmp_path):
    """Steps before the checkpoint come back from it: deleting the first start's CSV logs changes nothing;
    a run that ends off a checkpoint step (7, every 3) saves its end as last.ckpt."""
    cfg = tiny_config("optim.max_steps=7", "trainer.log_every=2")
    whole = pretrain(cfg, [store], tmp_path / "whole")
    run = tmp_path / "cut"
    pretrain(cfg, [store], run, max_steps=4)
    for f in (run / "logs").glob("version_*/metrics.csv"):
        f.unlink()
    pretrain(cfg, [store], run, resume=True)
    expected = (whole / "loss_curve.csv").read_text()
    assert expected.splitlines()[0] == "step,loss" and [r.split(",")[0] for r in expected.splitlines()[1:]] == [
        "1", "3", "5"]
    assert (run / "loss_curve.csv").read_text() == expected
    last = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert last["global_step"] == 7
