"""Zero-shot cross-format: kNN trained on one skeleton format, tested on the same motions in another.

The pybullet humanoid motions are prepared twice, as ``humanoid3d`` (16 joints) and as ``kinect_v1`` (20
joints, another joint order): same clips, cameras and split. One frozen ViT (random init, one seed per run;
optionally also a pretrained run's encoder) embeds the humanoid3d training sequences and the kinect_v1 test
sequences; a cosine kNN on the first classifies the second. No retraining, no per-format branch: only the
S2I layout decides whether the two formats line up. Layouts compared: ``parts`` (body-part bands),
``raw`` (each format's own joint order resized) and ``random`` (a fixed joint permutation). Prints one JSON
line: top-1 per layout (mean ± std over seeds), cross-format and same-format (humanoid3d → humanoid3d).

    python benchmarks/cross_format_zero_shot.py [--seeds 0 1 2] [--pretrained s2i-demo/pretrain] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import s2i
from s2i.encode import S2IConfig, dataset_value_range
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.knn import knn_scores
from s2i.sources import PrepareOptions
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare

SPLIT = "xview"


def _stores(work: Path) -> tuple[SkeletonStore, SkeletonStore]:
    a, b = work / "hm_humanoid3d", work / "hm_kinect_v1"
    if not a.exists():
        prepare("humanoid-motions", None, a, progress=False)
    if not b.exists():
        prepare("humanoid-motions", None, b, options=PrepareOptions(format="kinect_v1"), progress=False)
    return SkeletonStore(a), SkeletonStore(b)


def _top1(train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray, k: int) -> float:
    scores = knn_scores(torch.from_numpy(train), torch.from_numpy(train_y), torch.from_numpy(test), ks=(k,),
                        num_classes=int(max(train_y.max(), test_y.max())) + 1)[k]
    return float((scores.argmax(1).numpy() == test_y).mean() * 100)


def _evaluate(model: Any, src: SkeletonStore, dst: SkeletonStore, k: int) -> dict[str, float]:
    """kNN top-1: humanoid3d train -> kinect_v1 test (cross) and -> humanoid3d test (same format)."""
    tr, te = src.split_ids(SPLIT, "train"), dst.split_ids(SPLIT, "test")
    te_same = src.split_ids(SPLIT, "test")
    base = model.encoder_for("humanoid3d").config
    cfg = S2IConfig(**{**base.model_dump(), "range_lo": None, "range_hi": None})
    dst_range = dataset_value_range(dst, SPLIT, cfg)
    f_tr = model.embed([src[int(i)] for i in tr])
    f_te = model.embed([dst[int(i)] for i in te], value_range=dst_range)
    f_same = model.embed([src[int(i)] for i in te_same])
    return {"cross": _top1(f_tr, src.labels[tr], f_te, dst.labels[te], k),
            "same": _top1(f_tr, src.labels[tr], f_same, src.labels[te_same], k)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--layouts", nargs="+", default=["parts", "raw", "random"])
    ap.add_argument("--k", type=int, default=1, help="kNN k (1: nearest neighbour)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--stream", default="joint", help="joint, bone, motion or bone_motion")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--pretrained", default=None, help="also evaluate this run's encoder (parts layout)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the two stores (default: a temp folder)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    work = a.work or Path(tempfile.mkdtemp(prefix="s2i-zeroshot-"))
    work.mkdir(parents=True, exist_ok=True)
    src, dst = _stores(work)
    out: dict[str, Any] = {"benchmark": "cross_format_zero_shot", "train": "humanoid3d xview train",
                           "test_cross": "kinect_v1 xview test", "test_same": "humanoid3d xview test",
                           "n_train": int(len(src.split_ids(SPLIT, "train"))),
                           "n_test": int(len(dst.split_ids(SPLIT, "test"))), "k": a.k,
                           "encoder": f"vit_tiny_patch16_224 depth {a.depth}, {a.size} px, patch 8", "stream": a.stream,
                           "seeds": a.seeds,
                           "random_init": {}}
    for layout in a.layouts:
        runs = []
        for seed in a.seeds:
            cfg = S2IConfig(height=a.size, width=a.size, layout=layout, layout_seed=seed, stream=a.stream)
            folder = export_random_encoder(work / f"random_{layout}_{seed}", [src], cfg, patch_size=8,
                                           backbone_kwargs={"depth": a.depth}, seed=seed, split=SPLIT)
            runs.append(_evaluate(s2i.load_encoder(folder, device="cpu"), src, dst, a.k))
        out["random_init"][layout] = {
            key: {"mean": round(statistics.mean(r[key] for r in runs), 2),
                  "std": round(statistics.stdev(r[key] for r in runs), 2) if len(runs) > 1 else 0.0}
            for key in ("cross", "same")}
    if a.pretrained:
        out["pretrained"] = {"run": a.pretrained, **_evaluate(s2i.load_encoder(a.pretrained, device="cpu"), src, dst,
                                                               a.k)}
    parts, raw = out["random_init"].get("parts"), out["random_init"].get("raw")
    if parts and raw:
        out["cross_parts_minus_raw"] = round(parts["cross"]["mean"] - raw["cross"]["mean"], 2)
    out["wall_time_s"] = round(time.perf_counter() - t0, 1)
    out["torch"] = torch.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
