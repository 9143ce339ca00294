"""A tiny synthetic store and a tiny pretraining config, so a run takes seconds on one CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from s2i.skeleton import SkeletonSequence
from s2i.store import StoreWriter
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.config import load_config

TINY = [
    "encode.height=32", "encode.width=32", "model.backbone=vit_tiny_patch16_224", "model.patch_size=8",
    "model.backbone_kwargs={depth: 1, embed_dim: 64, num_heads: 2}", "model.decoder_dim=32",
    "model.decoder_depth=1", "model.decoder_heads=2", "data.batch_size=4", "optim.max_steps=6",
    "optim.warmup_steps=2", "optim.base_lr=0.05", "trainer.checkpoint_every=3", "trainer.log_every=1",
    "trainer.progress_bar=false", "augment.rotate=10", "augment.noise=0.01",
]


def tiny_config(*extra: str):
    return load_config(None, [*TINY, *extra])


def ntu_store(path: Path, n: int = 12, seed: int = 0) -> Path:
    with StoreWriter(path, "ntu25", 3, 25) as w:
        for i in range(n):
            j = synthetic_ntu(1, 20 + 3 * i, 1 + i % 2, seed=seed + i)[0]
            w.append(SkeletonSequence(j, "ntu25", meta={"label": i % 3}))
        w.finalize({"xsub": {"train": list(range(n - 2)), "test": [n - 2, n - 1]}}, {"num_classes": 3}, {})
    return path


def kinect_store(path: Path, fmt: str = "kinect_v1", n: int = 8, seed: int = 100) -> Path:
    """A store in a 20-joint Kinect-v1 order: NTU motion with the first 20 joints (shape only matters)."""
    with StoreWriter(path, fmt, 3, 20) as w:
        for i in range(n):
            j = synthetic_ntu(1, 24 + 2 * i, 1, seed=seed + i)[0][:, :, :20].astype(np.float32)
            w.append(SkeletonSequence(j, fmt, meta={"label": i % 2}))
        w.finalize({"xsub": {"train": list(range(n))}}, {"num_classes": 2}, {})
    return path
