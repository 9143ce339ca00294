"""Screen demo tasks on a validation carve of the demo store's training split (never its test split).

The carve mirrors the demo's cross-view test: the training cameras at 60 and 240 degrees (opposite each
other, like the test cameras 30 and 210) are the validation set, the other four training cameras the
labelled pool. For each encoder (pretrained runs; random init, several init seeds) and each number of
labels per class (drawn from the pool with ``per_class_subset``, several seeds), it scores kNN (``--ks``)
and the linear probe (``--linear-lrs``) on the validation cameras, and prints the mean, the pooled 95 % Wilson
interval, and the interval of the mean on the validation set's size alone (120: the demo's test set has
the same size, so that interval is the one its table would print). ``--run`` also takes a bundled encoder's
name (``s2i-tiny``). The summary compares each pretrained encoder with its random-init encoders (same
architecture) cell by cell: the gap, and whether the two 120-sequence intervals are apart.

    python benchmarks/demo_screen.py --store s2i-demo/store --run mae300=s2i-demo/pretrain --out screen.json
    python benchmarks/demo_screen.py --store s2i-demo/store --run s2i-tiny=s2i-tiny --linear-lrs 0.1,0.03
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2i.evaluation.features import encoder_for_store, load_checkpoint, split_features
from s2i.evaluation.knn import knn_scores
from s2i.evaluation.linear import LinearProbeConfig, train_linear_probe
from s2i.evaluation.metrics import top1_interval, wilson_interval
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
          seed: int, epochs: int, ks: tuple[int, ...] = (1, 5), lrs: tuple[float, ...] = (0.1,),
          ) -> dict[str, torch.Tensor]:
    """Validation predictions of kNN at each k (``knn{k}``) and of the linear probe at each base lr
    (``linear``, or ``linear@{lr}`` when more than one)."""
    votes = knn_scores(train_f, train_y, val_f, ks, num_classes)
    out = {f"knn{k}": votes[k].argmax(1) for k in ks}
    for lr in lrs:
        probe = train_linear_probe(train_f, train_y, val_f, num_classes,
                                   LinearProbeConfig(epochs=epochs, batch_size=64, base_lr=lr), seed)
        out["linear" if len(lrs) == 1 else f"linear@{lr:g}"] = probe.test_scores.argmax(1)
    return out


def _family(protocol: str) -> str:
    """``knn`` or ``linear``: the protocol a cell's setting (k, learning rate) belongs to."""
    return "knn" if protocol.startswith("knn") else "linear"


def separation(cells: list[dict[str, Any]], n_val: int) -> list[dict[str, Any]]:
    """Per pretrained encoder, labels per class and protocol (kNN, linear), each initialisation at its own best
    setting (k, learning rate) on this carve: the pretrained top-1 against the random-init encoders' mean at
    theirs, and whether its 95 % interval on ``n_val`` sequences lies above that of the best random encoder."""
    def best(encs: set[str], lab: int, fam: str) -> tuple[str, float, float]:
        by: dict[str, list[float]] = {}
        for c in cells:
            if c["encoder"] in encs and c["labels_per_class"] == lab and _family(c["protocol"]) == fam:
                by.setdefault(c["protocol"], []).append(c["top1"])
        proto = max(by, key=lambda p: sum(by[p]) / len(by[p]))
        return proto, sum(by[proto]) / len(by[proto]), max(by[proto])

    randoms = {c["encoder"] for c in cells if c["init"] == "random"}
    rows = []
    for enc in dict.fromkeys(c["encoder"] for c in cells if c["init"] == "pretrained"):
        for lab, fam in dict.fromkeys((c["labels_per_class"], _family(c["protocol"])) for c in cells):
            proto, top1, _ = best({enc}, lab, fam)
            r_proto, r_mean, r_best = best(randoms, lab, fam)
            rows.append({"encoder": enc, "labels_per_class": lab, "protocol": proto, "top1": round(top1, 2),
                         "random_protocol": r_proto, "random_mean": round(r_mean, 2), "random_best": r_best,
                         "gap": round(top1 - r_mean, 2), "apart_at_n": n_val,
                         "apart": _interval(top1, n_val)[0] > _interval(r_best, n_val)[1]})
    return rows


def _interval(top1: float, n: int) -> list[float]:
    """The 95 % Wilson interval (in %) of a top-1 % on ``n`` sequences."""
    return [round(x, 1) for x in top1_interval(top1, n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--run", action="append", required=True, metavar="NAME=RUN", help="a pretrained run folder")
    ap.add_argument("--random-seeds", type=int, default=3, help="random-init encoders (init seeds 0..N-1)")
    ap.add_argument("--labels", default="1,2,3,5,16", help="labels per class (16 = the whole pool)")
    ap.add_argument("--subsets", type=int, default=5, help="seeded label subsets per count")
    ap.add_argument("--epochs", type=int, default=60, help="linear probe epochs")
    ap.add_argument("--ks", default="1,5", help="kNN k values")
    ap.add_argument("--linear-lrs", default="0.1", help="linear probe base learning rates (at batch 256)")
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
    ks = tuple(int(k) for k in args.ks.split(","))
    lrs = tuple(float(x) for x in args.linear_lrs.split(","))
    cells = []
    for name, path, init, seed in encoders:
        f = features(path, init, seed, store, split, ids, args.pooling, args.blocks)
        for n_lab in (int(x) for x in args.labels.split(",")):
            hits: dict[str, list[int]] = {}
            for sub in range(args.subsets if n_lab < per_class else 1):
                pick = pool[per_class_subset(labels[pool].numpy(), n_lab / per_class, sub)]
                for proto, pred in score(f[pick], labels[pick], f[val], num_classes, sub, args.epochs, ks,
                                         lrs).items():
                    hits.setdefault(proto, []).append(int((pred == labels[val]).sum()))
            for proto, h in hits.items():
                n = len(val) * len(h)
                lo, hi = wilson_interval(sum(h), n)
                cells.append({"encoder": name, "init": init, "labels_per_class": n_lab, "protocol": proto,
                              "top1": round(100 * sum(h) / n, 2),
                              "per_subset": [round(100 * x / len(val), 2) for x in h],
                              "n": n, "wilson95": [round(100 * lo, 1), round(100 * hi, 1)],
                              "wilson95_of_mean": _interval(100 * sum(h) / n, len(val))})
                c = cells[-1]
                print(f"{name:10s} L={n_lab:2d} {proto:11s} {c['top1']:6.1f} [{c['wilson95'][0]:.1f}-"
                      f"{c['wilson95'][1]:.1f}] n={n}; on {len(val)}: [{c['wilson95_of_mean'][0]:.1f}-"
                      f"{c['wilson95_of_mean'][1]:.1f}] per subset {c['per_subset']}", flush=True)
    sep = separation(cells, len(val))
    print(f"pretrained vs random init, each at its best setting (apart: 95 % intervals on {len(val)} sequences,"
          " against the best random-init encoder, do not overlap):")
    for r in sep:
        print(f"  {r['encoder']:10s} L={r['labels_per_class']:2d} {r['protocol']:11s} {r['top1']:6.1f} vs"
              f" {r['random_protocol']:11s} {r['random_mean']:6.1f} (gap {r['gap']:+.1f})"
              f"{'  APART' if r['apart'] else ''}")
    if args.out:
        doc = {"val_views": VAL_VIEWS, "args": vars(args), "cells": cells, "separation": sep}
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
