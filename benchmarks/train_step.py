"""Speed of one pretraining step and of the pretraining loop: prints one JSON line.

For each device (the CPU always, a CUDA GPU when there is one):

* ``full_step``: augment + S2I encode on the device + MAE forward/backward + AdamW, on a fixed batch of
  synthetic NTU sequences (100 frames, two persons); ``model_step``: the same with the images made
  beforehand; ``encode_augment``: encoding + augmentation alone, and its share of the full step.
* encoder variants, each timed in the same run: ``encode_eager`` (the library's path), ``encode_compiled``
  (``torch.compile`` of ``MAEPretrainModule.render``, the images from draws made ahead by ``draw``: compile
  time, graph breaks and their causes, images vs eager, or the error; ``encode_images_graph_breaks``: the
  same traced with the draws inside, ``encode_plain_graph_breaks``: the encoder without augmentation),
  ``encode_bf16`` (eager images cast to bf16: what a bf16 model reads; its full step only under bf16
  autocast, i.e. on the GPU), with the full step using each.
* ``loader``: the input pipeline alone (store -> Dataset -> collate -> pinned batch on a GPU, no model) with
  ``--loader-workers`` workers (default: ``--workers``, at least 1): samples/s and samples/s per worker,
  and ``loader_us``: where a worker's time goes per sample, timed in this process (reading + cropping the
  item, collating into shared memory, and handing the batch to the main process: pickling + the first read
  of its pages there).
* ``loop``: the real input pipeline feeding the same step: a synthetic store written once to a temp dir,
  the project's PretrainData / MixedDataset / StepBatchSampler / collate / DataLoader exactly as
  ``s2i pretrain`` builds them (``--workers`` = data.num_workers); ``loop_vs_model`` = loop samples/s over
  the model-only step's.

    python benchmarks/train_step.py                     # CPU: ViT-tiny, 64 px; GPU: ViT-B/16, 224 px, bf16
    python benchmarks/train_step.py --cpu-only --steps 5 --no-compile
    python benchmarks/train_step.py --gpu-only --gpu-backbone vit_base_patch16_224 --gpu-batch 256 --workers 8

On a GPU, ``benchmarks/gpu_feed.py`` runs these measurements for the models of the feed goals in one call.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch

from s2i.encode import estimate_value_range
from s2i.formats import get_format
from s2i.skeleton import SkeletonSequence
from s2i.store import StoreWriter
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.config import PretrainConfig, load_config
from s2i.training.datamodule import PretrainData
from s2i.training.pretrain_module import MAEPretrainModule

#: samples/s one loader worker must deliver: 12 workers >= 3 x the 4,576 samples/s of the 12-block 48 px
#: ViT-Tiny pretraining on an H100 (docs/results.md), i.e. the data path is never what a GPU waits for
LOADER_GOAL_PER_WORKER = 1150


def _module(backbone: str, img: int, patch: int, depth: int | None, decoder: tuple[int, int, int],
            batch: int, joints: torch.Tensor, workers: int = 0) -> MAEPretrainModule:
    sets = [f"encode.height={img}", f"encode.width={img}", f"model.backbone={backbone}", f"model.patch_size={patch}",
            f"model.decoder_dim={decoder[0]}", f"model.decoder_depth={decoder[1]}", f"model.decoder_heads={decoder[2]}",
            "optim.max_steps=1000", "augment.rotate=15", "augment.scale=[0.9, 1.1]", f"data.batch_size={batch}",
            f"data.num_workers={workers}"]
    if depth is not None:
        sets.append(f"model.backbone_kwargs={{depth: {depth}}}")
    cfg = load_config(None, sets)
    lo, hi = estimate_value_range(joints.numpy(), "ntu25", cfg.encode)
    return MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), (lo, hi))}, 1000, 10, batch)


def write_store(path: Path, items: int, frames: int = 100, seed: int = 0) -> Path:
    """A synthetic NTU-like store: ``items`` two-person sequences of about ``frames`` frames (+-20 %)."""
    rng = np.random.default_rng(seed)
    with StoreWriter(path, "ntu25", 3, 25) as w:
        for i in range(items):
            t = int(rng.integers(int(frames * 0.8), int(frames * 1.2) + 1))
            w.append(SkeletonSequence(synthetic_ntu(1, t, 2, seed=seed + i)[0], "ntu25", meta={"label": i % 10}))
        w.finalize({"xsub": {"train": list(range(items))}}, {"num_classes": 10}, {})
    return path


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _graph_breaks() -> dict[str, int]:
    """Dynamo's graph-break counts by reason so far ({} where the counters cannot be read)."""
    try:
        from torch._dynamo.utils import counters
        return {str(k): int(v) for k, v in counters["graph_break"].items()}
    except Exception:  # noqa: BLE001 - a diagnostic only
        return {}


class Bench:
    """One model + optimizer on one device, and the steps the measurements share."""

    def __init__(self, device: torch.device, module: MAEPretrainModule, batch_in: Mapping[str, Any],
                 steps: int) -> None:
        self.device, self.module, self.batch_in, self.steps = device, module, batch_in, steps
        self.amp = device.type == "cuda"
        self.opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
        self.full_s = float("nan")  # the eager full step and its images (eager_figures)
        self.fixed = torch.empty(0)

    def step(self, images: torch.Tensor, k: int) -> None:
        g = torch.Generator().manual_seed(k)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss, _, _ = self.module.mae(images, g)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def timed(self, fn: Callable[[int], Any], steps: int | None = None) -> float:
        """Seconds per call of fn(k), k = 0..steps-1, after one warm-up call fn(-1)."""
        steps = steps or self.steps
        fn(-1)
        _sync(self.device)
        t = time.perf_counter()
        for k in range(steps):
            fn(k)
        _sync(self.device)
        return (time.perf_counter() - t) / steps

    def images(self, k: int, batch: Mapping[str, Any] | None = None) -> torch.Tensor:
        return self.module.images(batch or self.batch_in, torch.Generator().manual_seed(k))


def _explain(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Graph breaks of tracing ``fn(*args)`` with Dynamo (no code generation): count, first line of each cause."""
    import torch._dynamo

    torch._dynamo.reset()
    ex = torch._dynamo.explain(fn)(*args)
    reasons = [b.reason.splitlines()[0][:120] for b in ex.break_reasons]
    return {"breaks": ex.graph_break_count, "reasons": sorted(set(reasons))}


def to_device_batch(batch: Mapping[str, Any], device: torch.device, non_blocking: bool = True) -> dict[str, Any]:
    """The batch's tensors on ``device``, as Lightning moves a batch before the step (non_blocking on a GPU)."""
    return {"formats": {fmt: {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v
                              for k, v in sub.items()} for fmt, sub in batch["formats"].items()},
            "batch": batch["batch"]}


def _compiled(b: Bench, eager_ref: torch.Tensor, full: float) -> dict[str, Any]:
    """torch.compile of module.render (draws made ahead, eagerly, by module.draw): graph breaks and their
    causes, compile time (first call), images vs eager, encode and full step vs eager on the same batch."""
    out: dict[str, Any] = {"encode_compiled_ok": False}
    m = b.module
    try:
        import torch._dynamo

        batch = to_device_batch(b.batch_in, b.device)  # on the device first, as in a Lightning step
        images = _explain(m.images, batch, torch.Generator().manual_seed(0))
        render = _explain(m.render, batch, m.draw(batch, torch.Generator().manual_seed(0)))
        out.update({"encode_images_graph_breaks": images["breaks"],
                    "encode_images_graph_break_reasons": images["reasons"],
                    "encode_compiled_graph_breaks": render["breaks"],
                    "encode_compiled_graph_break_reasons": render["reasons"]})
        (fmt, sub), = batch["formats"].items()
        plain = _explain(m.encoders[fmt], sub["joints"].float(), sub["length"])
        out["encode_plain_graph_breaks"], out["encode_plain_graph_break_reasons"] = plain["breaks"], plain["reasons"]
        torch._dynamo.reset()
        fn = torch.compile(m.render)

        def compiled(k: int) -> torch.Tensor:
            return fn(batch, m.draw(batch, torch.Generator().manual_seed(k)))

        t = time.perf_counter()
        first = compiled(0)
        _sync(b.device)
        out["encode_compile_s"] = round(time.perf_counter() - t, 1)
        out["encode_compiled_max_abs_diff"] = float((first.float() - eager_ref.float()).abs().max())
        eager = b.timed(lambda k: m.images(batch, torch.Generator().manual_seed(k)))
        enc = b.timed(compiled)
        full_dev = b.timed(lambda k: b.step(m.images(batch, torch.Generator().manual_seed(k)), k))
        fullc = b.timed(lambda k: b.step(compiled(k), k))
        n = eager_ref.shape[0]
        out.update({"encode_compiled_ok": True, "encode_compiled_ms": round(enc * 1000, 2),
                    "encode_compiled_vs_eager": round(eager / enc, 3),
                    "encode_compiled_samples_per_s": round(n / enc, 2),
                    "encode_compiled_share": round(enc / fullc, 4),
                    "full_step_compiled_samples_per_s": round(n / fullc, 2),
                    "full_step_compiled_vs_eager": round(full_dev / fullc, 3)})
    except Exception as e:  # noqa: BLE001 - a failed compile is a result, not a crash
        out["encode_compiled_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        out["encode_compiled_traceback_tail"] = traceback.format_exc().splitlines()[-3:]
    return out


@contextmanager
def _as_worker() -> Iterator[None]:
    """Make the collate allocate as it does in a DataLoader worker (into shared memory)."""
    with mock.patch("torch.utils.data.get_worker_info", return_value=object()):
        yield


def loader_profile(loader: torch.utils.data.DataLoader, batches: int = 4) -> dict[str, float]:
    """Microseconds per sample of what a worker does, timed in this process: ``item`` (read + crop one
    sequence), ``collate`` (pad into one shared-memory batch), ``handover`` (pickle it for the main process,
    unpickle and read every byte: its pages mapped there)."""
    ds, collate = loader.dataset, loader.collate_fn
    assert loader.batch_sampler is not None and collate is not None
    keys = list(loader.batch_sampler)[:batches]
    t = {"item": 0.0, "collate": 0.0, "handover": 0.0}
    n = 0
    for b in keys:
        t0 = time.perf_counter()
        items = [ds[k] for k in b]
        t1 = time.perf_counter()
        with _as_worker():
            batch = collate(items)
        t2 = time.perf_counter()
        back = pickle.loads(ForkingPickler.dumps(batch))
        for sub in back["formats"].values():
            sub["joints"].sum()
        t3 = time.perf_counter()
        t["item"] += t1 - t0
        t["collate"] += t2 - t1
        t["handover"] += t3 - t2
        n += len(b)
    out = {k: round(v / n * 1e6, 1) for k, v in t.items()}
    out["batch_mb"] = round(sum(sub["joints"].nbytes for sub in back["formats"].values()) / 1e6, 1)
    return out


def _loader(cfg: PretrainConfig, store: Path, workers: int, pin: bool, batches: int,
            warmup: int = 2, batch_size: int | None = None) -> dict[str, Any]:
    """The input pipeline alone: store -> Dataset -> collate -> (pinned) batch, as s2i pretrain builds it."""
    data = cfg.data.model_copy(update={"num_workers": workers, "batch_size": batch_size or cfg.data.batch_size})
    dm = PretrainData([store], data, cfg.encode, cfg.seed, accumulate=1, pin_memory=pin)
    dm.steps = warmup + batches
    loader = dm.train_dataloader()
    prof = loader_profile(loader)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    n = 0
    t = time.perf_counter()
    for batch in it:
        n += sum(int(sub["length"].shape[0]) for sub in batch["formats"].values())
    dt = time.perf_counter() - t
    del it, loader
    rate = n / dt
    return {"loader_samples_per_s": round(rate, 1), "loader_workers": workers, "loader_pinned": pin,
            "loader_batch": data.batch_size,
            "loader_samples_per_s_per_worker": round(rate / max(workers, 1), 1), "loader_us": prof}


def _loop(b: Bench, store: Path, steps: int, warmup: int = 2, pin: bool | None = None,
          non_blocking: bool | None = None) -> dict[str, Any]:
    """The real pipeline (store -> PretrainData's DataLoader -> images -> step), as ``s2i pretrain`` builds it.

    ``warmup`` steps (worker start-up) are not timed, then ``steps`` are: enough of them that the batches
    the workers prefetched meanwhile (2 per worker) do not hide a loader slower than the step. ``pin``: the
    loader pins its batches (default: on a GPU, as s2i pretrain); ``non_blocking``: each batch is first moved
    to the device as Lightning does (True: a queued copy, False: a waited-for one); None: not moved first
    (the encoder's queued copies move it)."""
    cfg: PretrainConfig = b.module.config
    pin = b.device.type == "cuda" if pin is None else pin
    dm = PretrainData([store], cfg.data, cfg.encode, cfg.seed, accumulate=1, pin_memory=pin)
    dm.steps = warmup + steps

    def feed(batch: Mapping[str, Any]) -> Mapping[str, Any]:
        return batch if non_blocking is None else to_device_batch(batch, b.device, non_blocking)

    loader = dm.train_dataloader()
    it = iter(loader)
    t = time.perf_counter()
    for k in range(warmup):  # worker start-up and the first batches
        b.step(b.images(k, feed(next(it))), k)
    _sync(b.device)
    first = time.perf_counter() - t
    n, half, n_half, t_half = 0, steps // 2, 0, 0.0
    t = time.perf_counter()
    for k, batch in enumerate(it):
        if k == half:  # the second half: past the batches prefetched during the warm-up
            _sync(b.device)
            t_half, n_half = time.perf_counter(), n
        b.step(b.images(k, feed(batch)), k)
        n += sum(int(sub["length"].shape[0]) for sub in batch["formats"].values())
    _sync(b.device)
    end = time.perf_counter()
    del it, loader
    return {"loop_samples_per_s": round(n / (end - t), 2),
            "loop_tail_samples_per_s": round((n - n_half) / max(end - t_half, 1e-9), 2),
            "loop_workers": cfg.data.num_workers, "loop_steps": steps, "loop_warmup_s": round(first, 2),
            "loop_pinned": pin, "loop_non_blocking": non_blocking}


def make_bench(device: torch.device, backbone: str, img: int, patch: int, depth: int | None,
               decoder: tuple[int, int, int], batch: int, steps: int, frames: int = 100,
               workers: int = 0) -> Bench:
    """The model (MAE + S2I encoder, rotation and scale augmentation) on ``device`` and a fixed synthetic batch."""
    torch.manual_seed(0)
    joints = torch.from_numpy(synthetic_ntu(batch, frames, 2, seed=0))
    module = _module(backbone, img, patch, depth, decoder, batch, joints, workers).to(device)
    module.train()
    batch_in = {"formats": {"ntu25": {"joints": joints.pin_memory() if device.type == "cuda" else joints,
                                      "length": torch.full((batch,), frames)}}, "batch": 0}
    return Bench(device, module, batch_in, steps)


def eager_figures(b: Bench, bf16: bool = True) -> dict[str, Any]:
    """Full step, model-only step, encode + augment alone (and its bf16 variant): the eager figures.
    ``encode_added_share``: what encoding adds to a step, (full - model) / full."""
    n = b.batch_in["formats"]["ntu25"]["joints"].shape[0]
    full = b.timed(lambda k: b.step(b.images(k), k))
    fixed = b.images(0).detach()
    model = b.timed(lambda k: b.step(fixed, k))
    encode = b.timed(b.images)
    b.full_s, b.fixed = full, fixed
    m = b.module
    res: dict[str, Any] = {
        "device": (torch.cuda.get_device_name(b.device) if b.device.type == "cuda"
                   else (platform.processor() or "cpu")),
        "threads": torch.get_num_threads(), "backbone": m.config.model.backbone,
        "depth": m.config.model.backbone_kwargs.get("depth"), "img": m.config.encode.height,
        "patch": m.config.model.patch_size,
        "decoder": [m.config.model.decoder_dim, m.config.model.decoder_depth, m.config.model.decoder_heads],
        "batch": n, "frames": int(b.batch_in["formats"]["ntu25"]["joints"].shape[2]), "steps": b.steps,
        "precision": "bf16-mixed" if b.amp else "32",
        "full_step_samples_per_s": round(n / full, 2),
        "model_step_samples_per_s": round(n / model, 2),
        "encode_augment_samples_per_s": round(n / encode, 2),
        "encode_augment_share": round(encode / full, 4),
        "encode_added_share": round((full - model) / full, 4),
        "full_step_ms": round(full * 1000, 1), "model_step_ms": round(model * 1000, 1),
        "encode_augment_ms": round(encode * 1000, 2),
        "encode_eager_ms": round(encode * 1000, 2),
    }
    if not bf16:
        return res
    # bf16 images: the eager images cast once, as a bf16 model would read them
    bf = b.timed(lambda k: b.images(k).to(torch.bfloat16))
    res.update({"encode_bf16_ms": round(bf * 1000, 2),
                "encode_bf16_max_abs_diff": float((fixed.to(torch.bfloat16).float() - fixed).abs().max())})
    if b.amp:  # a bf16 image into an fp32 model outside autocast is a dtype error: GPU (autocast) only
        full_bf16 = b.timed(lambda k: b.step(b.images(k).to(torch.bfloat16), k))
        res.update({"full_step_bf16_samples_per_s": round(n / full_bf16, 2),
                    "full_step_bf16_vs_eager": round(full / full_bf16, 3)})
    return res


def bench(device: torch.device, backbone: str, img: int, patch: int, depth: int | None,
          decoder: tuple[int, int, int], batch: int, steps: int, frames: int = 100, workers: int = 0,
          loop: bool = True, loop_items: int | None = None, loop_steps: int | None = None,
          compile_encoder: bool = True, loader_workers: int | None = None, loader_batch: int | None = None,
          partial: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Time `steps` steps of each measurement (after one warm-up each) on `device`.

    ``partial(res)`` is called with the figures so far after the eager measurements and after the loop, so
    a run cut short by a time limit still leaves them (``--partial`` prints them as JSON lines)."""
    b = make_bench(device, backbone, img, patch, depth, decoder, batch, steps, frames, workers)
    module = b.module
    res = eager_figures(b)
    if partial:
        partial(res)
    if loop or loader_workers is not None:
        with tempfile.TemporaryDirectory(prefix="s2i-bench-") as tmp:
            t = time.perf_counter()
            store = write_store(Path(tmp) / "store", loop_items or max(4 * batch, 256), frames)
            res["loop_store_write_s"] = round(time.perf_counter() - t, 2)
            lw = max(1, workers) if loader_workers is None else loader_workers
            res.update(_loader(module.config, store, lw, device.type == "cuda", max(8, 4 * lw),
                               batch_size=loader_batch))
            res["loader_vs_model"] = round(res["loader_samples_per_s"] / res["model_step_samples_per_s"], 3)
            res["loader_goal_per_worker"] = LOADER_GOAL_PER_WORKER
            if loop:
                res.update(_loop(b, store, loop_steps or max(steps, 8 * workers)))
                res["loop_items"] = loop_items or max(4 * batch, 256)
                res["loop_vs_model"] = round(res["loop_samples_per_s"] / res["model_step_samples_per_s"], 3)
        if partial:
            partial(res)
    if compile_encoder:  # last: a cold compile can take minutes, and a time-boxed run keeps what came before
        res.update(_compiled(b, b.fixed, b.full_s))
    else:
        res["encode_compiled_ok"] = None
        res["encode_compiled_error"] = "skipped (--no-compile)"
    return res


def _triple(s: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in s.split(","))
    return a, b, c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per measurement (GPU: at least 10)")
    p.add_argument("--cpu-backbone", default="vit_tiny_patch16_224")
    p.add_argument("--cpu-img", type=int, default=64)
    p.add_argument("--cpu-patch", type=int, default=8)
    p.add_argument("--cpu-depth", type=int, default=4)
    p.add_argument("--cpu-batch", type=int, default=32)
    p.add_argument("--cpu-decoder", type=_triple, default=(128, 2, 4), help="dim,depth,heads")
    p.add_argument("--gpu-backbone", default="vit_base_patch16_224")
    p.add_argument("--gpu-img", type=int, default=224)
    p.add_argument("--gpu-patch", type=int, default=16)
    p.add_argument("--gpu-depth", type=int, default=None)
    p.add_argument("--gpu-batch", type=int, default=128)
    p.add_argument("--gpu-decoder", type=_triple, default=(512, 8, 16), help="dim,depth,heads")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of the loop (data.num_workers)")
    p.add_argument("--loop-items", type=int, default=None, help="sequences in the loop's store (4 x batch, >= 256)")
    p.add_argument("--loop-steps", type=int, default=None,
                   help="timed steps of the loop (default: max(--steps, 8 x workers), past the prefetched batches)")
    p.add_argument("--loader-workers", type=int, default=None,
                   help="workers of the loader-only measurement (default: --workers, at least 1)")
    p.add_argument("--loader-batch", type=int, default=None,
                   help="batch size of the loader-only measurement (default: the model's batch)")
    p.add_argument("--no-loop", action="store_true", help="skip the loop measurement")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    p.add_argument("--partial", action="store_true",
                   help="also print the figures so far as JSON lines (\"partial\": true) before the slow parts")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cpu-only", action="store_true")
    g.add_argument("--gpu-only", action="store_true", help="skip the CPU measurement (fails without a GPU)")
    a = p.parse_args()
    out: dict[str, Any] = {"benchmark": "train_step", "torch": torch.__version__}

    def partial(where: str) -> Callable[[dict[str, Any]], None]:
        def emit(res: dict[str, Any]) -> None:
            print(json.dumps({**out, where: res, "partial": True}), flush=True)
        return emit

    opts: dict[str, Any] = {"workers": a.workers, "loop": not a.no_loop, "loop_items": a.loop_items,
                            "loop_steps": a.loop_steps, "compile_encoder": not a.no_compile,
                            "loader_workers": a.loader_workers, "loader_batch": a.loader_batch}
    if a.gpu_only and not torch.cuda.is_available():
        raise SystemExit("--gpu-only: no CUDA GPU available")
    out["cpu"] = None if a.gpu_only else bench(torch.device("cpu"), a.cpu_backbone, a.cpu_img, a.cpu_patch,
                                               a.cpu_depth, a.cpu_decoder, a.cpu_batch, a.steps, **opts,
                                               partial=partial("cpu") if a.partial else None)
    if torch.cuda.is_available() and not a.cpu_only:
        out["gpu"] = bench(torch.device("cuda"), a.gpu_backbone, a.gpu_img, a.gpu_patch, a.gpu_depth, a.gpu_decoder,
                           a.gpu_batch, max(a.steps, 10), **opts, partial=partial("gpu") if a.partial else None)
    else:
        out["gpu"] = None
        out["gpu_note"] = "no CUDA GPU available" if not torch.cuda.is_available() else "skipped (--cpu-only)"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
