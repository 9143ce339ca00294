"""Progress output (issue 35, item 2): every bar on stderr; in a log, whole lines at most every few seconds
(not a bar redrawn with carriage returns); on a terminal, a tqdm bar."""

import io
import warnings

import pytest
from tqdm import tqdm

import s2i.progress as progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def bar_output(monkeypatch, capsys, interval, n=300, **kwargs):
    monkeypatch.setattr(progress, "LINE_INTERVAL_S", interval)
    bar = progress.progress_bar(total=n, desc="pretrain", unit="step", **kwargs)
    for i in range(n):
        bar.update(1)
        bar.set_postfix(loss=1.0 / (i + 1))
    bar.close()
    return capsys.readouterr()


def test_log_gets_whole_lines_on_stderr_not_a_redrawn_bar(monkeypatch, capsys):
    out = bar_output(monkeypatch, capsys, interval=3600.0)
    assert out.out == ""
    assert "\r" not in out.err and "\x1b" not in out.err
    lines = out.err.splitlines()
    assert lines == [lines[0], lines[-1]] and len(lines) == 2  # the first update, then the end (interval not up)
    assert lines[0].startswith("pretrain: 1/300") and lines[-1].startswith("pretrain: 300/300")
    assert "loss=0.00333" in lines[-1]


def test_log_lines_follow_the_interval(monkeypatch, capsys):
    every = bar_output(monkeypatch, capsys, interval=0.0, n=20).err.splitlines()
    assert [line.split()[1] for line in every] == [f"{i}/20" for i in range(1, 21)]


def test_bar_that_does_not_leave_still_ends_with_its_last_line(monkeypatch, capsys):
    lines = bar_output(monkeypatch, capsys, interval=3600.0, n=7, leave=False).err.splitlines()
    assert lines[-1].startswith("pretrain: 7/7")


def test_disabled_bar_prints_nothing(monkeypatch, capsys):
    assert bar_output(monkeypatch, capsys, interval=0.0, disable=True).err == ""


def test_terminal_gets_a_tqdm_bar_on_stderr(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = progress.progress_bar(total=3, desc="x", file=io.StringIO())  # a file argument is not honoured
    assert type(bar) is tqdm
    bar.update(3)
    bar.close()
    assert "\r" in term.getvalue() and "3/3" in term.getvalue()


@pytest.fixture
def restore_output():
    import logging

    levels = {n: logging.getLogger(n).level for n in progress.QUIET_LOGGERS}
    yield
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)
    progress.configure_output(verbose=True)


def test_quiet_hides_library_chatter_and_verbose_restores_it(restore_output):
    import logging

    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        progress.configure_output(verbose=False)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", DeprecationWarning, stacklevel=1)
        warnings.warn("The number of training batches (3) is smaller than the logging interval", UserWarning,
                      stacklevel=1)
        warnings.warn("a real problem", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["a real problem"]
    assert not log.isEnabledFor(logging.INFO) and log.isEnabledFor(logging.WARNING)
    progress.configure_output(verbose=True)
    assert progress.verbose() and log.getEffectiveLevel() == logging.getLogger("lightning.pytorch").getEffectiveLevel()
