"""What s2i prints while it works: every progress bar on stderr, a tqdm bar on a terminal and one whole
line every few seconds in a log file; and, for the command line, the libraries' own chatter (Lightning's
device banners and tips, deprecation warnings) hidden unless ``-v``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import warnings
from typing import IO, Any

__all__ = ["LINE_INTERVAL_S", "LineBar", "configure_output", "is_terminal", "progress_bar", "verbose"]

#: seconds between two progress lines when stderr is not a terminal
LINE_INTERVAL_S = 5.0

#: the loggers whose INFO lines the command line hides by default ("GPU available", tips, "fit stopped")
QUIET_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda", "lightning_utilities.core.rank_zero")

#: warnings of the libraries underneath that a user of the command line cannot act on (hidden unless -v)
QUIET_WARNINGS = (r".*is smaller than the logging interval", r".*does not have many workers",
                  r".*isinstance\(treespec, LeafSpec\)")

_verbose = True  # a library user sees everything; the command line calls configure_output


def verbose() -> bool:
    """Whether the libraries' own output is shown (``-v``, or s2i used as a library)."""
    return _verbose


def configure_output(verbose: bool) -> None:
    """Hide (``verbose=False``) or show the libraries' banners, tips and deprecation warnings. The levels are
    set on Lightning's child loggers, which keep them when Lightning is imported later."""
    global _verbose
    _verbose = verbose
    level = logging.NOTSET if verbose else logging.WARNING
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if not verbose:
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)
        for message in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=message)


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    s = sys.stderr if stream is None else stream
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


class _Lines:
    """A file for tqdm that turns its carriage-return redraws into whole lines (no ``\\r``, no cursor moves)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        for chunk in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)):
            if chunk.strip():
                self.stream.write(chunk.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _tqdm_class() -> type:
    from tqdm import tqdm

    return tqdm


def _line_bar_class() -> type:
    tqdm = _tqdm_class()

    class _LineBar(tqdm):  # type: ignore[misc, valid-type]
        """tqdm for logs: one whole line at most every ``LINE_INTERVAL_S`` seconds, and one at the end."""

        def __init__(self, *args: Any, file: IO[str] | None = None, **kwargs: Any) -> None:
            self._printed_at = -float("inf")
            self._printed_n = 0
            kwargs.update(dynamic_ncols=False, ncols=None, position=None,
                          bar_format="{desc}: {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
            super().__init__(*args, file=_Lines(file or sys.stderr), **kwargs)

        def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
            self.desc = desc or ""  # tqdm would append ": ", which the line format already has
            if refresh:
                self.refresh()

        def display(self, msg: str | None = None, pos: int | None = None) -> bool:
            if msg is not None:  # tqdm clearing its line: nothing to say in a log
                return True
            now = time.monotonic()
            if self.n == 0 or (now - self._printed_at < LINE_INTERVAL_S and not getattr(self, "_final", False)):
                return True
            self._printed_at, self._printed_n = now, self.n
            return bool(super().display(pos=0))

        def close(self) -> None:
            if not self.disable and self.n != self._printed_n:
                self._final = True
                self.display()
            self.leave = False  # the last line is written; tqdm's own close would redraw it
            super().close()

    return _LineBar


LineBar: Any = None  # set on first use (tqdm is imported then)


def progress_bar(iterable: Any = None, *, terminal_class: type | None = None, **kwargs: Any) -> Any:
    """A tqdm bar on stderr: ``terminal_class`` (default tqdm) on a terminal, a :data:`LineBar` otherwise.
    Takes tqdm's arguments; a ``file`` argument is ignored (all progress goes to stderr)."""
    global LineBar
    kwargs.pop("file", None)
    if is_terminal():
        cls = terminal_class or _tqdm_class()
        return cls(iterable, file=sys.stderr, **kwargs)
    if LineBar is None:
        LineBar = _line_bar_class()
    return LineBar(iterable, **kwargs)
