"""``pretrain(config, data, out)``: one MAE pretraining run, from a laptop CPU to GPUs and nodes.

Lightning runs the loop, DDP, mixed precision, accumulation, checkpoints and logging; this module wires
the pieces and keeps the run folder complete::

    RUN/config.yaml         the resolved configuration (a resumed run must match it)
    RUN/provenance.json     seed, every store (path, format, split, content_hash, value range), package
                            versions, device, init report, command line
    RUN/checkpoints/        last.ckpt and the newest step checkpoint (every trainer.checkpoint_every steps)
    RUN/logs/version_N/     CSV logs (one version per start), RUN/tb/ TensorBoard
    RUN/loss_curve.csv/.png the training loss by step over all starts
    RUN/metrics.json        final loss, steps, samples/s, wall time (this start and all starts)
    RUN/encoder/            the exported encoder (:mod:`s2i.models.export`)

Launch the same command under ``torchrun`` or ``srun``: devices and nodes are read from the environment.

A run never ends "successfully" on garbage: a non-finite loss or weight stops it with
:class:`~s2i.training.pretrain_module.TrainingDivergedError` (the finite checkpoints kept, nothing exported), and
``--resume`` without a readable checkpoint is an error that leaves the run folder as it was.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_path
from ..models.optim import resolve_device
from ..outputs import claim_output, mark_output
from .callbacks import LossCurve, SavedStep, Throughput
from .config import ConfigError, PretrainConfig
from .datamodule import PretrainData

__all__ = ["find_resume_checkpoint", "pretrain", "resolve_devices"]


def resolve_devices(accelerator: str, devices: int | str, num_nodes: int | None) -> tuple[str, int, int]:
    """(accelerator, devices per node, nodes) from the config and, for 'auto', torchrun/SLURM variables."""
    env = os.environ
    acc = accelerator
    if acc == "auto":
        acc = "gpu" if resolve_device("auto").type == "cuda" else "cpu"
    if devices == "auto":
        if "LOCAL_WORLD_SIZE" in env:  # torchrun
            devices = int(env["LOCAL_WORLD_SIZE"])
        elif "SLURM_NTASKS_PER_NODE" in env:
            devices = int(env["SLURM_NTASKS_PER_NODE"].split("(")[0])
        else:
            devices = torch.cuda.device_count() if acc in ("gpu", "cuda") else 1
    if num_nodes is None:
        if "WORLD_SIZE" in env and "LOCAL_WORLD_SIZE" in env:
            num_nodes = max(1, int(env["WORLD_SIZE"]) // int(env["LOCAL_WORLD_SIZE"]))
        elif "SLURM_NNODES" in env:
            num_nodes = int(env["SLURM_NNODES"])
        else:
            num_nodes = 1
    return acc, int(devices), int(num_nodes)


def _ckpt_step(path: Path) -> int:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits and path.stem != "last" else -1


def find_resume_checkpoint(run: Path) -> Path | None:
    """The newest complete checkpoint of a run (a file cut short by a kill is skipped), or None."""
    folder = run / "checkpoints"
    if not folder.is_dir():
        return None
    cands = sorted(folder.glob("*.ckpt"), key=lambda p: (p.stat().st_mtime, _ckpt_step(p)), reverse=True)
    for p in cands:
        try:
            with zipfile.ZipFile(p) as z:  # torch checkpoints are zip archives: check it is whole
                if z.testzip() is None:
                    return p
        except (zipfile.BadZipFile, OSError):
            continue
    return None


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("s2i", "torch", "timm", "lightning", "numpy", "safetensors"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    from .. import __version__

    out["s2i"] = __version__
    return out


def _device_info(trainer: Any) -> dict[str, Any]:
    dev = trainer.strategy.root_device
    info = {"accelerator": type(trainer.accelerator).__name__, "root_device": str(dev),
            "world_size": trainer.world_size, "num_nodes": trainer.num_nodes, "precision": str(trainer.precision),
            "strategy": type(trainer.strategy).__name__}
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    else:
        info["cpu_threads"] = torch.get_num_threads()
        info["cpu"] = platform.processor() or platform.machine()
    return info


def _changed_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config trees."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [k for key in sorted(set(a) | set(b)) for k in _changed_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _check_resume_config(run: Path, config: PretrainConfig) -> None:
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    now = yaml.safe_load(config.to_yaml())
    # no effect on the results; the init options only act on a fresh start (a resumed run's weights come from
    # its checkpoint)
    free = ("trainer.progress_bar", "data.num_workers", "data.pin_memory", "model.init_allow_unmatched")
    changed = [k for k in _changed_keys(saved, now) if not k.startswith(free)]
    if changed:
        raise ConfigError(f"{run}: --resume with a different config ({', '.join(changed)}); "
                          "resume with the run's own config.yaml or start a new --out")


def _plot(curve: list[tuple[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if curve:
        ax.plot([s for s, _ in curve], [v for _, v in curve])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("MAE loss (masked patches)")
    ax.set_title(path.parent.name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=1) + "\n")


def _engine(config: PretrainConfig) -> tuple[str, int, int, Any, str]:
    """(accelerator, devices, nodes, precision, strategy): bf16-mixed on GPUs, DDP when several processes."""
    t = config.trainer
    accelerator, devices, num_nodes = resolve_devices(t.accelerator, t.devices, t.num_nodes)
    precision: Any = t.precision
    if precision == "auto":
        precision = "bf16-mixed" if accelerator in ("gpu", "cuda") else "32-true"
    strategy = t.strategy
    if strategy == "auto" and devices * num_nodes > 1:
        strategy = "ddp"  # NCCL on GPUs, gloo on CPUs
    return accelerator, devices, num_nodes, precision, strategy


def resolve_run_persons(config: PretrainConfig, stores: list[str]) -> PretrainConfig:
    """``encode.persons: auto`` decided once for the run (one image layout for every format, S2I.md 7):
    ``stack`` when any store has a two-person sequence, else ``first``; the resolved config is saved."""
    if config.encode.persons != "auto":
        return config
    from ..encode import resolve_persons, store_has_two_person
    from ..store import SkeletonStore

    two = any(store_has_two_person(SkeletonStore(s)) for s in stores)
    return config.model_copy(update={"encode": resolve_persons(config.encode, two)})


def _resume_checkpoint(run: Path, config: PretrainConfig) -> Path:
    """The checkpoint a ``--resume`` continues from, after checking the config is the run's; an error that
    changes nothing when there is none to read."""
    if not (run / "config.yaml").is_file():
        raise FileNotFoundError(f"{run}: nothing to resume (no config.yaml); start it without --resume")
    _check_resume_config(run, config)
    ckpt = find_resume_checkpoint(run)
    if ckpt is None:
        damaged = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt")) if (run / "checkpoints").is_dir() else []
        what = (f"all {len(damaged)} checkpoint files are damaged ({', '.join(damaged)})" if damaged
                else "it has no checkpoint (stopped before its first one)")
        raise ValueError(f"{run}: --resume found no readable checkpoint: {what}. Nothing was changed; start"
                         " the run again with another --out" + ("" if damaged else " or without --resume"))
    return ckpt


def _run_config(config: PretrainConfig, data: Sequence[str | Path] | None, init: str | None) -> PretrainConfig:
    """The config with the command's ``--data`` and ``--init`` in it."""
    if init is not None:
        config = config.model_copy(update={"model": config.model.model_copy(update={"init": str(init)})})
    stores = [str(s) for s in (data or config.data.stores)]
    if not stores:
        raise ValueError("no data: pass --data STORE (one or more)")
    return config.model_copy(update={"data": config.data.model_copy(update={"stores": stores})})


def _start_checkpoint(run: Path, config: PretrainConfig, resume: bool) -> Path | None:
    """The checkpoint a ``--resume`` continues from; None for a new run, refused over an existing one."""
    if resume:
        return _resume_checkpoint(run, config)
    if (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("*.ckpt")):
        raise FileExistsError(f"{run} already holds a run: pass --resume to continue it, or another --out")
    return None


@dataclass(frozen=True)
class Schedule:
    """The run's length and warm-up in optimizer steps, steps per pass over the data, and sequences per step."""

    total: int
    warmup: int
    per_epoch: int
    total_batch: int

    def to_dict(self, peak_lr: float) -> dict[str, Any]:
        return {"total_steps": self.total, "warmup_steps": self.warmup, "steps_per_epoch": self.per_epoch,
                "total_batch": self.total_batch, "peak_lr": peak_lr}


def _schedule(config: PretrainConfig, dm: PretrainData, world: int) -> Schedule:
    """Length from ``optim.max_steps`` (else epochs), warm-up from ``optim.warmup_steps`` (else epochs)."""
    o = config.optim
    per_epoch = dm.steps_per_epoch(world)
    total = o.max_steps if o.max_steps is not None else max(1, math.ceil((o.epochs or 1) * per_epoch))
    warmup = o.warmup_steps if o.warmup_steps is not None else int(round(o.warmup_epochs * per_epoch))
    return Schedule(total, warmup, per_epoch, config.data.batch_size * world * config.trainer.accumulate_grad_batches)


def _module(config: PretrainConfig, dm: PretrainData, schedule: Schedule, load_init: bool) -> Any:
    """The LightningModule: one S2I encoder per format of the stores (with its value range) and the MAE."""
    from .pretrain_module import MAEPretrainModule

    specs = dm.format_specs()
    formats = {name: (specs[name], rng) for name, rng in dm.format_ranges().items()}
    return MAEPretrainModule(config, formats, total_steps=schedule.total, warmup_steps=schedule.warmup,
                             total_batch=schedule.total_batch, load_init=load_init)


def _checkpointing(run: Path, every: int) -> Any:
    """RUN/checkpoints: the newest step checkpoint (every ``every`` optimizer steps) and last.ckpt."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    return ModelCheckpoint(dirpath=run / "checkpoints", filename="step{step:07d}", auto_insert_metric_name=False,
                           every_n_train_steps=every, save_last=True, save_top_k=1, enable_version_counter=False)


def _progress_callbacks(config: PretrainConfig, accelerator: str, steps: int,
                        announce: Callable[[str], None] | None) -> list[Any]:
    """The time estimate (when someone listens) and the progress bar (when the config asks for one)."""
    from ..lightning_progress import ProgressBar, TimeEstimate

    out: list[Any] = [] if announce is None else [TimeEstimate(steps, announce)]
    if config.trainer.progress_bar:
        # on a GPU each refresh reads the loss back (a wait): every log_every steps there, every step on a CPU
        gpu = accelerator in ("gpu", "cuda", "mps")
        out.append(ProgressBar(refresh_rate=config.trainer.log_every if gpu else 1))
    return out


def _trainer(config: PretrainConfig, run: Path, callbacks: list[Any], max_steps: int) -> Any:
    """Lightning's Trainer for the run: devices from the config or the launcher, CSV + TensorBoard logs."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    t = config.trainer
    accelerator, devices, num_nodes, precision, strategy = _engine(config)
    trainer = pl.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy, precision=precision,
        max_steps=max_steps, max_epochs=-1, accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=config.optim.grad_clip, callbacks=callbacks,
        logger=[CSVLogger(run, name="logs"), TensorBoardLogger(run, name="tb", version="")],
        log_every_n_steps=t.log_every, use_distributed_sampler=False, enable_progress_bar=t.progress_bar,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=run)
    if trainer.world_size != devices * num_nodes:
        raise RuntimeError(f"trainer world size {trainer.world_size} != {devices * num_nodes} = {devices} devices"
                           f" x {num_nodes}")
    return trainer


def _init_info(run: Path, module: Any, ckpt: Path | None) -> dict[str, Any]:
    """The init report of the run's first start (a resumed start loads no init weights)."""
    if ckpt is not None and (run / "provenance.json").is_file():
        return dict(json.loads((run / "provenance.json").read_text()).get("init", module.init_report.to_dict()))
    return dict(module.init_report.to_dict())


def _provenance(config: PretrainConfig, dm: PretrainData, trainer: Any, init_info: dict[str, Any],
                schedule: dict[str, Any], ckpt: Path | None) -> dict[str, Any]:
    """provenance.json's content: seed, stores, packages, device, init report, schedule, command line."""
    return {"seed": config.seed, "stores": [i.to_dict() for i in dm.info], "packages": _versions(),
            "device": _device_info(trainer), "init": init_info, "schedule": schedule, "command": sys.argv,
            "resumed_from": str(ckpt) if ckpt else None, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _start_folder(run: Path, config: PretrainConfig, provenance: dict[str, Any], resume: bool) -> None:
    """Rank zero, before fit: the run marker, config.yaml (a new run only) and provenance.json."""
    mark_output(run, "pretrain-run")  # creates the folder, typed as a run (s2i.outputs)
    if not resume:
        _write_text(run / "config.yaml", config.to_yaml())
    _write_json(run / "provenance.json", provenance)


def _fit(trainer: Any, module: Any, dm: PretrainData, run: Path, ckpt: Path | None, saved: SavedStep) -> float:
    """``trainer.fit``, the end saved as last.ckpt when it is not on a checkpoint step; the wall seconds.
    A diverged run's error lists the (finite) checkpoints it kept."""
    from .pretrain_module import TrainingDivergedError

    started = time.time()
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
        wall = time.time() - started
        if saved.step != trainer.global_step:
            trainer.save_checkpoint(run / "checkpoints" / "last.ckpt", weights_only=False)  # all ranks; rank 0 writes
    except TrainingDivergedError as e:
        kept = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt")) if (run / "checkpoints").is_dir() else []
        raise TrainingDivergedError(f"{run}: {e}; checkpoints kept, all written before it: "
                                    f"{', '.join(kept) or 'none'}") from None
    return wall


def _write_curve(run: Path, curve: list[tuple[int, float]]) -> None:
    """loss_curve.csv and loss_curve.png."""
    with atomic_path(run / "loss_curve.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss"])
        w.writerows(curve)
    _plot(curve, run / "loss_curve.png")


def _metrics(run: Path, trainer: Any, module: Any, curve: list[tuple[int, float]], throughput: Throughput,
             wall: float, total: int) -> dict[str, Any]:
    """metrics.json's content: losses, steps, throughput and time of this start and of all starts."""
    loss = trainer.callback_metrics.get("train/loss")
    final_loss = float(loss) if loss is not None else module.last_loss
    if final_loss is None:  # resumed a run that had already finished: no step ran in this start
        prev = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
        final_loss = prev.get("final_loss", curve[-1][1] if curve else None)
    return {
        "final_loss": final_loss, "first_loss": curve[0][1] if curve else None,
        "steps": int(trainer.global_step), "total_steps": total,
        "samples_per_s": throughput.per_second, "samples": throughput.samples, "wall_time_s": wall,
        # earlier starts count up to the checkpoint this one resumed from (work after it was done again)
        "total_wall_time_s": wall + throughput.before_s, "total_samples": throughput.total_samples,
        "starts": throughput.starts, "world_size": trainer.world_size,
    }


def _finish(run: Path, trainer: Any, module: Any, config: PretrainConfig, provenance: dict[str, Any],
            metrics: dict[str, Any]) -> None:
    """Rank zero, after fit: the exported encoder, then metrics.json."""
    from ..models import export_encoder

    export_encoder(run / "encoder", module.backbone, config.model.backbone, module.s2i_encoders,
                   backbone_kwargs=config.model.backbone_kwargs,
                   info={"run": str(run), "step": int(trainer.global_step), "final_loss": metrics["final_loss"],
                         "stores": provenance["stores"], "init": provenance["init"]})
    _write_json(run / "metrics.json", metrics)


def pretrain(config: PretrainConfig, data: Sequence[str | Path] | None, out: str | Path, init: str | None = None,
             resume: bool = False, max_steps: int | None = None,
             announce: Callable[[str], None] | None = None) -> Path:
    """Run (or resume) MAE pretraining; returns the run folder (see the module docstring).

    ``data``: store folders (None: ``config.data.stores``). ``init``: overrides ``config.model.init``.
    ``resume``: continue from the run's newest complete checkpoint with the same data order, masks and
    augmentations (a function of (seed, step)); the config must be the one the run was started with.
    ``max_steps``: stop after this many optimizer steps of the schedule (e.g. a test's interruption).
    ``announce``: receives one line with the expected duration, timed over the first steps.
    """
    import lightning.pytorch as pl

    run = Path(out)
    config = _run_config(config, data, init)
    stores = config.data.stores
    claim_output(run, "pretrain-run", [("--data", s) for s in stores])  # before any work: never into an input
    config = resolve_run_persons(config, stores)
    ckpt = _start_checkpoint(run, config, resume)

    t = config.trainer
    accelerator, devices, num_nodes, _, _ = _engine(config)
    world = devices * num_nodes
    pl.seed_everything(config.seed, workers=True, verbose=False)
    dm = PretrainData(stores, config.data, config.encode, config.seed, accumulate=t.accumulate_grad_batches)
    schedule = _schedule(config, dm, world)
    dm.steps = schedule.total
    module = _module(config, dm, schedule, load_init=ckpt is None)

    stop = max_steps if max_steps is not None else schedule.total
    throughput, curve, saved = Throughput(world), LossCurve(t.log_every, run / "logs"), SavedStep()
    callbacks = [_checkpointing(run, t.checkpoint_every), throughput, curve, saved,
                 *_progress_callbacks(config, accelerator, stop, announce)]
    trainer = _trainer(config, run, callbacks, stop)

    prov = _provenance(config, dm, trainer, _init_info(run, module, ckpt), schedule.to_dict(module.lr), ckpt)
    if trainer.is_global_zero:
        _start_folder(run, config, prov, resume)
    wall = _fit(trainer, module, dm, run, ckpt, saved)
    if trainer.is_global_zero:
        _write_curve(run, curve.curve)
        metrics = _metrics(run, trainer, module, curve.curve, throughput, wall, schedule.total)
        _finish(run, trainer, module, config, prov, metrics)
    trainer.strategy.barrier()
    return run
