"""Screen demo tasks on a validation carve of the demo store's training split (never its test split).

The carve mirrors the demo's cross-view test: the training cameras at 60 and 240 degrees (opposite each
other, like the test cameras 30 and 210) are the validation set, the other four training cameras the
labelled pool. For each encoder (pretrained runs; random init, several init seeds) and each number of
labels per class (drawn from the pool with ``per_class_subset``, several seeds), it scores kNN (k = 1, 5)
and the linear probe on the validation cameras, and prints the mean and the pooled 95 % Wilson interval.

    python benchmarks/demo_screen.py --store s2i-demo/store --run mae300=s2i-demo/pretrain --out screen.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from s2i.evaluation.features import encoder_for_store, load_checkpoint, split_features
from s2i.evaluation.knn import knn_scores
from s2i.evaluation.linear import LinearProbeConfig, train_linear_probe
from s2i.evaluation.metrics import wilson_interval
from s2i.evaluation.subsets import per_class_subset
from s2i.store import SkeletonStore

VAL_VIEWS = ("60", "240")


def features(path: str, init: str, seed: int, store: SkeletonStore, split: str, ids: np.ndarray,
             pooling: str, blocks: int) -> torch.Tensor:
    ckpt = load_checkpoint(path, init, seed)
    enc = encoder_for_store(ckpt, store, split, "joint")
    f, _, _ = split_features(ckpt, enc, store, split, "train", ids, pooling, 128, progress=False, blocks=blocks)
    return f


def score(train_f: torch.Tensor, train_y: torch.Tensor, val_f: torch.Tensor, num_classes: int,
          seed: int, epochs: int) -> dict[str, torch.Tensor]:
    votes = knn_scores(train_f, train_y, val_f, (1, 5), num_classes)
    probe = train_linear_probe(train_f, train_y, val_f, num_classes,
                               LinearProbeConfig(epochs=epochs, batch_size=64), seed)
    return {"knn1": votes[1].argmax(1), "knn5": votes[5].argmax(1), "linear": probe.test_scores.argmax(1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--run", action="append", required=True, metavar="NAME=RUN", help="a pretrained run folder")
    ap.add_argument("--random-seeds", type=int, default=3, help="random-init encoders (init seeds 0..N-1)")
    ap.add_argument("--labels", default="1,2,3,5,16", help="labels per class (16 = the whole pool)")
    ap.add_argument("--subsets", type=int, default=5, help="seeded label subsets per count")
    ap.add_argument("--epochs", type=int, default=60, help="linear probe epochs")
    ap.add_argument("--pooling", default="mean", choices=("mean", "cls"))
    ap.add_argument("--blocks", type=int, default=1, help="frozen features: pooled tokens of the last N blocks")
    ap.add_argument("--out", default=None, help="write every cell as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    store = SkeletonStore(args.store)
    split = next(iter(store.splits))
    ids = store.split_ids(split, "train")
    views = np.array([str(store.meta[int(i)]["view"]) for i in ids])
    val = np.flatnonzero(np.isin(views, VAL_VIEWS))
    pool = np.flatnonzero(~np.isin(views, VAL_VIEWS))
    labels = torch.from_numpy(store.labels[ids].astype(np.int64))
    num_classes = int(labels.max()) + 1
    per_class = int((labels[pool] == labels[pool][0]).sum())
    encoders = [(name, path, "pretrained", 0) for name, path in (r.split("=", 1) for r in args.run)]
    base = encoders[0][1]
    encoders += [(f"random{s}", base, "random", s) for s in range(args.random_seeds)]
    cells = []
    for name, path, init, seed in encoders:
        f = features(path, init, seed, store, split, ids, args.pooling, args.blocks)
        for n_lab in (int(x) for x in args.labels.split(",")):
            hits: dict[str, list[int]] = {}
            for sub in range(args.subsets if n_lab < per_class else 1):
                pick = pool[per_class_subset(labels[pool].numpy(), n_lab / per_class, sub)]
                for proto, pred in score(f[pick], labels[pick], f[val], num_classes, sub, args.epochs).items():
                    hits.setdefault(proto, []).append(int((pred == labels[val]).sum()))
            for proto, h in hits.items():
                n = len(val) * len(h)
                lo, hi = wilson_interval(sum(h), n)
                cells.append({"encoder": name, "init": init, "labels_per_class": n_lab, "protocol": proto,
                              "top1": round(100 * sum(h) / n, 2),
                              "per_subset": [round(100 * x / len(val), 2) for x in h],
                              "n": n, "wilson95": [round(100 * lo, 1), round(100 * hi, 1)]})
                c = cells[-1]
                print(f"{name:10s} L={n_lab:2d} {proto:6s} {c['top1']:6.1f} [{c['wilson95'][0]:.1f}-"
                      f"{c['wilson95'][1]:.1f}] n={n} per subset {c['per_subset']}", flush=True)
    if args.out:
        doc = {"val_views": VAL_VIEWS, "args": vars(args), "cells": cells}
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
