"""Speed of one pretraining step and of the pretraining loop: prints one JSON line.

For each device (the CPU always, a CUDA GPU when there is one):

* ``full_step``: augment + S2I encode on the device + MAE forward/backward + AdamW, on a fixed batch of
  synthetic NTU sequences (100 frames, two persons); ``model_step``: the same with the images made
  beforehand; ``encode_augment``: encoding + augmentation alone, and its share of the full step.
* encoder variants, each timed in the same run: ``encode_eager`` (the library's path), ``encode_compiled``
  (``torch.compile`` of ``MAEPretrainModule.images``: compile time, graph breaks, images vs eager, or the
  error), ``encode_plain_*`` (the encoder without augmentation or draws, eager vs compiled: the gain of
  fusing its kernels once the draws are kept out of the graph), ``encode_bf16`` (eager images cast to
  bf16: what a bf16 model reads; its full step only under bf16 autocast, i.e. on the GPU), with the full
  step using each.
* ``loop``: the real input pipeline feeding the same step: a synthetic store written once to a temp dir,
  the project's PretrainData / MixedDataset / StepBatchSampler / collate / DataLoader exactly as
  ``s2i pretrain`` builds them (``--workers`` = data.num_workers); ``loop_vs_model`` = loop samples/s over
  the model-only step's.

    python benchmarks/train_step.py                     # CPU: ViT-tiny, 64 px; GPU: ViT-B/16, 224 px, bf16
    python benchmarks/train_step.py --cpu-only --steps 5 --no-compile
    python benchmarks/train_step.py --gpu-only --gpu-backbone vit_base_patch16_224 --gpu-batch 256 --workers 8
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


def _compiled(b: Bench, eager_ref: torch.Tensor, full: float) -> dict[str, Any]:
    """torch.compile of module.images: compile time (first call), graph breaks, speed, images vs eager."""
    out: dict[str, Any] = {"encode_compiled_ok": False}
    try:
        import torch._dynamo
        torch._dynamo.reset()
        before = _graph_breaks()
        fn = torch.compile(b.module.images)
        t = time.perf_counter()
        first = fn(b.batch_in, torch.Generator().manual_seed(0))
        _sync(b.device)
        out["encode_compile_s"] = round(time.perf_counter() - t, 1)
        breaks = {k: v - before.get(k, 0) for k, v in _graph_breaks().items() if v > before.get(k, 0)}
        out["encode_compiled_graph_breaks"] = sum(breaks.values())
        out["encode_compiled_graph_break_reasons"] = sorted({k.splitlines()[0][:120] for k in breaks})[:6]
        out["encode_compiled_max_abs_diff"] = float((first.float() - eager_ref.float()).abs().max())
        enc = b.timed(lambda k: fn(b.batch_in, torch.Generator().manual_seed(k)))
        fullc = b.timed(lambda k: b.step(fn(b.batch_in, torch.Generator().manual_seed(k)), k))
        n = eager_ref.shape[0]
        out.update({"encode_compiled_ok": True, "encode_compiled_ms": round(enc * 1000, 2),
                    "encode_compiled_samples_per_s": round(n / enc, 2),
                    "encode_compiled_share": round(enc / fullc, 4),
                    "full_step_compiled_samples_per_s": round(n / fullc, 2),
                    "full_step_compiled_vs_eager": round(full / fullc, 3)})
    except Exception as e:  # noqa: BLE001 - a failed compile is a result, not a crash
        out["encode_compiled_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        out["encode_compiled_traceback_tail"] = traceback.format_exc().splitlines()[-3:]
    return out


def _compiled_plain(b: Bench) -> dict[str, Any]:
    """The encoder without augmentation or random draws (what a CPU generator keeps out of a graph):
    eager vs ``torch.compile`` time, graph breaks and images: how much fusing its kernels would gain."""
    out: dict[str, Any] = {}
    try:
        import torch._dynamo
        (fmt, sub), = b.batch_in["formats"].items()
        enc = b.module.encoders[fmt]
        joints = sub["joints"].to(b.device).float()
        lengths = sub["length"].to(b.device)
        eager = b.timed(lambda k: enc(joints, lengths))
        ref = enc(joints, lengths)
        torch._dynamo.reset()
        before = _graph_breaks()
        fn = torch.compile(enc)
        t = time.perf_counter()
        first = fn(joints, lengths)
        _sync(b.device)
        out["encode_plain_compile_s"] = round(time.perf_counter() - t, 1)
        out["encode_plain_graph_breaks"] = sum(v - before.get(k, 0) for k, v in _graph_breaks().items())
        out["encode_plain_compiled_max_abs_diff"] = float((first - ref).abs().max())
        comp = b.timed(lambda k: fn(joints, lengths))
        out.update({"encode_plain_eager_ms": round(eager * 1000, 2), "encode_plain_compiled_ms": round(comp * 1000, 2),
                    "encode_plain_compiled_vs_eager": round(eager / comp, 3)})
    except Exception as e:  # noqa: BLE001 - a failed compile is a result, not a crash
        out["encode_plain_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    return out


def _loop(b: Bench, items: int, frames: int, steps: int, warmup: int = 2) -> dict[str, Any]:
    """The real pipeline (store -> PretrainData's DataLoader -> images -> step), as ``s2i pretrain`` builds it.

    ``warmup`` steps (worker start-up) are not timed, then ``steps`` are: enough of them that the batches
    the workers prefetched meanwhile (2 per worker) do not hide a loader slower than the step."""
    cfg: PretrainConfig = b.module.config
    with tempfile.TemporaryDirectory(prefix="s2i-bench-") as tmp:
        t = time.perf_counter()
        store = write_store(Path(tmp) / "store", items, frames)
        written = time.perf_counter() - t
        dm = PretrainData([store], cfg.data, cfg.encode, cfg.seed, accumulate=1,
                          pin_memory=b.device.type == "cuda")  # as s2i pretrain's loader on a GPU
        dm.steps = warmup + steps
        loader = dm.train_dataloader()
        it = iter(loader)
        t = time.perf_counter()
        for k in range(warmup):  # worker start-up and the first batches
            batch = next(it)
            b.step(b.images(k, batch), k)
        _sync(b.device)
        first = time.perf_counter() - t
        n = 0
        t = time.perf_counter()
        for k, batch in enumerate(it):
            b.step(b.images(k, batch), k)
            n += sum(int(sub["length"].shape[0]) for sub in batch["formats"].values())
        _sync(b.device)
        loop = time.perf_counter() - t
        del it, loader
    return {"loop_samples_per_s": round(n / loop, 2), "loop_workers": cfg.data.num_workers, "loop_items": items,
            "loop_steps": steps, "loop_warmup_s": round(first, 2), "loop_store_write_s": round(written, 2)}


def bench(device: torch.device, backbone: str, img: int, patch: int, depth: int | None,
          decoder: tuple[int, int, int], batch: int, steps: int, frames: int = 100, workers: int = 0,
          loop: bool = True, loop_items: int | None = None, loop_steps: int | None = None,
          compile_encoder: bool = True,
          partial: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Time `steps` steps of each measurement (after one warm-up each) on `device`.

    ``partial(res)`` is called with the figures so far after the eager measurements and after the loop, so
    a run cut short by a time limit still leaves them (``--partial`` prints them as JSON lines)."""
    torch.manual_seed(0)
    joints = torch.from_numpy(synthetic_ntu(batch, frames, 2, seed=0))
    module = _module(backbone, img, patch, depth, decoder, batch, joints, workers).to(device)
    module.train()
    amp = device.type == "cuda"
    batch_in = {"formats": {"ntu25": {"joints": joints.pin_memory() if amp else joints,
                                      "length": torch.full((batch,), frames)}}, "batch": 0}
    b = Bench(device, module, batch_in, steps)

    full = b.timed(lambda k: b.step(b.images(k), k))
    fixed = b.images(0).detach()
    model = b.timed(lambda k: b.step(fixed, k))
    encode = b.timed(b.images)
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu"),
        "threads": torch.get_num_threads(), "backbone": backbone, "depth": depth, "img": img, "patch": patch,
        "decoder": list(decoder), "batch": batch, "frames": frames, "steps": steps,
        "precision": "bf16-mixed" if amp else "32",
        "full_step_samples_per_s": round(batch / full, 2),
        "model_step_samples_per_s": round(batch / model, 2),
        "encode_augment_samples_per_s": round(batch / encode, 2),
        "encode_augment_share": round(encode / full, 4),
        "full_step_ms": round(full * 1000, 1), "model_step_ms": round(model * 1000, 1),
        "encode_augment_ms": round(encode * 1000, 2),
        "encode_eager_ms": round(encode * 1000, 2),
    }
    # bf16 images: the eager images cast once, as a bf16 model would read them
    bf16 = b.timed(lambda k: b.images(k).to(torch.bfloat16))
    res.update({"encode_bf16_ms": round(bf16 * 1000, 2),
                "encode_bf16_max_abs_diff": float((fixed.to(torch.bfloat16).float() - fixed).abs().max())})
    if amp:  # a bf16 image into an fp32 model outside autocast is a dtype error: GPU (autocast) only
        full_bf16 = b.timed(lambda k: b.step(b.images(k).to(torch.bfloat16), k))
        res.update({"full_step_bf16_samples_per_s": round(batch / full_bf16, 2),
                    "full_step_bf16_vs_eager": round(full / full_bf16, 3)})
    if partial:
        partial(res)
    if loop:
        res.update(_loop(b, loop_items or max(4 * batch, 256), frames, loop_steps or max(steps, 8 * workers)))
        res["loop_vs_model"] = round(res["loop_samples_per_s"] / res["model_step_samples_per_s"], 3)
        if partial:
            partial(res)
    if compile_encoder:  # last: a cold compile can take minutes, and a time-boxed run keeps what came before
        res.update(_compiled(b, fixed, full))
        if partial:
            partial(res)
        res.update(_compiled_plain(b))
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
                            "loop_steps": a.loop_steps, "compile_encoder": not a.no_compile}
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
