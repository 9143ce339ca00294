"""``s2i encode FILE... --out DIR`` (or ``--store STORE``): skeleton files -> S2I images (PNG or .npy)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELP = "encode skeleton files to S2I images (PNG or .npy)"


def add_arguments(e: argparse.ArgumentParser) -> None:
    from ..encode import S2IConfig
    from .options import add_model_options

    e.add_argument("files", nargs="*", help="skeleton files (NTU .skeleton, NW-UCLA .json, BVH, AMC, one-frame-a-line"
                                            " .csv/.tsv, .npy (T, V, C) with --format, MediaPipe .csv/.json) or"
                                            " OpenPose --write_json folders")
    e.add_argument("--store", help="encode sequences of a prepared store (with its value ranges) instead")
    e.add_argument("--split", help="with --store: the split (e.g. xsub)")
    e.add_argument("--subset", help="with --store: the subset (e.g. test)")
    e.add_argument("--limit", type=int, default=16, help="with --store: at most this many sequences")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--format", help="skeleton format name or YAML path (default: the reader's)")
    e.add_argument("--reader", help="force a reader instead of detecting it from the file")
    e.add_argument("--output", choices=["png", "npy"], default="png",
                   help="png: 8-bit images to look at; npy: float32 images in [0, 1] to train on")
    e.add_argument("--size", type=int, help="image height and width (unless --height / --width)")
    e.add_argument("--batch-size", type=int, default=64, help="sequences encoded at once (default 64)")
    e.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    add_model_options(e, S2IConfig, group="encoding options (S2IConfig)")


def _check_device(device: str) -> None:
    """A usable torch device, else a ValueError naming --device (no CUDA traceback later)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"--device {device!r}: not a device name ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) present")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu")


@dataclass
class _Inputs:
    """What to encode: named sequences, the files that could not be read, and per format the spec, whether
    it has two-person data, and the value range (with where it came from) when a store gives them."""

    items: list[tuple[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    formats: dict[str, Any] = field(default_factory=dict)
    two_person: dict[str, bool] = field(default_factory=dict)
    ranges: dict[str, Any] = field(default_factory=dict)
    range_source: str = ""


def _config(args: argparse.Namespace) -> Any:
    """The S2IConfig of the command line (``--size`` sets height and width unless they are given)."""
    from ..encode import S2IConfig
    from .options import model_from_args

    flags = {k: "--size" for k in ("height", "width") if args.size is not None and getattr(args, k) is None}
    return model_from_args(S2IConfig, args, flags=flags, height=args.height or args.size,
                           width=args.width or args.size)


def _add_store(inp: _Inputs, args: argparse.Namespace, cfg: Any) -> None:
    """The first ``--limit`` sequences of the store's split, its format, and its value range when asked for."""
    from ..encode import dataset_value_range, store_has_two_person
    from ..store import SkeletonStore

    store = SkeletonStore(args.store)
    inp.formats[store.format] = store.format_spec
    inp.two_person[store.format] = store_has_two_person(store)
    for i in store.split_ids(args.split, args.subset)[: args.limit]:
        seq = store[int(i)]
        inp.items.append((f"{int(i):06d}_{seq.meta.get('name', 'seq')}", seq))
    if cfg.value_range == "dataset" and cfg.range_lo is None:
        inp.ranges[store.format] = dataset_value_range(store, args.split, cfg)
        inp.range_source = f"the statistics of {args.store}"


def _add_files(inp: _Inputs, args: argparse.Namespace) -> None:
    """Each file read under a unique output name; one that cannot be read is a failure, not an error."""
    from ..encode.render import output_names
    from ..progress import progress_bar
    from ..readers import read_input

    names = output_names(args.files)  # two inputs never write the same image (a/x, b/x)
    for f, name in progress_bar(list(zip(args.files, names)), desc="read", unit="file",
                                disable=len(args.files) < 20):
        try:
            inp.items.append((name, read_input(f, kind=args.reader, fmt=args.format)))
        except (ValueError, OSError) as e:
            inp.failures.append((str(f), str(e)))


def _inputs(args: argparse.Namespace, cfg: Any) -> _Inputs:
    """The ``--format`` spec, then the store's sequences, then the files."""
    inp = _Inputs()
    if args.format:
        from ..formats import get_format

        spec = get_format(args.format)
        inp.formats[spec.name] = spec
    if args.store:
        _add_store(inp, args, cfg)
    _add_files(inp, args)
    return inp


def _summary(res: Any, failures: list[tuple[str, str]], out_dir: Path) -> int:
    """Print persons per format, the images written and the files skipped; 1 when any was skipped."""
    for fmt, info in res.ranges.items():
        why = f" (auto: {info['persons_auto']})" if "persons_auto" in info else ""
        print(f"{fmt}: persons={info['persons']}{why}")
    print(f"wrote {len(res.written)} image(s) to {out_dir}")
    if failures:
        print(f"skipped {len(failures)} file(s):", file=sys.stderr)
        for _, message in failures:
            print(f"  {message}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Read the inputs, render their images, write the report beside them and say what was skipped."""
    from ..encode.render import render_images, write_render_report

    cfg = _config(args)
    _check_device(args.device)
    if not args.files and not args.store:
        print("error: give skeleton files or --store STORE", file=sys.stderr)
        return 2
    inp = _inputs(args, cfg)
    out_dir = Path(args.out)
    res = render_images(inp.items, out_dir, cfg, output=args.output, device=args.device, batch_size=args.batch_size,
                        value_ranges=inp.ranges, range_source=inp.range_source, formats=inp.formats,
                        two_person=inp.two_person,
                        persons_source=f"the statistics of {args.store}" if args.store else "")
    if res.written:
        write_render_report(out_dir, cfg, res, inp.failures)
    return _summary(res, inp.failures, out_dir)
