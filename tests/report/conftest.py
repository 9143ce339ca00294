"""A tiny demo folder for the report tests: a synthetic limb-action store, a 4-step pretraining run of a
one-block ViT on it, and two linear evaluations (pretrained, random init) below it; built once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers_report import two_format_pair

from s2i.evaluation.config import load_eval_config
from s2i.evaluation.protocols import run_protocol
from s2i.report import write_report
from s2i.testing.actions import write_limb_action_store
from s2i.training.config import load_config
from s2i.training.fit import pretrain

TINY = [
    "encode.height=40", "encode.width=32", "encode.persons=stack", "model.backbone=vit_tiny_patch16_224",
    "model.patch_size=8", "model.backbone_kwargs={depth: 1, embed_dim: 32, num_heads: 2}", "model.decoder_dim=32",
    "model.decoder_depth=1", "model.decoder_heads=2", "data.batch_size=4", "optim.max_steps=4",
    "optim.warmup_steps=1", "optim.base_lr=0.05", "trainer.checkpoint_every=4", "trainer.log_every=1",
    "trainer.progress_bar=false",
]

@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """demo/pretrain (a complete run folder) + demo/eval/linear-{pretrained,random}/results.json."""
    root = tmp_path_factory.mktemp("report")
    store = write_limb_action_store(root / "store", train_per_class=6, test_per_class=3)
    demo = root / "demo"
    run = pretrain(load_config(None, TINY), [store.path], demo / "pretrain")
    for init in ("pretrained", "random"):
        cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "linear.epochs=5", "linear.batch_size=8",
                                      f"init={init}"])
        run_protocol("linear", run, store.path, demo / "eval" / f"linear-{init}", config=cfg, progress=False)
    return demo


@pytest.fixture(scope="session")
def report(demo: Path) -> Path:
    """demo/report.html: the report of the demo folder, with one two-format pair."""
    t0 = time.perf_counter()
    out = write_report(demo, samples=2, progress=False, two_format_pairs=lambda: [two_format_pair()])
    print(f"write_report on the tiny demo: {time.perf_counter() - t0:.1f} s")
    return out
