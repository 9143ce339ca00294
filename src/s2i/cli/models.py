"""``s2i models``: the encoders bundled with s2i (name, size, parameters, training data, results), usable offline
by name: ``s2i eval linear --checkpoint s2i-tiny ...``, ``s2i.load_encoder("s2i-tiny")``. A local folder of the
same name wins over a bundled encoder."""

from __future__ import annotations

import argparse

HELP = "list the encoders bundled with s2i (usable offline by name)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--card", metavar="NAME", help="print the model card (README.md) of bundled encoder NAME")


def _params(weights: object) -> int:
    """Parameters in a safetensors file, from its header (no tensor is read)."""
    from safetensors import safe_open

    n = 0
    with safe_open(str(weights), framework="pt") as f:
        for k in f.keys():  # noqa: SIM118 - not a dict
            size = 1
            for d in f.get_slice(k).get_shape():
                size *= int(d)
            n += size
    return n


def run(args: argparse.Namespace) -> int:
    from ..models.bundled import ROOT, bundle_info, bundled_folder, bundled_names
    from ..models.card import one_line_results

    if args.card:
        print((bundled_folder(args.card) / "README.md").read_text(encoding="utf-8"), end="")
        return 0
    names = bundled_names()
    if not names:
        print(f"no bundled encoders in this installation ({ROOT})")
        return 0
    for name in names:
        folder = ROOT / name
        info = bundle_info(folder) or {}
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        data = ", ".join(f"{d.get('dataset') or d.get('format')} ({d.get('split')}/{d.get('subset')}, {d.get('items')})"
                         for d in info.get("trained_on") or []) or "not recorded"
        print(f"{name}: {size / 1e6:.1f} MB, {_params(folder / 'model.safetensors') / 1e6:.2f} M parameters,"
              f" {info.get('steps', '?')} pretraining steps")
        print(f"  trained on: {data}")
        print(f"  results (top-1 %): {one_line_results(info)}")
        print(f"  card: s2i models --card {name}")
    return 0
