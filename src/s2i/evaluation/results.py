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
import json
import math
import os
import platform
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..atomic import atomic_path
from .metrics import mean_std, wilson_interval

__all__ = ["RESULTS_FILE", "check_distinct", "environment", "file_sha256", "git_state", "load_results", "mean_std",
           "new_run_id", "pool_top1", "results_table", "seeds_varied", "runs_table", "write_results"]

RESULTS_FILE = "results.json"


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


def write_results(out_dir: str | Path, result: dict[str, Any]) -> Path:
    """Write ``out_dir/results.json`` atomically; the required top-level keys are checked first."""
    required = ("protocol", "top1", "top5", "seeds", "dataset", "split", "stream")
    missing = [k for k in required if k not in result]
    if missing:
        raise ValueError(f"a result needs {missing}")
    target = Path(out_dir) / RESULTS_FILE
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return target


def load_results(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Read results.json files (a run folder or the file itself); errors name the file."""
    out = []
    for p in map(Path, paths):
        f = p / RESULTS_FILE if p.is_dir() else p
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{f}: cannot read a results file ({e})") from None
        if not isinstance(data, dict) or "protocol" not in data:
            raise ValueError(f"{f}: not an s2i results file (no 'protocol')")
        _check_result(data, f)
        data["_path"] = str(f)
        data["_sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
        out.append(data)
    return out


def _seeds(r: dict[str, Any]) -> list[int]:
    per_seed = r.get("per_seed")
    if isinstance(per_seed, list) and per_seed and all(isinstance(s, dict) and "seed" in s for s in per_seed):
        return [int(s["seed"]) for s in per_seed]
    return [int(s) for s in r.get("seeds") or []]


def check_distinct(results: list[dict[str, Any]]) -> None:
    """Refuse a table that would count one evaluation twice: the same run (its ``run_id``; for files written
    before run ids, the same bytes), e.g. a copied run folder, or two runs in one cell that evaluated the same
    seed of the same checkpoint on the same data (the same evaluation run again). Pooling either would shrink
    the std and double the apparent number of runs; the error names both files so the user passes one."""
    seen: dict[str, str] = {}
    for r in results:
        rid = str(r.get("run_id") or r.get("_sha256") or "")
        if rid and rid in seen:
            raise ValueError(f"{r.get('_path')} is the same run as {seen[rid]} (run id {rid[:12]}): a copy counts"
                             " once, pass each run once")
        if rid:
            seen[rid] = str(r.get("_path"))
    evaluated: dict[tuple[str, ...], str] = {}
    for r in results:
        if not r.get("checkpoint_hash"):
            continue  # an old file that does not say what it evaluated: only its run id / bytes can be compared
        data = str((r.get("data") or {}).get("content_hash") or (r.get("data_hashes") or ""))
        for seed in _seeds(r):
            key = (str(r.get("method") or r.get("init")), _column(r), str(r["checkpoint_hash"]), data, str(seed))
            if key in evaluated:
                raise ValueError(f"{r.get('_path')} and {evaluated[key]} both evaluate seed {seed} of checkpoint"
                                 f" {str(r['checkpoint_hash'])[:19]} in '{key[1]}': the same evaluation twice would"
                                 " be pooled as two; pass one of them")
            evaluated[key] = str(r.get("_path"))


def _check_result(data: dict[str, Any], f: Path) -> None:
    """The top-level fields every table reads, present and of their type (a hostile or hand-edited file is
    a one-line error naming it, not a KeyError)."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    checks = {"top1": number, "top5": number, "seeds": lambda v: isinstance(v, list),
              "protocol": lambda v: isinstance(v, str), "split": lambda v: isinstance(v, str),
              "stream": lambda v: isinstance(v, str), "dataset": lambda v: isinstance(v, (str, type(None)))}
    for key, ok in checks.items():
        if key not in data:
            raise ValueError(f"{f}: not an s2i results file (no {key!r})")
        if not ok(data[key]):
            raise ValueError(f"{f}: {key!r} is {data[key]!r}, not what s2i writes there")


def _per_run(r: dict[str, Any], fn: Any) -> Any:
    """``fn(r)``, a malformed nested field of the run becoming a ValueError naming its file."""
    try:
        return fn(r)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{r.get('_path', 'a results file')}: malformed results ({type(e).__name__}: {e})") from None


def _seed_top1s(r: dict[str, Any]) -> list[float]:
    """A run's top-1 of each seed (its per-seed list; the top-1 alone for a one-seed run)."""
    per_seed = r.get("per_seed")
    if isinstance(per_seed, list) and per_seed and all(isinstance(s, dict) and "top1" in s for s in per_seed):
        return [float(s["top1"]) for s in per_seed]
    return [float(r["top1"])]


def _checkpoint(r: dict[str, Any]) -> str:
    """What identifies the pretraining a run evaluated (its checkpoint hash; the file for old results)."""
    return str(r.get("checkpoint_hash") or r.get("_path") or id(r))


def _interval(top1: float, n: Any) -> str:
    """`` [lo–hi]``: the 95 % Wilson interval of a top-1 % on ``n`` test samples ("" when n is unknown)."""
    if not isinstance(n, int) or n < 1:
        return ""
    lo, hi = wilson_interval(top1 / 100 * n, n)
    return f" [{100 * lo:.1f}–{100 * hi:.1f}]"


def pool_top1(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The top-1 of runs that share a cell: mean, std and number of seeds over every seed of every run,
    the test samples ``n``, the number of runs and of distinct checkpoints (pretrainings)."""
    top1s = [v for r in runs for v in _seed_top1s(r)]
    agg: dict[str, Any] = dict(mean_std(top1s))
    own = runs[0].get("top1_seeds")  # a run that kept only its mean ± std, not each seed
    if len(runs) == 1 and len(top1s) == 1 and isinstance(own, dict) and int(own.get("n", 1)) > 1:
        agg = {"mean": float(own["mean"]), "std": float(own["std"]), "n": int(own["n"])}
    return {"mean": agg["mean"], "std": agg["std"], "seeds": int(agg["n"]), "n": runs[0].get("num_test_samples"),
            "runs": len(runs), "checkpoints": len({_checkpoint(r) for r in runs})}


def seeds_varied(pooled: dict[str, Any]) -> str:
    """What the spread of a pooled cell is over: "" for one seed, "3 seeds, 1 checkpoint" (probe or fine-tune
    seeds of one pretraining) or "3 runs: 3 checkpoints, 3 seeds" (the pretraining varies too)."""
    k, seeds = pooled["checkpoints"], pooled["seeds"]
    if pooled["runs"] > 1:
        return f"{pooled['runs']} runs: {k} checkpoint{'s' * (k > 1)}, {seeds} seeds"
    return f"{seeds} seeds, 1 checkpoint" if seeds > 1 else ""


def _pooled_cell(runs: list[dict[str, Any]], with_n: bool = False) -> str:
    """Mean ± std over every seed of every run in the cell, its 95 % Wilson interval on the test samples, and
    what varied (:func:`seeds_varied`), so a table of seeded runs is neither silently the last one nor a
    spread that looks smaller than it is."""
    pooled = pool_top1(runs)
    n = pooled["n"]
    text = (f"{pooled['mean']:.1f}" + (f" ± {pooled['std']:.1f}" if pooled["seeds"] > 1 else "")
            + _interval(pooled["mean"], n))
    if with_n and n:
        text += f" n={n}"
    varied = seeds_varied(pooled)
    return text + (f" ({varied})" if varied else "")


TABLE_NOTE = ("[lo–hi]: 95 % Wilson interval of the mean top-1 on the column's n test samples (the test set's own"
              " sampling spread); ± : std over seeds (seeds of 1 checkpoint: the probe or fine-tune varies; several"
              " checkpoints: the pretraining varies too).")


def _column(r: dict[str, Any]) -> str:
    """protocol (semi: labelled fraction; semi/transfer/cross-format: the method under it; frozen features of
    several blocks: how many; a probe fitted on augmented copies too, test-time crops: how many) × data set
    split (× stream when not joint; × 2D when depth was dropped)."""
    name = str(r["protocol"])
    hp = r.get("hyperparameters") or {}
    if name == "semi" and isinstance(hp.get("semi"), dict):
        name += f" {100 * float(hp['semi'].get('fraction', 0)):g}%"
    tags = [str(hp["method"])] if r["protocol"] in ("semi", "transfer", "cross-format") and hp.get("method") else []
    if int(hp.get("feature_blocks") or 1) > 1:
        tags.append(f"last {hp['feature_blocks']} blocks")
    method_cfg = hp.get(str(hp.get("method"))) if hp.get("method") in ("linear", "finetune") else None
    method_cfg = method_cfg if isinstance(method_cfg, dict) else {}
    for key, tag in (("augmented_copies", "augmented copies"), ("test_crops", "test crops")):
        if int(method_cfg.get(key) or 0):
            tags.append(f"{method_cfg[key]} {tag}")
    if tags:
        name += f" ({', '.join(tags)})"
    col = f"{name} {r['dataset']} {r['split']}"
    if r.get("stream", "joint") != "joint":
        col += f" {r['stream']}"
    return col + _two_d(r, " ")


def _two_d(r: dict[str, Any], sep: str) -> str:
    """How a 3D store was seen as 2D: "2D" (depth dropped), "2D perspective" (x/z, y/z); "" when 3D."""
    fmt = r.get("format") or {}
    if not fmt.get("drop_depth"):
        return ""
    return f"{sep}2D" + (" perspective" if fmt.get("projection") == "perspective" else "")


def runs_table(results: list[dict[str, Any]]) -> str:
    """One Markdown row per run: what ran, on how many test samples, how long, on which device, which code."""
    lines = ["| method | protocol | data set / split | stream | top-1 | top-5 | seeds | test samples | cached features"
             " | wall time (s) | device | run id | commit |", "|---" * 13 + "|"]
    for r in results:
        lines.append(_per_run(r, _run_row))
    return "\n".join(lines) + "\n"


def _run_row(r: dict[str, Any]) -> str:
    flat = f" ({_two_d(r, '')})" if _two_d(r, "") else ""
    feats = r.get("features") or {}
    cached = feats.get("cached") or {}
    git = r.get("git") or {}
    commit = (str(git.get("commit"))[:10] + (" (dirty)" if git.get("dirty") else "")) if git else "-"
    return (f"| {r.get('method') or r.get('init') or '?'} | {_column(r).split(' ' + str(r['dataset']))[0]}"
            f" | {r['dataset']} {r['split']} | {r.get('stream')}{flat}"
            f" | {_pooled_cell([r])} | {r['top5']:.1f}"
            f" | {','.join(map(str, r.get('seeds', [])))} | {r.get('num_test_samples', '')}"
            f" | {'yes' if cached and all(cached.values()) else 'no' if cached else '-'}"
            f" | {r.get('wall_time_s', '')} | {r.get('device', '')} | {str(r.get('run_id') or '-')[:8]}"
            f" | {commit} |")


def results_table(results: list[dict[str, Any]], fmt: str = "md") -> str:
    """A paper-style table: rows = method / initialisation, columns = protocol × data set split
    (× stream when not joint) with the number of test samples n; cells = top-1 % (mean ± std over seeds where
    there are several, every seed of every run that shares the cell, and what varied) and its 95 % Wilson
    interval on n. A note under the table says how to read a cell. The same run given twice, or the same
    seed of the same checkpoint evaluated twice in one cell, is refused (:func:`check_distinct`)."""
    check_distinct(results)
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    cols: list[str] = []
    for r in results:
        col = _per_run(r, _column)
        if col not in cols:
            cols.append(col)
        cells.setdefault(str(r.get("method") or r.get("init") or "?"), {}).setdefault(col, []).append(r)
    ns = {c: {r.get("num_test_samples") for vals in cells.values() for r in vals.get(c, [])} for c in cols}
    heads = [c + (f" (n={next(iter(ns[c]))})" if len(ns[c]) == 1 and next(iter(ns[c])) else "") for c in cols]
    rows = {m: {c: _per_run(runs[0], lambda _, runs=runs, c=c: _pooled_cell(runs, with_n=len(ns[c]) > 1))
                for c, runs in vals.items()} for m, vals in cells.items()}
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["method", *heads])
        writer.writerows([m, *(vals.get(c, "") for c in cols)] for m, vals in rows.items())
        return buf.getvalue()
    if fmt != "md":
        raise ValueError(f"table format must be md or csv, got {fmt!r}")
    lines = ["| method | " + " | ".join(heads) + " |", "|---|" + "---|" * len(cols)]
    lines += ["| " + m + " | " + " | ".join(vals.get(c, "") for c in cols) + " |" for m, vals in rows.items()]
    return "\n".join(lines) + "\n\n" + TABLE_NOTE + "\n"
