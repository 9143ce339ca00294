"""How much of each image channel's 8 bits the S2I value range leaves to the motion, per range rule, in one run.

For each store: a seeded sample of training sequences (never test data) is encoded (the config's stream,
no augmentation) with the data-set range estimated at several percentile pairs of the training values
((0, 100) is min/max; (1, 99) is today's default). Per channel it reports the entropy of the 8-bit histogram
of the images (bits out of 8: how many levels the pixels use over the sample), the standard deviation of the
pixel values within one image (averaged over images: the contrast one image shows the model), and the
fraction of pixels clipped at 0 or 1 by the range. The last line printed is one JSON object.

    python benchmarks/contrast.py --store STORE [--store STORE ...] [--stream joint] [--pairs 0,100 1,99 5,95]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from s2i.encode import S2IConfig, S2IEncoder
from s2i.encode.persons import resolve_persons, store_has_two_person
from s2i.encode.value_range import estimate_value_range
from s2i.skeleton import collate_sequences
from s2i.store import SkeletonStore


def channel_stats(images: torch.Tensor) -> dict[str, list[float]]:
    """Per channel of (N, 3, H, W) images in [0, 1]: 8-bit histogram entropy (bits), mean within-image std,
    clipped fraction."""
    levels = (images * 255).round().to(torch.int64).clamp(0, 255)
    entropy, std, clipped = [], [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(levels[:, c].reshape(-1), minlength=256).double()
        p = counts[counts > 0] / counts.sum()
        entropy.append(round(float(-(p * p.log2()).sum()), 3))
        std.append(round(float(images[:, c].flatten(1).std(dim=1).mean()), 4))
        x = images[:, c]
        clipped.append(round(float(((x <= 0.0) | (x >= 1.0)).double().mean()), 4))
    return {"entropy_bits": entropy, "std": std, "clipped": clipped}


def measure(store_path: str, stream: str, pairs: list[tuple[float, float]], sample: int,
            seed: int) -> dict[str, object]:
    store = SkeletonStore(store_path)
    split = next((n for n, parts in store.splits.items() if "train" in parts), None)
    ids = store.split_ids(split, "train") if split else np.arange(len(store))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(ids, size=min(sample, len(ids)), replace=False))
    cfg = resolve_persons(S2IConfig(stream=stream, height=64, width=64), store_has_two_person(store))
    batch = collate_sequences([store[int(i)] for i in pick], max_persons=cfg.max_persons)
    joints = torch.as_tensor(batch.joints)
    out: dict[str, object] = {"store": store_path, "format": store.format_spec.name, "split": split,
                              "sequences": len(pick), "stream": stream, "ranges": {}}
    for lo_p, hi_p in pairs:
        lo, hi = estimate_value_range(batch.joints, store.format_spec, cfg, lengths=batch.lengths,
                                      confidence=batch.confidence, percentiles=(lo_p, hi_p))
        enc = S2IEncoder(store.format_spec, cfg, range_lo=tuple(lo), range_hi=tuple(hi))
        with torch.no_grad():
            images = enc(joints, torch.as_tensor(batch.lengths),
                         None if batch.confidence is None else torch.as_tensor(batch.confidence))
        out["ranges"][f"{lo_p:g}-{hi_p:g}"] = {"lo": [round(v, 3) for v in lo], "hi": [round(v, 3) for v in hi],
                                               **channel_stats(images)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", action="append", required=True, help="a prepared store (repeatable)")
    ap.add_argument("--stream", default="joint")
    ap.add_argument("--pairs", nargs="+", default=["0,100", "1,99", "5,95"], help="low,high percentiles")
    ap.add_argument("--sample", type=int, default=256, help="training sequences per store")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pairs = [(float(a), float(b)) for a, b in (p.split(",") for p in args.pairs)]
    t0 = time.perf_counter()
    results = [measure(s, args.stream, pairs, args.sample, args.seed) for s in args.store]
    for r in results:
        for name, v in r["ranges"].items():  # type: ignore[attr-defined]
            print(f"{r['format']:>14} {name:>6}: entropy {v['entropy_bits']} bits, image std {v['std']}, "
                  f"clipped {v['clipped']}")
    print(json.dumps({"benchmark": "contrast", "stream": args.stream, "seconds": round(time.perf_counter() - t0, 1),
                      "stores": results}))


if __name__ == "__main__":
    main()
