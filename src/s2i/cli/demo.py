"""``s2i demo [--data PATH] [--out DIR]``: prepare → MAE pretraining → linear, kNN and fine-tuning from 2 labels
per class, of the demo's encoder and of the bundled ``s2i-tiny`` (each pretrained vs its architecture at random
weights) → ``DIR/report.html``, on real motion data, in minutes on a CPU.

With no ``--data`` it uses the humanoid motion clips the pybullet wheel ships (installed by the README's
set-up command), so nothing is downloaded. ``--data`` takes a prepared store or a raw data set folder.
"""

from __future__ import annotations

import argparse

HELP = "the whole method on real motion data in minutes: prepare, pretrain, evaluate, report.html"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, metavar="PATH",
                   help="a prepared store or a raw data set folder (default: pybullet's humanoid motion clips)")
    p.add_argument("--out", default="s2i-demo", metavar="DIR", help="demo folder (default: ./s2i-demo)")
    p.add_argument("--steps", type=int, default=None,
                   help="pretraining steps (default: the recipe's, s2i/recipes/demo_pretrain.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a value of the demo's pretraining config, e.g. --set model.backbone_kwargs.depth=2")
    p.add_argument("--eval-set", action="append", default=[], metavar="KEY=VALUE", dest="eval_overrides",
                   help="override a value of the demo's evaluation recipe (s2i/recipes/demo_eval.yaml), e.g."
                        " --eval-set rows.few-labels.config.seeds=[0]")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo in DIR")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


#: the table's rows: each column's encoder (the demo's own, or the bundled one its title names) and its architecture
#: at random weights
ROW_LABELS = {"pretrained": "pretrained weights", "random": "random weights, same architecture"}


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..demo import INITS, run_demo, wilson_text

    console = Console(soft_wrap=True)  # a log file gets whole lines, not lines cut at 80 columns
    if not console.is_terminal:  # ... and the table's whole width, not the 80 columns rich assumes there
        console = Console(soft_wrap=True, width=max(console.width, 160))
    res = run_demo(args.data, args.out, steps=args.steps, overrides=args.overrides, overwrite=args.overwrite,
                   report=not args.no_report, progress=not args.quiet, log=lambda m: console.print(f"[bold]{m}"),
                   eval_overrides=args.eval_overrides)
    any_r = next(iter(res.results.values()))
    n = int(any_r.num_test_samples or 0)
    table = Table(title=f"s2i demo: {any_r.dataset} {any_r.split}, top-1 % on {n} test sequences"
                        " [95 % Wilson interval]; mean over seeds")
    table.add_column("encoder")
    for key, title in res.titles.items():
        seeds = len(res.results[(key, INITS[0])].seeds or [0])
        table.add_column(f"{title}" + (f" ({seeds} seeds)" if seeds > 1 else ""), justify="right")
    for init in INITS:
        table.add_row(ROW_LABELS[init], *(f"{res.results[(k, init)].top1:.1f} "
                                                 f"{wilson_text(res.results[(k, init)].top1, n)}"
                                                 for k in res.titles))
    console.print(table)
    times = ", ".join(f"{k} {v:.0f} s" for k, v in res.stages.items())
    console.print(f"wall time: {times}")
    if res.report is not None:
        console.print(f"report: {res.report} (open it in a browser)")
    return 0
