"""``s2i prepare``: raw files of a data set -> a verified store, in parallel and streaming.

Files are read in a process pool with a bounded window of pending results (so memory does not grow
with the number of files), appended to the store in file order (so the store and its hash are
deterministic), and checked against the data set's official counts at the end.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..formats import get_format
from ..skeleton import SkeletonSequence
from ..sources import PrepareOptions, get_source
from .read import SkeletonStore
from .stats import StatsAccumulator
from .write import StoreWriter

__all__ = ["PrepareResult", "prepare", "compare_counts"]


@dataclass
class PrepareResult:
    """What a prepare run produced and what it had to skip."""

    store: Path
    sequences: int
    files: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    frame_index: dict[str, int] = field(default_factory=dict)  # repeated / missing frame indices


def _load_one(load: Callable[[Any, PrepareOptions], list[SkeletonSequence]], item: Any,
              opts: PrepareOptions) -> tuple[list[SkeletonSequence] | None, str | None]:
    try:
        return load(item, opts), None
    except (ValueError, OSError, KeyError, IndexError) as e:  # reader errors name the file and line
        return None, f"{type(e).__name__}: {e}"


def _ordered_map(fn: Callable[..., Any], items: list[Any], opts: PrepareOptions, load: Any,
                 workers: int) -> Iterator[tuple[Any, Any]]:
    """Yield (item, fn(load, item, opts)) in item order with at most ``4 * workers`` results pending."""
    if workers <= 1:
        for it in items:
            yield it, fn(load, it, opts)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Any, Future[Any]]] = deque()
        it = iter(items)
        for x in it:
            pending.append((x, pool.submit(fn, load, x, opts)))
            if len(pending) >= 4 * workers:
                break
        while pending:
            x, fut = pending.popleft()
            res = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(fn, load, nxt, opts)))
            yield x, res


def _relative(source: Any, root: Path) -> Any:
    """A source path relative to the raw-data root, so the store's content hash does not depend on
    where the raw files happen to live (the manifest records the root)."""
    if not isinstance(source, str):
        return source
    try:
        rel = Path(source).resolve().relative_to(root.resolve())
    except ValueError:
        return source
    return str(rel) if str(rel) != "." else Path(source).name


def _frame_index_report(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeated and missing frame indices of files with an index column (one count per file)."""
    per_file = {str(m.get("source")): (int(m.get("duplicate_frames", 0)), int(m.get("missing_frames", 0)))
                for m in metas if "duplicate_frames" in m}
    if not per_file:
        return {}
    return {"frame_index": {
        "duplicate_frames": sum(d for d, _ in per_file.values()),
        "missing_frames": sum(g for _, g in per_file.values()),
        "files_with_duplicates": sum(1 for d, _ in per_file.values() if d),
        "files_with_gaps": sum(1 for _, g in per_file.values() if g)}}


def compare_counts(official: dict[str, Any], sequences: int, splits: dict[str, dict[str, list[int]]]) -> tuple[
        dict[str, Any], list[str]]:
    """Our counts next to the official ones; mismatches as readable lines."""
    ours: dict[str, Any] = {"sequences": sequences,
                            "splits": {s: {k: len(v) for k, v in parts.items()} for s, parts in splits.items()}}
    mismatches = []
    if "sequences" in official and official["sequences"] != sequences:
        mismatches.append(f"sequences: {sequences} prepared, official {official['sequences']}")
    for split, parts in official.get("splits", {}).items():
        for subset, n in parts.items():
            got = ours["splits"].get(split, {}).get(subset, 0)
            if got != n:
                mismatches.append(f"{split}/{subset}: {got} prepared, official {n}")
    return {"official": official, "prepared": ours}, mismatches


def prepare(dataset: str, root: str | Path, out: str | Path, workers: int = 0, fmt: str | None = None,
            dtype: str = "float32", options: PrepareOptions | None = None, overwrite: bool = False,
            limit: int | None = None, progress: bool = True,
            stats_hook: Callable[[SkeletonStore], dict[str, Any]] | None = None) -> PrepareResult:
    """Prepare data set ``dataset`` from raw files under ``root`` into the store folder ``out``.

    ``stats_hook(store) -> dict`` runs on the complete store before it is published and adds to its
    statistics (the CLI passes the value-range precomputation of :mod:`s2i.encode.value_range`).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    src = get_source(dataset)
    root = Path(root)
    opts = replace(options or PrepareOptions(), root=str(root))
    if fmt and not opts.format:
        opts = replace(opts, format=fmt)
    if not root.exists():
        raise FileNotFoundError(f"raw data folder not found: {root}")
    items, excluded = src.list_items(root, opts)
    if limit is not None:
        items = items[:limit]
    if not items:
        why = "; ".join(f"{k}: {v}" for k, v in list(excluded.items())[:3])
        raise FileNotFoundError(f"no {dataset} files found under {root}" + (f" ({why})" if why else ""))
    class_names = src.class_names_for(root, opts)
    spec = get_format(opts.format or src.format)
    workers = 1 if src.streaming else (workers or min(os.cpu_count() or 1, 8))
    failed: list[tuple[str, str]] = []
    metas: list[dict[str, Any]] = []
    # a user's --format decides the coordinates (2D formats keep their detector scores)
    dims = spec.dims if opts.format else src.dims
    with_conf = src.with_confidence or (bool(opts.format) and spec.dims == 2)
    acc = StatsAccumulator(spec.num_joints, dims)
    with StoreWriter(out, spec, dims=dims, num_joints=spec.num_joints, dtype=dtype,
                     with_confidence=with_conf, overwrite=overwrite) as writer:
        bar = tqdm(total=len(items), desc=f"prepare {dataset}", unit="file", disable=not progress)
        for item, (seqs, err) in _ordered_map(_load_one, items, opts, src.load, workers):
            bar.update(1)
            if err is not None:
                failed.append((str(item), err))
                continue
            try:
                for seq in seqs or []:  # a list, or a generator for streaming sources
                    seq.format = spec.name
                    source = seq.meta.get("source")
                    if isinstance(source, str):
                        seq.meta.setdefault("name", Path(source).stem)
                    seq.meta["source"] = _relative(source, root)
                    try:
                        writer.append(seq)
                    except ValueError as e:
                        failed.append((str(item), str(e)))
                        continue
                    acc.update(seq)
                    metas.append(seq.meta)
            except (ValueError, OSError) as e:  # a streaming source failing part-way through its file
                failed.append((str(item), f"{type(e).__name__}: {e}"))
        bar.close()
        splits = src.make_splits(metas, opts)
        counts, mismatches = compare_counts(src.official if limit is None else {}, len(metas), splits)
        lengths = writer.lengths()
        manifest = {
            "dataset": dataset,
            "description": src.description,
            "root": str(root.resolve()),
            "class_names": list(class_names) if class_names else None,
            "num_classes": len(class_names) if class_names else None,
            "s2i_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": counts,
            **({"units": "m", "units_given": opts.units} if opts.units else {}),
            "stats": acc.result(lengths),
        }
        report = {
            "dataset": dataset, "files": len(items), "sequences": len(metas),
            **_frame_index_report(metas),
            "failed": [{"item": i, "error": e} for i, e in failed],
            "excluded": excluded, "count_mismatches": mismatches,
        }
        writer.finalize(splits, manifest, report, stats_hook=stats_hook)
    res = PrepareResult(Path(out), len(metas), len(items), failed, excluded, mismatches,
                        time.perf_counter() - t0, report.get("frame_index", {}))
    return res

