"""The ``s2i`` command line: thin argument parsing over the library."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__

__all__ = ["main"]


def _cmd_formats(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .formats import PART_NAMES, get_format, list_formats

    console = Console(soft_wrap=True)
    if args.action == "show":
        if not args.name:
            console.print("[red]usage: s2i formats show NAME|PATH[/red]")
            return 2
        spec = get_format(args.name)
        if args.yaml:
            import yaml
            print(yaml.safe_dump(spec.to_dict(), sort_keys=False), end="")
            return 0
        console.print(f"[bold]{spec.name}[/bold] — {spec.description}")
        console.print(f"dims: {spec.dims}   units: {spec.units or '?'}   centre: {', '.join(spec.center)}"
                      f"   aliases: {', '.join(spec.aliases) or '-'}   source: {spec.source}")
        table = Table("#", "joint", "parent", "part")
        part_of = {j: p for p in PART_NAMES for j in spec.parts[p]}
        for i, (j, par) in enumerate(zip(spec.joints, spec.parents)):
            table.add_row(str(i), j, par or "(root)", part_of[j])
        console.print(table)
        console.print("[bold]bones[/bold] (child -> parent): " + ", ".join(
            f"{spec.joints[c]}->{spec.joints[p]}" for c, p in spec.bones))
        console.print("[bold]parts[/bold] (proximal -> distal):")
        for p in PART_NAMES:
            console.print(f"  {p:10s} " + " > ".join(spec.parts[p]))
        if spec.left_right:
            console.print("[bold]left/right[/bold]: " + ", ".join(f"{a}/{b}" for a, b in spec.left_right))
        return 0
    table = Table("name", "joints", "dims", "units", "aliases")
    specs = list_formats()
    for s in specs:
        table.add_row(s.name, str(s.num_joints), str(s.dims), s.units, ", ".join(s.aliases))
    console.print(table)
    console.print(f"{len(specs)} formats; a user format is a YAML file given by path wherever a format name is accepted")
    return 0


def _config_from_args(args: argparse.Namespace) -> Any:
    from .encode import S2IConfig

    opts: dict[str, Any] = dict(height=args.size, width=args.width or args.size, stream=args.stream,
                                persons=args.persons, layout=args.layout, part_resample=args.part_resample,
                                value_range=args.value_range, scale=args.scale)
    if args.no_rotate:
        opts["rotate"] = False
    if args.range_lo is not None:
        opts["range_lo"] = tuple(args.range_lo)
    if args.range_hi is not None:
        opts["range_hi"] = tuple(args.range_hi)
    return S2IConfig(**opts)


def _cmd_encode(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image
    from tqdm import tqdm

    from .atomic import atomic_path
    from .data import collate_sequences
    from .encode import S2IEncoder, estimate_value_range
    from .readers import read_sequence

    cfg = _config_from_args(args)
    out_dir = Path(args.out)
    failures: list[tuple[str, str]] = []
    groups: dict[str, list[Any]] = defaultdict(list)
    for f in tqdm(args.files, desc="read", unit="file", disable=len(args.files) < 20):
        try:
            seq = read_sequence(f, kind=args.reader, fmt=args.format)
            groups[seq.format].append((Path(f), seq))
        except (ValueError, OSError) as e:
            failures.append((str(f), str(e)))
    written = 0
    device = torch.device(args.device)
    report: dict[str, Any] = {"config": cfg.model_dump(), "formats": {}, "written": [], "failed": []}
    for fmt, items in groups.items():
        seqs = [s for _, s in items]
        enc = S2IEncoder(fmt, cfg).to(device)
        if cfg.value_range == "dataset" and cfg.range_lo is None:
            batch = collate_sequences(seqs, cfg.max_persons)
            lo, hi = estimate_value_range(batch.joints, fmt, cfg, lengths=batch.lengths,
                                          confidence=batch.confidence)
            enc.set_value_range(lo, hi)
            report["formats"][fmt] = {"range_lo": lo, "range_hi": hi, "range_from": f"{len(seqs)} input files"}
        for start in tqdm(range(0, len(items), args.batch_size), desc=f"encode {fmt}", unit="batch",
                          disable=len(items) <= args.batch_size):
            chunk = items[start:start + args.batch_size]
            batch = collate_sequences([s for _, s in chunk], cfg.max_persons)
            conf = None if batch.confidence is None else torch.from_numpy(batch.confidence).to(device)
            with torch.no_grad():
                imgs = enc(torch.from_numpy(batch.joints).to(device), torch.from_numpy(batch.lengths), conf)
            imgs = imgs.cpu().numpy()
            for (path, _), img in zip(chunk, imgs):
                target = out_dir / (path.stem + (".png" if args.output == "png" else ".npy"))
                with atomic_path(target, suffix=target.suffix) as tmp:
                    if args.output == "png":
                        rgb = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
                        Image.fromarray(rgb).save(tmp, format="PNG")
                    else:
                        np.save(tmp, img.astype(np.float32))
                written += 1
                report["written"].append(str(target))
    report["failed"] = [{"file": f, "error": e} for f, e in failures]
    if written:
        with atomic_path(out_dir / "encode_report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    print(f"wrote {written} image(s) to {out_dir}")
    if failures:
        print(f"skipped {len(failures)} file(s):", file=sys.stderr)
        for f, e in failures:
            print(f"  {e}", file=sys.stderr)
        return 1
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data.prepare import prepare
    from .datasets import PrepareOptions

    opts = PrepareOptions(format=args.format, missing=args.missing, split_files=tuple(args.split_file or ()),
                          labels=args.labels, split_by=tuple(args.split_by or ()), layout=args.layout,
                          max_persons=args.max_persons)
    res = prepare(args.dataset, args.root, args.out, workers=args.workers, dtype=args.dtype, options=opts,
                  overwrite=args.overwrite, limit=args.limit, progress=not args.quiet)
    rate = res.files / res.seconds if res.seconds else 0.0
    print(f"prepared {res.sequences} sequence(s) from {res.files} file(s) in {res.seconds:.1f} s "
          f"({rate:.1f} files/s) -> {res.store}")
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
        for item, err in res.failed[:20]:
            print(f"  {err}", file=sys.stderr)
        if len(res.failed) > 20:
            print(f"  ... and {len(res.failed) - 20} more", file=sys.stderr)
        return 1
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .atomic import atomic_path
    from .data.inspect import quality_report, report_markdown
    from .data.store import SkeletonStore
    from .formats import get_format

    store = SkeletonStore(args.store)
    rep = quality_report(store)
    try:
        joint_names = list(get_format(store.format).joints)
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


def _cmd_export(args: argparse.Namespace) -> int:
    from .data.store import SkeletonStore
    from .readers.pyskl import write_pyskl

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2i", description="Skeleton-to-Image encoding for skeleton action learning")
    p.add_argument("--version", action="version", version=f"s2i {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("formats", help="list skeleton formats, or show one")
    f.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    f.add_argument("name", nargs="?", help="format name, alias or path to a YAML spec")
    f.add_argument("--yaml", action="store_true", help="print the spec as YAML (a template for your own)")
    f.set_defaults(func=_cmd_formats)

    e = sub.add_parser("encode", help="encode skeleton files to S2I images (PNG or .npy)")
    e.add_argument("files", nargs="+", help="skeleton files (NTU .skeleton, NW-UCLA .json, ...)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--format", help="skeleton format name or YAML path (default: the reader's)")
    e.add_argument("--reader", help="force a reader instead of detecting it from the file")
    e.add_argument("--output", choices=["png", "npy"], default="png")
    e.add_argument("--size", type=int, default=224, help="image height (and width unless --width)")
    e.add_argument("--width", type=int)
    e.add_argument("--stream", choices=["joint", "bone", "motion", "bone_motion"], default="joint")
    e.add_argument("--persons", choices=["stack", "first", "mean"], default="stack")
    e.add_argument("--layout", choices=["parts", "raw", "random"], default="parts")
    e.add_argument("--part-resample", choices=["linear", "nearest", "arclength"], default="linear")
    e.add_argument("--value-range", choices=["dataset", "sequence", "fixed"], default="dataset",
                   help="dataset: robust 1-99%% percentiles over the given files unless --range-lo/hi")
    e.add_argument("--range-lo", type=float, nargs=3)
    e.add_argument("--range-hi", type=float, nargs=3)
    e.add_argument("--scale", action="store_true", help="divide by the mean torso length")
    e.add_argument("--no-rotate", action="store_true", help="skip the 3D view alignment")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    e.set_defaults(func=_cmd_encode)

    from .datasets import SOURCES

    pr = sub.add_parser("prepare", help="raw files of a data set -> a verified store with official splits")
    pr.add_argument("dataset", choices=sorted(SOURCES))
    pr.add_argument("--root", required=True, help="folder of the raw files as downloaded")
    pr.add_argument("--out", required=True, help="store folder to create")
    pr.add_argument("--workers", type=int, default=0, help="reader processes (default: CPU count, at most 8)")
    pr.add_argument("--format", help="skeleton format name or YAML path (npy, folder, mocap sources)")
    pr.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    pr.add_argument("--missing", help="NTU: official missing-skeleton list (default: look in/next to --root)")
    pr.add_argument("--split-file", action="append", help="PKU-MMD: official split list (repeatable)")
    pr.add_argument("--labels", help="CSV of labels (npy / folder sources)")
    pr.add_argument("--split-by", action="append", help="folder: rule NAME:SUBSET=REGEX on file names (repeatable)")
    pr.add_argument("--layout", default="NCTVM", help="npy: array layout (NCTVM, NMTVC, NTVC)")
    pr.add_argument("--max-persons", type=int, help="kinetics-skeleton: people kept per frame")
    pr.add_argument("--limit", type=int, help="only the first N files (a quick trial; skips the count check)")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing store")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=_cmd_prepare)

    ins = sub.add_parser("inspect", help="summary and data-quality report of a prepared store")
    ins.add_argument("store")
    ins.add_argument("--json", action="store_true", help="end with one JSON line: sequences, classes, splits")
    ins.add_argument("--report", help="where to write the Markdown report (default: STORE/quality_report.md)")
    ins.set_defaults(func=_cmd_inspect)

    ex = sub.add_parser("export", help="write a prepared store in another tool's format")
    ex.add_argument("store")
    ex.add_argument("--to", choices=["pyskl"], default="pyskl", help="pyskl: a PYSKL/MMAction2 annotation pickle")
    ex.add_argument("--out", required=True)
    ex.set_defaults(func=_cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s2i`` console script."""
    from .formats import FormatSpecError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FormatSpecError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
