"""``s2i fuse RUN_DIR... --out DIR``: a multi-stream ensemble of evaluation runs made apart.

Each ``s2i eval`` run saves its streams' test scores (``scores.safetensors``); this averages their softmax
scores per seed (``--weights``: one per stream, in the order of the runs and their streams) after checking
that the runs scored the same test samples of the same data with the same protocol and seeds, and writes
DIR/results.json like any evaluation (it names the runs it fused).
"""

from __future__ import annotations

import argparse

HELP = "fuse the test scores of evaluation runs made apart (e.g. one stream per job) into one ensemble"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders written by s2i eval (two streams or more in all)")
    p.add_argument("--out", required=True, help="folder for the fused results.json")
    p.add_argument("--weights", default=None, help="comma-separated weight per stream (default: equal)")
    p.add_argument("--method", default=None, help="row label in result tables (default: the first run's)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.fusion import fuse_runs

    weights = None
    if args.weights:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            raise ValueError(f"--weights must be comma-separated numbers, got {args.weights!r}") from None
    res = fuse_runs(args.runs, args.out, weights, args.method)
    agg = res.top1_seeds
    spread = f" ± {agg.std:.2f} over {agg.n} seeds" if agg is not None and agg.n > 1 else ""
    alone = ", ".join(f"{s} {v.top1:.2f}" for s, v in (res.streams or {}).items())
    print(f"{res.protocol} {res.dataset} {res.split} {res.stream} [{res.method}]: top-1"
          f" {res.top1:.2f}{spread}, top-5 {res.top5:.2f} on {res.num_test_samples} test samples"
          f" (alone: {alone}) -> {args.out}/results.json")
    return 0
