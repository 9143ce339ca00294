"""``s2i results RUN_DIR...``: one table of many evaluation runs, grouped like a paper table.

``--save DIR`` keeps small copies of the runs' results.json under DIR (to commit); ``--readme DIR`` prints the
README's short headline table of the runs declared in ``DIR/headline.yaml``, ``--table DIR`` the table of every
copy under DIR (docs/results.md's), both against the published numbers in ``DIR/anchors.yaml``.
"""

from __future__ import annotations

import argparse

HELP = "print a table (Markdown or CSV) of the results.json of evaluation runs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", help="run folders (or results.json files) written by s2i eval")
    p.add_argument("--format", choices=["md", "csv"], default="md", help="table format")
    p.add_argument("--runs", dest="list_runs", action="store_true",
                   help="also list every run (test samples, seeds, cached features, wall time, device, run id, commit)")
    p.add_argument("--save", metavar="DIR", help="copy each run's results.json, trimmed to a small file, to"
                   " DIR/<run folder name>/results.json (never replacing one), e.g. to commit under docs/results/")
    tables = p.add_mutually_exclusive_group()
    tables.add_argument("--readme", metavar="DIR", help="print the README's short headline table: the result folders"
                        " declared in DIR/headline.yaml against random init and DIR/anchors.yaml (no RUN arguments)")
    tables.add_argument("--table", metavar="DIR", help="print the table of every result file below DIR against"
                        " DIR/anchors.yaml, as in docs/results.md (no RUN arguments)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.results import load_results, results_table, runs_table

    if args.readme or args.table:
        flag = "--readme" if args.readme else "--table"
        if args.runs:
            raise ValueError(f"{flag} DIR reads the result files below DIR: give no RUN arguments with it")
        if args.readme:
            from ..evaluation.headline_table import headline_table

            print(headline_table(args.readme), end="")
        else:
            from ..evaluation.headline import all_results_table

            print(all_results_table(args.table), end="")
        return 0
    if not args.runs:
        raise ValueError("give run folders (or results.json files), or --readme DIR, or --table DIR")
    results = load_results(args.runs)
    print(results_table(results, args.format), end="")
    if args.list_runs:
        print("\n" + runs_table(results), end="")
    if args.save:
        from ..evaluation.headline import save_trimmed

        for target in save_trimmed(args.runs, args.save):
            print(f"saved {target}")
    return 0
