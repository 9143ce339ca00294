"""``s2i formats``: list the skeleton formats, show one (table or YAML), or all as Markdown."""

from __future__ import annotations

import argparse

HELP = "list skeleton formats, or show one"


def add_arguments(f: argparse.ArgumentParser) -> None:
    f.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                   help="list: every format with its joint count (the default); show NAME: one format's joints,"
                        " bones and body parts")
    f.add_argument("name", nargs="?", help="with show: a format name, alias or path to a YAML spec")
    f.add_argument("--yaml", action="store_true", help="print the spec as YAML (a template for your own)")
    f.add_argument("--markdown", action="store_true", help="list every format with its parts as Markdown")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..formats import PART_NAMES, formats_markdown, get_format, list_formats

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
    if args.markdown:
        print(formats_markdown(), end="")
        return 0
    table = Table("name", "joints", "dims", "units", "aliases")
    specs = list_formats()
    for s in specs:
        table.add_row(s.name, str(s.num_joints), str(s.dims), s.units, ", ".join(s.aliases))
    console.print(table)
    console.print(f"{len(specs)} formats; a user format is a YAML file given by path wherever a format name is"
                  " accepted")
    return 0
