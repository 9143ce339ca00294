"""The ``s2i`` command line: one thin module per command (arguments -> one library call -> a summary).

Each command module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> exit code`` (and ``NAME``
when the command name differs from the module's).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from .. import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

#: command modules, in the order ``s2i --help`` lists them
COMMANDS = ("demo", "formats", "encode", "prepare", "inspect_store", "export", "pretrain", "eval", "fuse", "results",
            "report")


def _command(module: str) -> ModuleType:
    return importlib.import_module(f".{module}", __name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s2i", description="Skeleton-to-Image encoding for skeleton action learning")
    p.add_argument("--version", action="version", version=f"s2i {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        mod = _command(name)
        cmd = sub.add_parser(getattr(mod, "NAME", name), help=mod.HELP, description=mod.__doc__)
        mod.add_arguments(cmd)
        cmd.set_defaults(func=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``s2i`` console script: user errors end in one line and exit code 2."""
    from ..formats import FormatSpecError

    args = build_parser().parse_args(argv)
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
