"""Does the data path keep a GPU fed? One short device call (issue 37), printing one JSON line per measurement.

For ViT-B/16 (224 px, bf16, batch 256) and the 12-block ViT-Tiny of configs/nwucla_gpu.yaml (48 px, patch 8):

* ``eager``: full step, model-only step, encode + augment alone; ``encode_added_share`` = (full - model) / full
  against the goals (<= 1 % for ViT-B/16, <= 3 % for ViT-Tiny);
* ``loader``: the input pipeline alone (store -> Dataset -> collate -> pinned batch) with ``--workers``;
  per worker against >= 1,150 samples/s (12 workers >= 3 x 4,576 samples/s, the ViT-Tiny model's rate);
* ``loop``: loader -> encode -> step with the loader's batches pinned or not, moved to the GPU first with
  ``non_blocking`` True or False (as Lightning does) or not moved first (the encoder's queued copies), side by
  side; ``loop_vs_model`` against >= 0.95, and ``best`` = the variant to make the default;
* ``compiled``: ``torch.compile`` of the images from draws made ahead (graph breaks, compile time, share);
* ``pretrain``: ``s2i pretrain`` end to end for ViT-B/16 (Lightning, workers and start included), samples/s
  against the goal of NTU-60 xsub x 400 epochs in under 2 hours (>= 2,300 samples/s);

then a ``summary`` line. Each part checks the time left (``--budget`` seconds, default 300) and is skipped
past it; a part started near the end may run past it by about a minute.

    PYTHONPATH=src python3 benchmarks/gpu_feed.py --wheels .whl     # a lent GPU (the pydantic wheels carried)
    PYTHONPATH=src python3 benchmarks/gpu_feed.py --dry-run         # the same parts on the CPU, toy sizes

The device machines have no pydantic and no index to install it from: ``--wheels DIR`` installs the wheels of
DIR (pydantic, pydantic-core, annotated-types, typing-inspection, typing-extensions; docs/benchmarks.md says
how to download them) into a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS = {"encode_added_share": {"vit_b16": 0.01, "vit_tiny48": 0.03}, "loop_vs_model": 0.95,
         "loader_per_worker": 1150, "vitb16_samples_per_s": 2300}

#: the two models: (backbone, img, patch, depth, decoder (dim, depth, heads)); toy sizes for --dry-run
MODELS = {"vit_b16": ("vit_base_patch16_224", 224, 16, None, (512, 8, 16)),
          "vit_tiny48": ("vit_tiny_patch16_224", 48, 8, None, (128, 2, 4))}
DRY = {"vit_b16": ("vit_tiny_patch16_224", 32, 8, 1, (32, 1, 2)),
       "vit_tiny48": ("vit_tiny_patch16_224", 32, 16, 1, (32, 1, 2))}


def emit(part: str, **fields: Any) -> dict[str, Any]:
    line = {"part": part, **fields}
    print(json.dumps(line), flush=True)
    return line


def install_wheels(folder: str) -> None:
    """pip-install the wheels of ``folder`` (no index, no dependencies) into a temp dir on sys.path."""
    site = tempfile.mkdtemp(prefix="s2i-wheels-")
    wheels = sorted(str(p) for p in Path(folder).glob("*.whl"))
    if not wheels:
        raise SystemExit(f"--wheels {folder}: no .whl files there")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--target", site, *wheels], check=True)
    sys.path.insert(0, site)
    os.environ["PYTHONPATH"] = os.pathsep.join([site, os.environ.get("PYTHONPATH", "")])  # for the workers


def environment() -> dict[str, Any]:
    import importlib

    out: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for name in ("torch", "timm", "lightning", "pydantic"):
        try:
            out[name] = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError as e:
            out[name] = None
            out[f"{name}_error"] = str(e)
    import torch

    out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="no GPU: every part on the CPU at toy sizes")
    p.add_argument("--wheels", default=None, help="folder of pydantic wheels to install first (see the docstring)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (12 on a GPU, 1 in a dry run)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (10; 1 in a dry run)")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for all parts; later parts are skipped")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile part")
    p.add_argument("--pretrain-steps", type=int, default=None, help="steps of the s2i pretrain part (100; 3 dry)")
    a = p.parse_args()
    start = time.perf_counter()
    if a.wheels:
        install_wheels(a.wheels)
    env = emit("env", **environment())
    if env.get("pydantic") is None:
        raise SystemExit("pydantic is missing here: carry its wheels and pass --wheels DIR (see the docstring)")

    import torch

    from train_step import _compiled, _loader, _loop, eager_figures, make_bench, write_store

    dry = a.dry_run
    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here; pass --dry-run to run the parts on the CPU at toy sizes")
    device = torch.device("cpu" if dry else "cuda")
    workers = a.workers if a.workers is not None else (1 if dry else 12)
    steps = a.steps or (1 if dry else 10)
    batch, frames = (8, 40) if dry else (256, 100)
    left = lambda: a.budget - (time.perf_counter() - start)  # noqa: E731
    summary: dict[str, Any] = {"dry_run": dry, "device": env["gpu"] or "cpu", "workers": workers, "goals": GOALS}

    with tempfile.TemporaryDirectory(prefix="s2i-feed-") as tmp:
        store = write_store(Path(tmp) / "store", 4 * batch, frames)
        for name, (backbone, img, patch, depth, decoder) in (DRY if dry else MODELS).items():
            if left() < 30:
                emit("skipped", model=name, reason="budget spent")
                continue
            b = make_bench(device, backbone, img, patch, depth, decoder, batch, steps, frames, workers)
            eager = emit("eager", model=name, **eager_figures(b, bf16=False))
            row: dict[str, Any] = {k: eager[k] for k in ("full_step_samples_per_s", "model_step_samples_per_s",
                                                          "encode_augment_share", "encode_added_share")}
            loader = emit("loader", model=name, **_loader(b.module.config, store, workers, not dry,
                                                          max(8, 3 * workers)))
            row["loader_samples_per_s_per_worker"] = loader["loader_samples_per_s_per_worker"]
            loops = {}
            for pin in (True, False):
                for nb in (True, False):
                    if left() < 20:
                        break
                    # 4 x workers steps: the second half is past the batches the workers prefetched (2 each)
                    r = _loop(b, store, max(4, 4 * workers), pin=pin, non_blocking=nb)
                    r["loop_vs_model"] = round(r["loop_tail_samples_per_s"] / eager["model_step_samples_per_s"], 3)
                    emit("loop", model=name, **r)
                    loops[f"pin={pin},non_blocking={nb}"] = r["loop_vs_model"]
            if loops:
                row["loop_vs_model"] = loops
                row["best"] = max(loops, key=lambda k: loops[k])
                row["best_samples_per_s"] = round(loops[row["best"]] * eager["model_step_samples_per_s"], 1)
            if not a.no_compile and left() > (60 if dry else 90):
                comp = emit("compiled", model=name, **_compiled(b, b.fixed, b.full_s))
                row.update({k: comp.get(k) for k in ("encode_compiled_graph_breaks", "encode_compile_s",
                                                     "encode_compiled_share", "full_step_compiled_vs_eager")})
            summary[name] = row
            del b
            if device.type == "cuda":
                torch.cuda.empty_cache()
        if left() > 40:
            summary["pretrain"] = pretrain_run(store, Path(tmp) / "run", dry, workers,
                                               a.pretrain_steps or (3 if dry else 100))
    vb = summary.get("vit_b16", {})
    e2e = (summary.get("pretrain") or {}).get("samples_per_s")
    summary["vitb16_end_to_end_samples_per_s"] = e2e
    if e2e:
        summary["ntu60_xsub_400_epochs_hours"] = round(40320 * 400 / e2e / 3600, 2)
    summary["vitb16_loop_best"] = vb.get("best")
    summary["vitb16_loop_best_samples_per_s"] = vb.get("best_samples_per_s")
    summary["total_s"] = round(time.perf_counter() - start, 1)
    emit("summary", **summary)


def pretrain_run(store: Path, out: Path, dry: bool, workers: int, steps: int) -> dict[str, Any]:
    """``s2i pretrain`` of ViT-B/16 (bf16, batch 256, rotation + scale) on the synthetic store: metrics.json."""
    from s2i.training.config import load_config
    from s2i.training.fit import pretrain

    sets = (["encode.height=32", "encode.width=32", "model.patch_size=8", "model.backbone=vit_tiny_patch16_224",
             "model.backbone_kwargs={depth: 1}", "model.decoder_dim=32", "model.decoder_depth=1",
             "model.decoder_heads=2", "data.batch_size=8", "trainer.precision=auto"] if dry else
            ["encode.height=224", "encode.width=224", "model.patch_size=16", "model.backbone=vit_base_patch16_224",
             "trainer.precision=bf16-mixed", "data.batch_size=256"])
    sets += [f"data.num_workers={workers}", f"optim.max_steps={steps}", "optim.warmup_steps=2",
             f"trainer.checkpoint_every={steps}", f"trainer.log_every={max(1, steps // 3)}",
             "trainer.progress_bar=false", "augment.rotate=15", "augment.scale=[0.9, 1.1]"]
    t = time.perf_counter()
    run = pretrain(load_config(None, sets), [store], out)
    metrics = json.loads((run / "metrics.json").read_text())
    return emit("pretrain", wall_s=round(time.perf_counter() - t, 1),
                **{k: metrics.get(k) for k in ("steps", "samples_per_s", "samples", "wall_time_s",
                                               "first_loss", "final_loss")})


if __name__ == "__main__":
    main()
