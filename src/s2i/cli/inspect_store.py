"""``s2i inspect STORE``: summary and data-quality report of a prepared store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "inspect"
HELP = "summary and data-quality report of a prepared store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="a prepared store folder (made by s2i prepare)")
    p.add_argument("--json", action="store_true", help="end with one JSON line: sequences, classes, splits")
    p.add_argument("--report", help="where to write the Markdown report (default: STORE/quality_report.md)")
    p.add_argument("--verify", action="store_true",
                   help="re-read all data and check the content hash (exit code 1 on a mismatch)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..atomic import atomic_path
    from ..store import SkeletonStore
    from ..store.quality import quality_report, report_markdown

    store = SkeletonStore(args.store)  # opening checks the structure (sizes, offsets, labels, splits)
    if args.verify:
        res = store.verify()
        mb = res.bytes_read / 2**20
        if not res.ok:
            print(f"error: {store.path}: content hash mismatch: manifest.json says {res.expected}, the data hash to"
                  f" {res.actual} ({mb:.1f} MiB read in {res.seconds:.1f} s); the store is damaged: prepare it again",
                  file=sys.stderr)
            return 1
        print(f"verified: content hash matches ({mb:.1f} MiB read in {res.seconds:.1f} s)")
    rep = quality_report(store)
    try:
        joint_names: list[str] | None = list(store.format_spec.joints)
    except ValueError:
        joint_names = None
    md = report_markdown(rep, joint_names)
    target = Path(args.report) if args.report else store.path / "quality_report.md"
    with atomic_path(target) as tmp:
        tmp.write_text(md)
    if not args.report:
        store.write_json("quality_report.json", rep)
    Console(soft_wrap=True).print(md, markup=False, highlight=False)
    print(f"report written to {target}")
    if args.json:
        print(json.dumps({"sequences": rep["sequences"], "classes": rep["classes"], "splits": rep["splits"]}))
    return 0
