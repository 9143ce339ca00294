"""``s2i prepare DATASET --root RAW --out STORE``: raw files -> a verified store with official splits."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "raw files of a data set -> a verified store with official splits"


def add_arguments(pr: argparse.ArgumentParser) -> None:
    from ..readers.ntu import DENOISE_MODES
    from ..sources import SOURCES

    pr.add_argument("dataset", choices=sorted(SOURCES), metavar="DATASET",
                    help="the data set, one of those listed below")
    pr.epilog = "data sets:\n\n" + "\n".join(f"  {name}: {SOURCES[name].description}" for name in sorted(SOURCES))
    pr.add_argument("--root", help="folder of the raw files as downloaded (required, except for humanoid-motions:"
                                   " default the installed pybullet_data motions)")
    pr.add_argument("--out", required=True, help="store folder to create")
    pr.add_argument("--workers", type=int, default=0, help="reader processes (default: CPU count, at most 8)")
    pr.add_argument("--format", help="skeleton format name or YAML path (npy, folder, mocap sources)")
    pr.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                    help="how the joints are stored (float16 halves the store)")
    pr.add_argument("--missing", help="NTU: official missing-skeleton list (default: look in/next to --root)")
    pr.add_argument("--denoise", choices=DENOISE_MODES, default="reference",
                    help="NTU: body denoising. reference (default): the frames, actors and actor order of the "
                         "field's scripts (SGN / CTR-GCN get_raw_denoised_data.py); keep-gaps: the same actors at "
                         "their true frame positions, NaN where untracked")
    pr.add_argument("--split-file", action="append", help="PKU-MMD: official split list (repeatable)")
    pr.add_argument("--labels", help="CSV of labels: file,label[,start,end][,subject,view,split,...] (npy / folder /"
                                     " mocap sources); start,end make each row a segment of the file")
    pr.add_argument("--split-by", action="append",
                    help="folder / mocap: rule NAME:SUBSET=REGEX searched in each file NAME (the relative path when"
                         " the regex has a '/'); repeatable; a rule matching no file is an error")
    pr.add_argument("--units", help="folder / mocap: the files' length unit, converted to metres: m, cm, mm, inch or"
                                    " a factor (ASF :units length is honoured)")
    pr.add_argument("--asf", help="mocap: the ASF skeleton of the AMC files (a file, or a folder to search)")
    pr.add_argument("--array-layout", default="NCTVM",
                    help="npy: axis order of the arrays (NCTVM, NMTVC, NTVC); not the image layout of encode")
    pr.add_argument("--max-persons", type=int, help="kinetics-skeleton: people kept per frame")
    pr.add_argument("--limit", type=int, help="only the first N files (a quick trial; skips the count check)")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing store (only ever an s2i store)")
    pr.add_argument("--max-file-mb", type=float, help="per-file cap on bytes read (default 1024; $S2I_MAX_FILE_MB)")
    pr.add_argument("--max-decompressed-mb", type=float,
                    help="per-file cap on bytes a file may expand to (default 2048; $S2I_MAX_DECOMPRESSED_MB)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")


def _value_ranges(store: Any) -> dict[str, Any]:
    """The store's value ranges, added to its statistics; torch is imported only here, at the end."""
    from ..encode import precompute_value_ranges

    return {"value_ranges": precompute_value_ranges(store)}


def run(args: argparse.Namespace) -> int:
    import os

    from ..sources import PrepareOptions
    from ..store.prepare import prepare

    for flag, value, env in (("--max-file-mb", args.max_file_mb, "S2I_MAX_FILE_MB"),
                             ("--max-decompressed-mb", args.max_decompressed_mb, "S2I_MAX_DECOMPRESSED_MB")):
        if value is not None:
            if value <= 0:
                raise ValueError(f"{flag} must be a positive number of MiB")
            os.environ[env] = str(value)  # read by the readers, in the worker processes too
    opts = PrepareOptions(format=args.format, missing=args.missing, split_files=tuple(args.split_file or ()),
                          labels=args.labels, split_by=tuple(args.split_by or ()), layout=args.array_layout,
                          max_persons=args.max_persons, denoise=args.denoise, units=args.units,
                          asf=args.asf)
    res = prepare(args.dataset, args.root, args.out, workers=args.workers, dtype=args.dtype, options=opts,
                  overwrite=args.overwrite, limit=args.limit, progress=not args.quiet,
                  stats_hook=_value_ranges)
    for note in res.notes:
        print(f"note: {note}")
    rate = res.files / res.seconds if res.seconds else 0.0
    print(f"prepared {res.sequences} sequence(s) from {res.files} file(s) in {res.seconds:.1f} s "
          f"({rate:.1f} files/s) -> {res.store}")
    fi = res.frame_index
    if fi:
        print(f"frame indices: {fi['duplicate_frames']} repeated frame(s) dropped (first row kept) in"
              f" {fi['files_with_duplicates']} file(s); {fi['missing_frames']} missing frame(s) in"
              f" {fi['files_with_gaps']} file(s) (details per sequence in meta.jsonl)")
    excluded = {k: v for k, v in res.excluded.items() if not k.startswith("(")}
    if excluded:
        print(f"excluded by design: {len(excluded)} (e.g. {next(iter(excluded.values()))})")
    for k, v in res.excluded.items():
        if k.startswith("("):
            print(f"note: {v}")
    if res.mismatches:
        bar = "!" * 78
        print(f"{bar}\nWARNING: counts differ from the official numbers of {args.dataset}:", file=sys.stderr)
        for m in res.mismatches:
            print(f"  {m}", file=sys.stderr)
        print(bar, file=sys.stderr)
    if res.failed:
        print(f"skipped {len(res.failed)} bad file(s) (listed in {res.store}/report.json):", file=sys.stderr)
        for _, err in res.failed[:20]:
            print(f"  {err}", file=sys.stderr)
        if len(res.failed) > 20:
            print(f"  ... and {len(res.failed) - 20} more", file=sys.stderr)
        return 1
    return 0
