"""The ``s2i`` command line: one thin module per command (arguments -> one library call -> a summary).

Each command module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> exit code`` (and ``NAME``
when the command name differs from the module's). Arguments are parsed before anything heavy is imported:
only the chosen command's options are built, and a command imports torch, Lightning and timm inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

#: command modules, in the order ``s2i --help`` lists them
COMMANDS = ("demo", "formats", "encode", "prepare", "inspect_store", "export", "pretrain", "eval", "fuse", "results",
            "report", "models")


def _command(module: str) -> ModuleType:
    return importlib.import_module(f".{module}", __name__)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with the reStructuredText ````literal```` quotes of docstrings shown as plain text,
    and paragraphs whose lines are all indented (lists) kept one entry a line."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(_plain(text))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for block in re.split(r"\n\s*\n", text.strip("\n")):
            lines = block.splitlines()
            if all(line.startswith("  ") for line in lines):
                out += [textwrap.fill(line.strip(), width, initial_indent=indent + "  ",
                                      subsequent_indent=indent + "      ") for line in lines]
            else:
                out.append(super()._fill_text(block, width, indent))
            out.append("")
        return "\n".join(out).rstrip("\n")

    def _expand_help(self, action: argparse.Action) -> str:
        return _plain(super()._expand_help(action))


def _plain(text: str) -> str:
    return re.sub(r"``(.+?)``", r"\1", text, flags=re.S)


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``s2i`` parser; with ``only`` (a command name), the other commands get their help line but no
    options, so parsing one command imports nothing the others need."""
    p = argparse.ArgumentParser(prog="s2i", description="Skeleton-to-Image encoding for skeleton action learning",
                                formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=f"s2i {__version__}")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the output of the libraries underneath (Lightning's device lines and tips, warnings)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        mod = _command(name)
        cmd_name = getattr(mod, "NAME", name)
        cmd = sub.add_parser(cmd_name, help=mod.HELP, description=mod.__doc__, formatter_class=HelpFormatter)
        if only is None or only == cmd_name:
            mod.add_arguments(cmd)
        cmd.set_defaults(func=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s2i`` console script: user errors end in one line and exit code 2."""
    from ..formats import FormatSpecError

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(only=_chosen(argv) or "").parse_args(argv)
    from ..progress import configure_output

    configure_output(verbose=args.verbose)
    try:
        return int(args.func(args))
    except (FormatSpecError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the environment refused (permissions, a file where a folder is expected, disk full)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM during prepare (PrepareInterrupted)
        sig = str(e) or "SIGINT"
        print(f"interrupted ({sig}): stopped; nothing was published and temporary files were removed",
              file=sys.stderr)
        return 143 if sig == "SIGTERM" else 130


if __name__ == "__main__":
    raise SystemExit(main())
