"""``s2i export STORE --to pyskl``: write a prepared store in another tool's format."""

from __future__ import annotations

import argparse

HELP = "write a prepared store in another tool's format"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="a prepared store folder (made by s2i prepare)")
    p.add_argument("--to", choices=["pyskl"], default="pyskl", help="pyskl: a PYSKL/MMAction2 annotation pickle")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (e.g. ntu60.pkl)")


def run(args: argparse.Namespace) -> int:
    from ..readers.pyskl import write_pyskl
    from ..store import SkeletonStore

    store = SkeletonStore(args.store)
    seqs = list(store)
    for s in seqs:
        s.meta.setdefault("name", s.meta.get("source", ""))
    names = [str(s.meta["name"]) for s in seqs]
    split = {f"{name}_{subset}": [names[i] for i in ids]
             for name, parts in store.splits.items() for subset, ids in parts.items()}
    write_pyskl(args.out, seqs, split)
    print(f"wrote {len(seqs)} sequence(s) and {len(split)} split list(s) to {args.out}")
    return 0
