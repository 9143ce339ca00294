"""The pretraining run's own Lightning callbacks: what a run counts over all its starts (samples, seconds,
starts, the loss curve) and the step of the newest checkpoint. Their state travels in every checkpoint, so a
run resumed after a kill reports the same totals and curve as one that was never stopped."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["LossCurve", "SavedStep", "Throughput"]


class Throughput(pl.Callback):
    """Samples/s of the run (logged for the progress bar) and totals over all starts for metrics.json.

    ``world``: processes of the run; each batch counts its sequences of every format times ``world``.
    """

    LEGACY_KEY = "_Throughput.__init__.<locals>.Callback"  # its state in checkpoints written before 2026-12-08

    def __init__(self, world: int) -> None:
        self.world = world
        self.samples, self.t0, self.last = 0, time.perf_counter(), time.perf_counter()
        self.rate: float | None = None
        self.before_s, self.before_samples, self.starts = 0.0, 0, 1  # from the checkpoint resumed from

    @property
    def per_second(self) -> float:
        """Samples per second of this start."""
        return self.samples / max(time.perf_counter() - self.t0, 1e-9)

    @property
    def total_train_s(self) -> float:
        """Training seconds of this start and of the earlier ones up to the checkpoint it resumed from."""
        return self.before_s + time.perf_counter() - self.t0

    @property
    def total_samples(self) -> int:
        """Samples of this start and of the earlier ones up to the checkpoint it resumed from."""
        return self.before_samples + self.samples

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.t0 = self.last = time.perf_counter()

    def state_dict(self) -> dict[str, Any]:
        return {"train_s": self.total_train_s, "samples": self.total_samples, "starts": self.starts}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before_s = float(state_dict.get("train_s", 0.0))
        self.before_samples = int(state_dict.get("samples", 0))
        self.starts = int(state_dict.get("starts", 0)) + 1

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        legacy = checkpoint.get("callbacks", {}).get(self.LEGACY_KEY)
        if legacy is not None:
            self.load_state_dict(legacy)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        n = sum(int(sub["length"].shape[0]) for sub in batch["formats"].values()) * self.world
        now = time.perf_counter()
        self.samples += n
        rate = n / max(now - self.last, 1e-9)
        self.rate = rate if self.rate is None else 0.9 * self.rate + 0.1 * rate
        self.last = now
        pl_module.log("samples_per_s", torch.tensor(self.rate), on_step=True, prog_bar=True,
                      batch_size=1)  # a CPU tensor: a Python float would be copied to the GPU, waiting


class LossCurve(pl.Callback):
    """(step, loss) of the run over all its starts: the logged ``train/loss`` of every ``every``-th optimizer
    step, under the step number the loggers give it (optimizer steps before it), so loss_curve.csv matches
    the CSV logs. Read after an optimizer step only (with accumulation, a batch that steps), and only every
    ``every`` steps: on a GPU reading the loss is a wait, the same one the loggers make at those steps.
    ``logs``: the run's CSV logs, read only when resuming a checkpoint written before the curve travelled in
    checkpoints (before 2026-12-08).
    """

    def __init__(self, every: int, logs: Path | None = None, key: str = "train/loss") -> None:
        self.every, self.logs, self.key = every, logs, key
        self.points: dict[int, float] = {}
        self.seen_step = 0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.seen_step = int(trainer.global_step)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = int(trainer.global_step)
        if step == self.seen_step:  # an accumulating batch: no optimizer step, nothing logged
            return
        self.seen_step = step
        if step % self.every == 0 and (loss := trainer.callback_metrics.get(self.key)) is not None:
            self.points[step - 1] = float(loss)

    @property
    def curve(self) -> list[tuple[int, float]]:
        """The points by step."""
        return sorted(self.points.items())

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self.points), "loss": list(self.points.values())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.points = dict(zip(state_dict.get("steps", []), state_dict.get("loss", [])))

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if self.state_key not in checkpoint.get("callbacks", {}) and self.logs is not None:
            self.points = _logged_points(self.logs, self.key, before=int(checkpoint.get("global_step", 0)))


def _logged_points(logs: Path, key: str, before: int) -> dict[int, float]:
    """The ``key`` values of the steps before ``before`` in CSV logs (every version; a later start wins)."""
    points: dict[int, float] = {}
    for f in sorted(logs.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        with open(f, newline="") as fh:
            points.update((int(r["step"]), float(r[key])) for r in csv.DictReader(fh)
                          if r.get(key) not in (None, "") and int(r["step"]) < before)
    return points


class SavedStep(pl.Callback):
    """The optimizer step of the newest checkpoint this start wrote (0 before any): the run's end is saved
    once more only when it is not on a checkpoint step."""

    def __init__(self) -> None:
        self.step = 0

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        self.step = int(trainer.global_step)
