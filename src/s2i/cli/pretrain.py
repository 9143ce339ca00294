"""``s2i pretrain --config CFG --data STORE [--data STORE2 ...] --out RUN``: self-supervised MAE pretraining
on S2I images (S2I.md §8). The same command runs on one CPU, on GPUs, and under ``torchrun`` / ``srun``
on several processes or nodes; ``--resume`` continues a stopped or killed run exactly.
"""

from __future__ import annotations

import argparse
import sys

HELP = "self-supervised MAE pretraining of a ViT on S2I images"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training.config import PretrainConfig
    from .options import config_keys_help

    p.epilog = config_keys_help(PretrainConfig)
    p.add_argument("--config", help="YAML config (configs/*.yaml); with --resume defaults to RUN/config.yaml,"
                   " else the built-in defaults")
    p.add_argument("--data", action="append", default=None, metavar="STORE",
                   help="prepared store (repeat for mixed-format pretraining; default: the config's data.stores)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoints, logs, exported encoder)")
    p.add_argument("--init", metavar="PATH_OR_HUB_NAME",
                   help="vision-pretrained weights: a .pth/.safetensors file, or a timm/HF hub name (online)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value, e.g. --set optim.max_steps=100 (repeatable; YAML values)")
    p.add_argument("--resume", action="store_true", help="continue RUN from its newest complete checkpoint")


def run(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from ..training.config import load_config
    from .options import check_stores

    if not (args.data or args.config or args.resume or args.overrides):
        print("error: s2i pretrain needs data and a run length: --data STORE (a store made by s2i prepare) and"
              " --config CFG (e.g. configs/nwucla_tiny.yaml) or --set optim.max_steps=N; s2i demo runs a small"
              " complete example", file=sys.stderr)
        return 2
    check_stores(args.data)
    config_path = args.config
    if config_path is None and args.resume:
        config_path = str(Path(args.out) / "config.yaml")
    config = load_config(config_path, args.overrides)  # the user's input is checked before torch is imported

    from ..models import WeightsUnavailableError
    from ..training.fit import pretrain

    try:
        out = pretrain(config, args.data, args.out, init=args.init, resume=args.resume,
                       announce=lambda line: print(line, file=sys.stderr, flush=True))
    except WeightsUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metrics_file = out / "metrics.json"
    if os.environ.get("RANK", "0") == "0" and metrics_file.exists():  # one summary line per run, not per process
        m = json.loads(metrics_file.read_text())
        first = f"{m['first_loss']:.4f} -> " if m.get('first_loss') is not None else ""
        print(f"pretrained {m['steps']} steps: loss {first}{m['final_loss']:.4f},"
              f" {m['samples_per_s']:.1f} samples/s, {m['wall_time_s']:.0f} s; encoder in {out / 'encoder'}")
    return 0
