"""Training progress: ``ProgressBar``, Lightning's tqdm bar drawn through :mod:`s2i.progress` (stderr, like
every other bar; a line every few seconds when stderr is not a terminal), and ``TimeEstimate``, one line
with the run's expected duration from a timing of its first steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from .progress import progress_bar

__all__ = ["ProgressBar", "TimeEstimate", "format_seconds"]


class ProgressBar(TQDMProgressBar):
    """Lightning's bar with its bars made by :func:`s2i.progress.progress_bar` instead of on stdout."""

    def _bar(self, desc: str, leave: bool, position: int = 0, smoothing: float | None = None) -> Any:
        extra = {} if smoothing is None else {"smoothing": smoothing}
        return progress_bar(terminal_class=Tqdm, desc=desc, position=2 * self.process_position + position,
                            disable=self.is_disabled, leave=leave, dynamic_ncols=True, bar_format=self.BAR_FORMAT,
                            **extra)

    def init_sanity_tqdm(self) -> Tqdm:
        return self._bar(self.sanity_check_description, leave=False)

    def init_train_tqdm(self) -> Tqdm:
        return self._bar(self.train_description, leave=True, smoothing=0)

    def init_predict_tqdm(self) -> Tqdm:
        return self._bar(self.predict_description, leave=True, smoothing=0)

    def init_validation_tqdm(self) -> Tqdm:
        has_main_bar = self.trainer.state.fn != "validate"
        return self._bar(self.validation_description, leave=not has_main_bar, position=int(has_main_bar))

    def init_test_tqdm(self) -> Tqdm:
        return self._bar("Testing", leave=True)


def format_seconds(s: float) -> str:
    """``42 s``, ``3 min 10 s``, ``1 h 05 min``."""
    s = max(0, round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class TimeEstimate(pl.Callback):
    """Says once how long the run will take, timed over optimizer steps ``skip`` + 1 ... ``skip`` + ``steps``
    of this start (the first steps also pay for warm-up, so they are not timed)."""

    def __init__(self, total_steps: int, announce: Callable[[str], None], steps: int = 5, skip: int = 1) -> None:
        self.total, self.announce, self.steps, self.skip = total_steps, announce, steps, skip
        self.first = 0
        self.t0: float | None = None
        self.start = 0
        self.done = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.first = int(trainer.global_step)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.done or not trainer.is_global_zero:
            return
        step = int(trainer.global_step)
        if self.t0 is None:
            if step >= self.first + self.skip:
                self.t0, self.start = time.perf_counter(), step
            return
        if step - self.start >= self.steps:
            self.done = True
            per_step = (time.perf_counter() - self.t0) / (step - self.start)
            left = max(0, self.total - step)
            if left:
                self.announce(f"estimate: {format_seconds(left * per_step)} for the {left} steps left"
                              f" ({per_step:.2f} s/step, timed over steps {self.start + 1}-{step})")
