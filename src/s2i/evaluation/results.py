"""``results.json``: one self-describing file per evaluation run, and the tables built from many.

Every run records what is needed to reproduce and to judge it: protocol, metrics, seeds (and mean ±
std when several), data set, split, stream(s), hyper-parameters, config, data and checkpoint hashes,
package versions, device and wall time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..atomic import atomic_path

__all__ = ["RESULTS_FILE", "environment", "file_sha256", "load_results", "mean_std", "results_table", "runs_table",
           "write_results"]

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


def environment() -> dict[str, Any]:
    """Package versions and the device the run used."""
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


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0, "n": len(values)}


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
        out.append(data)
    return out


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


def _cell(r: dict[str, Any]) -> str:
    agg = r.get("top1_seeds")
    if isinstance(agg, dict) and agg.get("n", 1) > 1:
        return f"{agg['mean']:.1f} ± {agg['std']:.1f}"
    return f"{r['top1']:.1f}"


def _seed_top1s(r: dict[str, Any]) -> list[float]:
    """A run's top-1 of each seed (its per-seed list; the top-1 alone for a one-seed run)."""
    per_seed = r.get("per_seed")
    if isinstance(per_seed, list) and per_seed and all(isinstance(s, dict) and "top1" in s for s in per_seed):
        return [float(s["top1"]) for s in per_seed]
    return [float(r["top1"])]


def _pooled_cell(runs: list[dict[str, Any]]) -> str:
    """One run: its own cell; several runs in one cell (e.g. one pretraining per seed): mean ± std over every
    seed of every run, with the number of runs, so a table of seeded runs is not silently the last one."""
    if len(runs) == 1:
        return _cell(runs[0])
    agg = mean_std([v for r in runs for v in _seed_top1s(r)])
    return f"{agg['mean']:.1f} ± {agg['std']:.1f} ({len(runs)} runs)"


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
    """One Markdown row per run: what ran, on how many test samples, how long, on which device."""
    lines = ["| method | protocol | data set / split | stream | top-1 | top-5 | seeds | test samples | cached features"
             " | wall time (s) | device |", "|---" * 11 + "|"]
    for r in results:
        lines.append(_per_run(r, _run_row))
    return "\n".join(lines) + "\n"


def _run_row(r: dict[str, Any]) -> str:
    flat = f" ({_two_d(r, '')})" if _two_d(r, "") else ""
    feats = r.get("features") or {}
    cached = feats.get("cached") or {}
    return (f"| {r.get('method') or r.get('init') or '?'} | {_column(r).split(' ' + str(r['dataset']))[0]}"
            f" | {r['dataset']} {r['split']} | {r.get('stream')}{flat}"
            f" | {_cell(r)} | {r['top5']:.1f}"
            f" | {','.join(map(str, r.get('seeds', [])))} | {r.get('num_test_samples', '')}"
            f" | {'yes' if cached and all(cached.values()) else 'no' if cached else '-'}"
            f" | {r.get('wall_time_s', '')} | {r.get('device', '')} |")


def results_table(results: list[dict[str, Any]], fmt: str = "md") -> str:
    """A paper-style table: rows = method / initialisation, columns = protocol × data set split
    (× stream when not joint); cells = top-1 % (mean ± std over seeds where there are several; runs that
    share a row and column are pooled, every seed of every run, and the cell says how many runs)."""
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    cols: list[str] = []
    for r in results:
        col = _per_run(r, _column)
        if col not in cols:
            cols.append(col)
        cells.setdefault(str(r.get("method") or r.get("init") or "?"), {}).setdefault(col, []).append(r)
    rows = {m: {c: _per_run(runs[0], lambda _, runs=runs: _pooled_cell(runs)) for c, runs in vals.items()}
            for m, vals in cells.items()}
    if fmt == "csv":
        lines = [",".join(["method", *cols])]
        lines += [",".join([m, *(vals.get(c, "") for c in cols)]) for m, vals in rows.items()]
        return "\n".join(lines) + "\n"
    if fmt != "md":
        raise ValueError(f"table format must be md or csv, got {fmt!r}")
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += ["| " + m + " | " + " | ".join(vals.get(c, "") for c in cols) + " |" for m, vals in rows.items()]
    return "\n".join(lines) + "\n"
