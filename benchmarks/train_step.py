"""Speed of one pretraining step: prints one JSON line.

For each device (the CPU always, a CUDA GPU when there is one): samples/s of the full step (augment +
S2I encode on the device + MAE forward/backward + AdamW) and of the model-only step (the same images
made beforehand), and the share of encoding + augmentation in the full step (also timed on its own).

    python benchmarks/train_step.py                     # CPU: ViT-tiny, 64 px; GPU: ViT-B/16, 224 px, bf16
    python benchmarks/train_step.py --cpu-only --steps 5
    python benchmarks/train_step.py --gpu-backbone vit_base_patch16_224 --gpu-batch 256
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import torch

from s2i.encode import estimate_value_range
from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.config import load_config
from s2i.training.pretrain_module import MAEPretrainModule


def _module(backbone: str, img: int, patch: int, depth: int | None, decoder: tuple[int, int, int],
            batch: int, joints: torch.Tensor) -> MAEPretrainModule:
    sets = [f"encode.height={img}", f"encode.width={img}", f"model.backbone={backbone}", f"model.patch_size={patch}",
            f"model.decoder_dim={decoder[0]}", f"model.decoder_depth={decoder[1]}", f"model.decoder_heads={decoder[2]}",
            "optim.max_steps=1000", "augment.rotate=15", "augment.scale=[0.9, 1.1]", f"data.batch_size={batch}"]
    if depth is not None:
        sets.append(f"model.backbone_kwargs={{depth: {depth}}}")
    cfg = load_config(None, sets)
    lo, hi = estimate_value_range(joints.numpy(), "ntu25", cfg.encode)
    return MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), (lo, hi))}, 1000, 10, batch)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(device: torch.device, backbone: str, img: int, patch: int, depth: int | None,
          decoder: tuple[int, int, int], batch: int, steps: int, frames: int = 100) -> dict[str, Any]:
    """Time `steps` full and model-only steps (after one warm-up step each) on `device`."""
    torch.manual_seed(0)
    joints = torch.from_numpy(synthetic_ntu(batch, frames, 2, seed=0))
    module = _module(backbone, img, patch, depth, decoder, batch, joints).to(device)
    module.train()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    amp = device.type == "cuda"
    batch_in = {"formats": {"ntu25": {"joints": joints.pin_memory() if amp else joints,
                                      "length": torch.full((batch,), frames)}}, "batch": 0}

    def step(images: torch.Tensor | None, k: int) -> None:
        g = torch.Generator().manual_seed(k)
        if images is None:
            images = module.images(batch_in, g)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _, _ = module.mae(images, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(fn: Any) -> float:
        fn(-1)  # warm-up
        _sync(device)
        t = time.perf_counter()
        for k in range(steps):
            fn(k)
        _sync(device)
        return (time.perf_counter() - t) / steps

    full = timed(lambda k: step(None, k))
    fixed = module.images(batch_in, torch.Generator().manual_seed(0)).detach()
    model = timed(lambda k: step(fixed, k))
    encode = timed(lambda k: module.images(batch_in, torch.Generator().manual_seed(k)))
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu"),
        "threads": torch.get_num_threads(), "backbone": backbone, "depth": depth, "img": img, "patch": patch,
        "batch": batch, "frames": frames, "precision": "bf16-mixed" if amp else "32",
        "full_step_samples_per_s": round(batch / full, 2),
        "model_step_samples_per_s": round(batch / model, 2),
        "encode_augment_samples_per_s": round(batch / encode, 2),
        "encode_augment_share": round(encode / full, 4),
        "full_step_ms": round(full * 1000, 1), "model_step_ms": round(model * 1000, 1),
        "encode_augment_ms": round(encode * 1000, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--cpu-backbone", default="vit_tiny_patch16_224")
    p.add_argument("--cpu-img", type=int, default=64)
    p.add_argument("--cpu-patch", type=int, default=8)
    p.add_argument("--cpu-depth", type=int, default=4)
    p.add_argument("--cpu-batch", type=int, default=32)
    p.add_argument("--gpu-backbone", default="vit_base_patch16_224")
    p.add_argument("--gpu-img", type=int, default=224)
    p.add_argument("--gpu-patch", type=int, default=16)
    p.add_argument("--gpu-batch", type=int, default=128)
    p.add_argument("--cpu-only", action="store_true")
    a = p.parse_args()
    out: dict[str, Any] = {"benchmark": "train_step", "torch": torch.__version__}
    out["cpu"] = bench(torch.device("cpu"), a.cpu_backbone, a.cpu_img, a.cpu_patch, a.cpu_depth, (128, 2, 4),
                       a.cpu_batch, a.steps)
    if torch.cuda.is_available() and not a.cpu_only:
        out["gpu"] = bench(torch.device("cuda"), a.gpu_backbone, a.gpu_img, a.gpu_patch, None, (512, 8, 16),
                           a.gpu_batch, max(a.steps, 10))
    else:
        out["gpu"] = None
        out["gpu_note"] = "no CUDA GPU available" if not torch.cuda.is_available() else "skipped (--cpu-only)"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
