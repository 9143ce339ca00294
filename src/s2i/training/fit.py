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
from pathlib import Path
from typing import Any

import torch

from ..models.optim import resolve_device
from ..outputs import claim_output, mark_output
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


def _check_resume_config(run: Path, config: PretrainConfig) -> None:
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    now = yaml.safe_load(config.to_yaml())

    def diff(a: Any, b: Any, prefix: str = "") -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [k for key in sorted(set(a) | set(b)) for k in diff(a.get(key), b.get(key), f"{prefix}{key}.")]
        return [] if a == b else [prefix.rstrip(".")]

    # no effect on the results; the init options only act on a fresh start (a resumed run's weights come from
    # its checkpoint)
    free = ("trainer.progress_bar", "data.num_workers", "data.pin_memory", "model.init_allow_unmatched")
    changed = [k for k in diff(saved, now) if not k.startswith(free)]
    if changed:
        raise ConfigError(f"{run}: --resume with a different config ({', '.join(changed)}); "
                          "resume with the run's own config.yaml or start a new --out")


class _Throughput:
    """Samples/s of the run (shown in the progress bar) and totals for metrics.json.

    The training seconds, samples and starts so far travel in each checkpoint, so a run resumed after a kill
    (no metrics.json written) still reports the time and starts that led to it.
    """

    def __init__(self, world: int) -> None:
        import lightning.pytorch as pl

        outer = self

        class Callback(pl.Callback):
            def on_train_start(self, trainer: Any, pl_module: Any) -> None:
                outer.t0 = outer.last = time.perf_counter()

            def state_dict(self) -> dict[str, Any]:
                return {"train_s": outer.total_train_s, "samples": outer.total_samples, "starts": outer.starts}

            def load_state_dict(self, state_dict: dict[str, Any]) -> None:
                outer.before_s = float(state_dict.get("train_s", 0.0))
                outer.before_samples = int(state_dict.get("samples", 0))
                outer.starts = int(state_dict.get("starts", 0)) + 1

            def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                                   batch_idx: int) -> None:
                n = sum(int(sub["length"].shape[0]) for sub in batch["formats"].values()) * world
                now = time.perf_counter()
                outer.samples += n
                rate = n / max(now - outer.last, 1e-9)
                outer.rate = rate if outer.rate is None else 0.9 * outer.rate + 0.1 * rate
                outer.last = now
                pl_module.log("samples_per_s", torch.tensor(outer.rate), on_step=True, prog_bar=True,
                              batch_size=1)  # a CPU tensor: a Python float would be copied to the GPU, waiting

        self.callback = Callback()
        self.samples, self.t0, self.last = 0, time.perf_counter(), time.perf_counter()
        self.rate: float | None = None
        self.before_s, self.before_samples, self.starts = 0.0, 0, 1  # from the checkpoint resumed from

    @property
    def per_second(self) -> float:
        return self.samples / max(time.perf_counter() - self.t0, 1e-9)

    @property
    def total_train_s(self) -> float:
        """Training seconds of this start and of the earlier ones up to the checkpoint it resumed from."""
        return self.before_s + time.perf_counter() - self.t0

    @property
    def total_samples(self) -> int:
        """Samples of this start and of the earlier ones up to the checkpoint it resumed from."""
        return self.before_samples + self.samples


def _loss_curve(run: Path) -> list[tuple[int, float]]:
    """(step, loss) over all CSV log versions; a later start overrides the steps it repeated."""
    by_step: dict[int, float] = {}
    versions = sorted((run / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    for f in versions:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("train/loss") not in (None, ""):
                    by_step[int(row["step"])] = float(row["train/loss"])
    return sorted(by_step.items())


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


def _write_json(path: Path, data: Any) -> None:
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")


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


def _finish(run: Path, trainer: Any, module: Any, dm: PretrainData, config: PretrainConfig,
            init_info: dict[str, Any], wall: float, throughput: _Throughput, total: int) -> None:
    """Rank zero, after fit: loss curve (CSV + PNG), exported encoder, metrics.json."""
    from ..models import export_encoder

    loss = trainer.callback_metrics.get("train/loss")
    final_loss = float(loss) if loss is not None else module.last_loss
    curve = _loss_curve(run)
    with open(run / "loss_curve.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss"])
        w.writerows(curve)
    _plot(curve, run / "loss_curve.png")
    if final_loss is None:  # resumed a run that had already finished: no step ran in this start
        prev = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
        final_loss = prev.get("final_loss", curve[-1][1] if curve else None)
    metrics = {
        "final_loss": final_loss, "first_loss": curve[0][1] if curve else None,
        "steps": int(trainer.global_step), "total_steps": total,
        "samples_per_s": throughput.per_second, "samples": throughput.samples, "wall_time_s": wall,
        # earlier starts count up to the checkpoint this one resumed from (work after it was done again)
        "total_wall_time_s": wall + throughput.before_s, "total_samples": throughput.total_samples,
        "starts": throughput.starts, "world_size": trainer.world_size,
    }
    export_encoder(run / "encoder", module.backbone, config.model.backbone, module.s2i_encoders,
                   backbone_kwargs=config.model.backbone_kwargs,
                   info={"run": str(run), "step": int(trainer.global_step), "final_loss": final_loss,
                         "stores": [i.to_dict() for i in dm.info], "init": init_info})
    _write_json(run / "metrics.json", metrics)


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
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from .pretrain_module import MAEPretrainModule, TrainingDivergedError
    from .progress_bar import ProgressBar, TimeEstimate

    run = Path(out)
    if init is not None:
        config = config.model_copy(update={"model": config.model.model_copy(update={"init": str(init)})})
    stores = [str(s) for s in (data or config.data.stores)]
    if not stores:
        raise ValueError("no data: pass --data STORE (one or more)")
    config = config.model_copy(update={"data": config.data.model_copy(update={"stores": stores})})
    claim_output(run, "pretrain-run", [("--data", s) for s in stores])  # before any work: never into an input
    config = resolve_run_persons(config, stores)
    ckpt = _resume_checkpoint(run, config) if resume else None
    if not resume and (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("*.ckpt")):
        raise FileExistsError(f"{run} already holds a run: pass --resume to continue it, or another --out")

    t = config.trainer
    accelerator, devices, num_nodes, precision, strategy = _engine(config)
    world = devices * num_nodes

    pl.seed_everything(config.seed, workers=True, verbose=False)
    dm = PretrainData(stores, config.data, config.encode, config.seed, accumulate=t.accumulate_grad_batches)
    o = config.optim
    per_epoch = dm.steps_per_epoch(world)
    total = o.max_steps if o.max_steps is not None else max(1, math.ceil((o.epochs or 1) * per_epoch))
    warmup = o.warmup_steps if o.warmup_steps is not None else int(round(o.warmup_epochs * per_epoch))
    dm.steps = total
    total_batch = config.data.batch_size * world * t.accumulate_grad_batches
    specs = dm.format_specs()
    formats = {name: (specs[name], rng) for name, rng in dm.format_ranges().items()}
    module = MAEPretrainModule(config, formats, total_steps=total, warmup_steps=warmup, total_batch=total_batch,
                               load_init=ckpt is None)
    init_info = module.init_report.to_dict()
    if ckpt is not None and (run / "provenance.json").is_file():  # the first start's report stays the truth
        init_info = json.loads((run / "provenance.json").read_text()).get("init", init_info)

    throughput = _Throughput(world)
    checkpoint = ModelCheckpoint(dirpath=run / "checkpoints", filename="step{step:07d}", auto_insert_metric_name=False,
                                 every_n_train_steps=t.checkpoint_every, save_last=True, save_top_k=1,
                                 enable_version_counter=False)
    callbacks: list[Any] = [checkpoint, throughput.callback]
    if announce is not None:
        callbacks.append(TimeEstimate(max_steps if max_steps is not None else total, announce))
    if t.progress_bar:
        # on a GPU each refresh reads the loss back (a wait): every log_every steps there, every step on a CPU
        gpu = accelerator in ("gpu", "cuda", "mps")
        callbacks.append(ProgressBar(refresh_rate=t.log_every if gpu else 1))
    loggers = [CSVLogger(run, name="logs"), TensorBoardLogger(run, name="tb", version="")]
    trainer = pl.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy, precision=precision,
        max_steps=max_steps if max_steps is not None else total, max_epochs=-1,
        accumulate_grad_batches=t.accumulate_grad_batches, gradient_clip_val=o.grad_clip,
        callbacks=callbacks, logger=loggers, log_every_n_steps=t.log_every, use_distributed_sampler=False,
        enable_progress_bar=t.progress_bar, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, default_root_dir=run)
    if trainer.world_size != world:
        raise RuntimeError(f"trainer world size {trainer.world_size} != {world} = {devices} devices x {num_nodes}")

    started = time.time()
    if trainer.is_global_zero:
        mark_output(run, "pretrain-run")  # creates the folder, typed as a run (s2i.outputs)
        if not resume:
            (run / "config.yaml").write_text(config.to_yaml())
        prov = {
            "seed": config.seed, "stores": [i.to_dict() for i in dm.info], "packages": _versions(),
            "device": _device_info(trainer), "init": init_info,
            "schedule": {"total_steps": total, "warmup_steps": warmup, "steps_per_epoch": per_epoch,
                         "total_batch": total_batch, "peak_lr": module.lr},
            "command": sys.argv, "resumed_from": str(ckpt) if ckpt else None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_json(run / "provenance.json", prov)
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
        wall = time.time() - started
        if checkpoint._last_global_step_saved != trainer.global_step:  # the end, when not on a checkpoint step
            trainer.save_checkpoint(run / "checkpoints" / "last.ckpt", weights_only=False)  # all ranks; rank 0 writes
    except TrainingDivergedError as e:
        kept = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt")) if (run / "checkpoints").is_dir() else []
        raise TrainingDivergedError(f"{run}: {e}; checkpoints kept, all written before it: "
                                    f"{', '.join(kept) or 'none'}") from None

    if trainer.is_global_zero:
        _finish(run, trainer, module, dm, config, init_info, wall, throughput, total)
    trainer.strategy.barrier()
    return run
