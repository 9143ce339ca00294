"""``s2i report RUN``: one self-contained HTML page of a pretraining run and its evaluations.

RUN is a pretraining run folder (``s2i pretrain --out``) or a folder holding one as ``pretrain/``; every
``results.json`` below RUN (``s2i eval --out RUN/eval/<protocol>-<init>``) is included. The page embeds its
images, so ``report.html`` alone can be mailed; the image files are also written to ``report_files/``
beside it. Sections whose input is absent say so in a note.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write report.html: S2I images, skeletons, MAE reconstructions, curves, confusion, t-SNE, results"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="pretraining run folder, or a folder holding pretrain/ and evaluation results")
    p.add_argument("--out", default=None, help="the HTML file to write (default: RUN/report.html)")
    p.add_argument("--data", default=None, help="store for the sample sequences and t-SNE features"
                   " (default: the run's first store)")
    p.add_argument("--samples", type=int, default=4, help="test sequences to show (default: 4)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    from ..report import write_report

    out = write_report(Path(args.run), Path(args.out) if args.out else None,
                       data=Path(args.data) if args.data else None, samples=args.samples, progress=not args.quiet)
    print(f"report: {out} (images in {out.with_name(out.stem + '_files')}/)")
    return 0
