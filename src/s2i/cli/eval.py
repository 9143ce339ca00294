"""``s2i eval PROTOCOL --checkpoint RUN --data STORE --out DIR``: one evaluation protocol -> DIR/results.json.

Protocols: linear, knn, finetune, semi, transfer, cross-format (docs/S2I.md 9). The split defaults to the
store's first official split; its train part trains, its test part tests. ``--set init=random`` evaluates
the checkpoint's architecture with random weights (the baseline). Options come from ``--config`` (YAML)
and ``--set key.path=value`` overrides, e.g. ``--set linear.epochs=20 --set streams=[joint,bone]``.
"""

from __future__ import annotations

import argparse

HELP = "run an evaluation protocol (linear, knn, finetune, semi, transfer, cross-format) on a store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..evaluation.config import PROTOCOLS, EvalConfig
    from .options import config_keys_help

    p.epilog = config_keys_help(EvalConfig)

    p.add_argument("protocol", choices=PROTOCOLS, help="the evaluation protocol (docs/S2I.md 9)")
    p.add_argument("--checkpoint", required=True, help="exported encoder folder, a run folder holding encoder/, or"
                   " a bundled encoder's name (s2i models; a local path of that name wins)")
    p.add_argument("--data", required=True, help="prepared store to evaluate on")
    p.add_argument("--out", required=True, help="folder for results.json")
    p.add_argument("--split", default=None, help="split name (default: the store's first official split)")
    p.add_argument("--config", default=None, help="YAML evaluation config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (value parsed as YAML); repeatable")
    p.add_argument("--method", default=None, help="row label in result tables (same as --set method=...)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.config import load_eval_config
    from ..evaluation.protocols import run_protocol
    from ..models.bundled import resolve_encoder
    from .options import check_stores

    check_stores([args.data])
    if not resolve_encoder(args.checkpoint).exists():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such folder (an exported encoder, a run"
                                " folder holding encoder/, or a bundled encoder's name: s2i models)")
    overrides = list(args.overrides) + ([f"method={args.method}"] if args.method else [])
    cfg = load_eval_config(args.config, overrides)
    res = run_protocol(args.protocol, args.checkpoint, args.data, args.out, args.split, cfg, progress=not args.quiet)
    agg = res.top1_seeds
    spread = f" ± {agg.std:.2f} over {agg.n} seeds" if agg is not None and agg.n > 1 else ""
    cached = res.features.cached if res.features is not None else {}
    note = " (cached features)" if cached and all(cached.values()) else ""
    print(f"{res.protocol} {res.dataset} {res.split} {res.stream} [{res.method}]: top-1"
          f" {res.top1:.2f}{spread}, top-5 {res.top5:.2f} on {res.num_test_samples} test samples"
          f" in {res.wall_time_s or 0:.1f} s{note} -> {args.out}/results.json")
    return 0
