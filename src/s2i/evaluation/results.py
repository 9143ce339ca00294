"""``results.json``: one self-describing file per evaluation run, and the tables built from many.

Every run records what is needed to reproduce and to judge it: protocol, metrics, seeds (and mean ±
std when several), data set, split, stream(s), hyper-parameters, config, data and checkpoint hashes,
package versions, the git commit of the code that ran, device, wall time and a run id.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import platform
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from .metrics import interval_text, mean_std
from .record import RESULTS_FILE, RunRecord, load_record, write_record

__all__ = ["RESULTS_FILE", "Pooled", "RunRecord", "check_distinct", "environment", "file_sha256", "git_state",
           "load_results", "mean_std", "new_run_id", "pool_top1", "results_table", "seeds_varied", "runs_table",
           "write_results"]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """``sha256:<hex>`` of a file's bytes (checkpoints, exported encoders)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def git_state(source: str | Path | None = None) -> dict[str, Any] | None:
    """The git commit of the s2i source that ran and whether its tracked files differ from it (``dirty``).

    The repository is the one holding the imported package's source (``source``: default this package's
    folder), not the working directory: a run started from another project's checkout still records the
    code that computed it. None when that source is not tracked by git (a wheel install) or git is absent:
    a run never fails for it. Untracked files do not make the tree dirty (run outputs often sit in it).
    """
    folder = Path(source) if source is not None else Path(__file__).resolve().parent.parent
    try:
        if not _git(folder, "ls-files", "--", "__init__.py"):  # the package itself must be tracked here
            return None
        commit = _git(folder, "rev-parse", "HEAD")
        dirty = bool(_git(folder, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def new_run_id() -> str:
    """A fresh id for one evaluation run (uuid4 hex): ``s2i results`` refuses to pool a run with itself."""
    return uuid.uuid4().hex


def environment() -> dict[str, Any]:
    """Package versions and the device the run used (the code's commit: :func:`git_state`)."""
    import numpy

    versions = {"s2i": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
                "python": platform.python_version()}
    for name in ("timm", "lightning", "torchmetrics"):
        with contextlib.suppress(ImportError):
            versions[name] = __import__(name).__version__
    cpu = f"cpu ({_cpu_model()}, {os.cpu_count()} logical cores)"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu
    return {"versions": versions, "device": device, "host": platform.node(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_results(out_dir: str | Path, result: RunRecord | Mapping[str, Any]) -> Path:
    """Write ``out_dir/results.json`` atomically: a :class:`RunRecord`, or a mapping validated as one first
    (missing required fields are one error naming them)."""
    if not isinstance(result, RunRecord):
        missing = [k for k, f in RunRecord.model_fields.items() if f.is_required() and k not in result]
        if missing:
            raise ValueError(f"a result needs {missing}")
        result = RunRecord.model_validate(dict(result))
    return write_record(out_dir, result)


def load_results(paths: Sequence[str | Path]) -> list[RunRecord]:
    """Read results.json files (a run folder or the file itself); errors name the file."""
    return [load_record(p) for p in paths]


def _where(r: RunRecord) -> str:
    return str(r.path) if r.path is not None else "a results record"


def check_distinct(results: list[RunRecord]) -> None:
    """Refuse a table that would count one evaluation twice: the same run (its ``run_id``; for files written
    before run ids, the same bytes), e.g. a copied run folder, or two runs in one cell that evaluated the same
    seed of the same checkpoint on the same data (the same evaluation run again). Pooling either would shrink
    the std and double the apparent number of runs; the error names both files so the user passes one."""
    seen: dict[str, str] = {}
    for r in results:
        rid = r.run_id or r.sha256 or ""
        if rid and rid in seen:
            raise ValueError(f"{_where(r)} is the same run as {seen[rid]} (run id {rid[:12]}): a copy counts"
                             " once, pass each run once")
        if rid:
            seen[rid] = _where(r)
    evaluated: dict[tuple[str, ...], str] = {}
    for r in results:
        if not r.checkpoint_hash:
            continue  # an old file that does not say what it evaluated: only its run id / bytes can be compared
        for seed in r.seed_list:
            key = (str(r.method or r.init), _column(r), str(r.checkpoint_hash), r.content_hash, str(seed))
            if key in evaluated:
                raise ValueError(f"{_where(r)} and {evaluated[key]} both evaluate seed {seed} of checkpoint"
                                 f" {str(r.checkpoint_hash)[:19]} in '{key[1]}': the same evaluation twice would"
                                 " be pooled as two; pass one of them")
            evaluated[key] = _where(r)


def _checkpoint(r: RunRecord) -> str:
    """What identifies the pretraining a run evaluated (its checkpoint hash; the file for old results)."""
    return str(r.checkpoint_hash or r.path or id(r))


def _interval(top1: float, n: int | None) -> str:
    """`` [lo–hi]``: the 95 % Wilson interval of a top-1 % on ``n`` test samples ("" when n is unknown)."""
    text = interval_text(top1, n)
    return f" [{text}]" if text else ""


@dataclass(frozen=True)
class Pooled:
    """The top-1 of runs that share a table cell: mean and std over every seed of every run, the number of
    seeds, the test samples ``n``, the number of runs and of distinct checkpoints (pretrainings)."""

    mean: float
    std: float
    seeds: int
    n: int | None
    runs: int
    checkpoints: int


def pool_top1(runs: list[RunRecord]) -> Pooled:
    """:class:`Pooled` of the runs of one cell (a one-seed run that kept only its mean ± std: that)."""
    top1s = [v for r in runs for v in r.seed_top1s]
    agg = mean_std(top1s)
    own = runs[0].top1_seeds  # a run that kept only its mean ± std, not each seed
    if len(runs) == 1 and len(top1s) == 1 and own is not None and own.n > 1:
        agg = {"mean": own.mean, "std": own.std, "n": own.n}
    return Pooled(agg["mean"], agg["std"], int(agg["n"]), runs[0].num_test_samples, len(runs),
                  len({_checkpoint(r) for r in runs}))


def seeds_varied(pooled: Pooled) -> str:
    """What the spread of a pooled cell is over: "" for one seed, "3 seeds, 1 checkpoint" (probe or fine-tune
    seeds of one pretraining) or "3 runs: 3 checkpoints, 3 seeds" (the pretraining varies too)."""
    k, seeds = pooled.checkpoints, pooled.seeds
    if pooled.runs > 1:
        return f"{pooled.runs} runs: {k} checkpoint{'s' * (k > 1)}, {seeds} seeds"
    return f"{seeds} seeds, 1 checkpoint" if seeds > 1 else ""


def _pooled_cell(runs: list[RunRecord], with_n: bool = False) -> str:
    """Mean ± std over every seed of every run in the cell, its 95 % Wilson interval on the test samples, and
    what varied (:func:`seeds_varied`), so a table of seeded runs is neither silently the last one nor a
    spread that looks smaller than it is."""
    pooled = pool_top1(runs)
    text = f"{pooled.mean:.1f}" + (f" ± {pooled.std:.1f}" if pooled.seeds > 1 else "") + _interval(pooled.mean,
                                                                                                   pooled.n)
    if with_n and pooled.n:
        text += f" n={pooled.n}"
    varied = seeds_varied(pooled)
    return text + (f" ({varied})" if varied else "")


TABLE_NOTE = ("[lo–hi]: 95 % Wilson interval of the mean top-1 on the column's n test samples (the test set's own"
              " sampling spread); ± : std over seeds (seeds of 1 checkpoint: the probe or fine-tune varies; several"
              " checkpoints: the pretraining varies too).")


def _column(r: RunRecord) -> str:
    """protocol (semi: labelled fraction; semi/transfer/cross-format: the method under it; frozen features of
    several blocks: how many; a probe fitted on augmented copies too, test-time crops: how many) × data set
    split (× stream when not joint; × 2D when depth was dropped)."""
    hp = r.hyperparameters
    name = r.protocol
    if name == "semi" and hp.semi is not None:
        name += f" {100 * hp.semi_fraction:g}%"
    tags = [str(hp.method)] if r.protocol in ("semi", "transfer", "cross-format") and hp.method else []
    if (hp.feature_blocks or 1) > 1:
        tags.append(f"last {hp.feature_blocks} blocks")
    for count, tag in ((hp.augmented_copies, "augmented copies"), (hp.test_crops, "test crops")):
        if count:
            tags.append(f"{count} {tag}")
    if tags:
        name += f" ({', '.join(tags)})"
    col = f"{name} {r.dataset} {r.split}"
    if r.stream != "joint":
        col += f" {r.stream}"
    return col + _two_d(r, " ")


def _two_d(r: RunRecord, sep: str) -> str:
    """How a 3D store was seen as 2D: "2D" (depth dropped), "2D perspective" (x/z, y/z); "" when 3D."""
    if not r.format.drop_depth:
        return ""
    return f"{sep}2D" + (" perspective" if r.format.projection == "perspective" else "")


def runs_table(results: list[RunRecord]) -> str:
    """One Markdown row per run: what ran, on how many test samples, how long, on which device, which code."""
    lines = ["| method | protocol | data set / split | stream | top-1 | top-5 | seeds | test samples | cached features"
             " | wall time (s) | device | run id | commit |", "|---" * 13 + "|"]
    lines += [_run_row(r) for r in results]
    return "\n".join(lines) + "\n"


def _run_row(r: RunRecord) -> str:
    flat = f" ({_two_d(r, '')})" if _two_d(r, "") else ""
    cached = r.features.cached if r.features is not None else {}
    commit = (r.git.commit[:10] + (" (dirty)" if r.git.dirty else "")) if r.git else "-"
    wall = "" if r.wall_time_s is None else str(r.wall_time_s)
    return (f"| {r.label} | {_column(r).split(' ' + str(r.dataset))[0]}"
            f" | {r.dataset} {r.split} | {r.stream}{flat}"
            f" | {_pooled_cell([r])} | {r.top5:.1f}"
            f" | {','.join(map(str, r.seeds))} | {r.num_test_samples or ''}"
            f" | {'yes' if cached and all(cached.values()) else 'no' if cached else '-'}"
            f" | {wall} | {r.device or ''} | {(r.run_id or '-')[:8]}"
            f" | {commit} |")


def results_table(results: list[RunRecord], fmt: str = "md") -> str:
    """A paper-style table: rows = method / initialisation, columns = protocol × data set split
    (× stream when not joint) with the number of test samples n; cells = top-1 % (mean ± std over seeds where
    there are several, every seed of every run that shares the cell, and what varied) and its 95 % Wilson
    interval on n. A note under the table says how to read a cell. The same run given twice, or the same
    seed of the same checkpoint evaluated twice in one cell, is refused (:func:`check_distinct`)."""
    if fmt not in ("md", "csv"):
        raise ValueError(f"table format must be md or csv, got {fmt!r}")
    check_distinct(results)
    cells: dict[str, dict[str, list[RunRecord]]] = {}
    for r in results:
        cells.setdefault(r.label, {}).setdefault(_column(r), []).append(r)
    cols = list(dict.fromkeys(_column(r) for r in results))
    ns = {c: {r.num_test_samples for vals in cells.values() for r in vals.get(c, [])} for c in cols}
    heads = [c + (f" (n={next(iter(ns[c]))})" if len(ns[c]) == 1 and next(iter(ns[c])) else "") for c in cols]
    rows = {m: {c: _pooled_cell(runs, with_n=len(ns[c]) > 1) for c, runs in vals.items()} for m, vals in cells.items()}
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["method", *heads])
        writer.writerows([m, *(vals.get(c, "") for c in cols)] for m, vals in rows.items())
        return buf.getvalue()
    lines = ["| method | " + " | ".join(heads) + " |", "|---|" + "---|" * len(cols)]
    lines += ["| " + m + " | " + " | ".join(vals.get(c, "") for c in cols) + " |" for m, vals in rows.items()]
    return "\n".join(lines) + "\n\n" + TABLE_NOTE + "\n"
