"""``s2i results RUN_DIR...``: one table of many evaluation runs, grouped like a paper table."""

from __future__ import annotations

import argparse

HELP = "print a table (Markdown or CSV) of the results.json of evaluation runs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders (or results.json files) written by s2i eval")
    p.add_argument("--format", choices=["md", "csv"], default="md", help="table format")
    p.add_argument("--runs", dest="list_runs", action="store_true",
                   help="also list every run (test samples, seeds, cached features, wall time, device)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.results import load_results, results_table, runs_table

    results = load_results(args.runs)
    print(results_table(results, args.format), end="")
    if args.list_runs:
        print("\n" + runs_table(results), end="")
    return 0
