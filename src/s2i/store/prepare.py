"""``s2i prepare``: raw files of a data set -> a verified store, in parallel and streaming.

Files are read in a process pool with a bounded window of pending results (so memory does not grow
with the number of files), appended to the store in file order (so the store and its hash are
deterministic), and checked against the data set's official counts at the end.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..formats import get_format
from ..skeleton import SkeletonSequence
from ..sources import PrepareOptions, get_source
from .layout import StoreError
from .publish import check_out_path
from .read import SkeletonStore
from .stats import StatsAccumulator
from .write import StoreWriter

__all__ = ["PrepareInterrupted", "PrepareResult", "prepare", "compare_counts"]


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
    notes: list[str] = field(default_factory=list)


class PrepareInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM ended a prepare run (the partial store has been removed)."""


def _describe(item: Any, e: BaseException) -> str:
    """One line: the error type and message, with the file named when the message does not name it."""
    msg = str(e) if not isinstance(e, RecursionError) else "structure nested too deeply"
    if isinstance(e, MemoryError):
        msg = "out of memory while reading this file (it declares more data than can be held)"
    text = f"{type(e).__name__}: {msg}"
    name = str(item)
    if name not in text and Path(name).name not in text:
        text = f"{name}: {text}"
    return text.replace("\n", "\\n").replace("\r", "\\r")


def _load_one(load: Callable[[Any, PrepareOptions], list[SkeletonSequence]], item: Any,
              opts: PrepareOptions) -> tuple[list[SkeletonSequence] | None, str | None]:
    """Read one item; any failure caused by the file (parse errors, RecursionError, MemoryError, ...)
    becomes the reason it is skipped, never the end of the run."""
    try:
        return load(item, opts), None
    except Exception as e:  # noqa: BLE001 - a hostile file may raise anything; it is that file's skip reason
        return None, _describe(item, e)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_init(parent: int) -> None:
    """In each reader process: die with the parent (kill -9 included), leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # forked while the parent held these signals (_submit)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    try:  # Linux: the kernel kills us when the parent dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # everywhere else (and if the forking thread exits first): poll the parent id
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True).start()


def _submit(pool: ProcessPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``pool.submit`` with SIGINT/SIGTERM held: it may fork a reader process, and an exception raised by
    our handler inside an at-fork callback is printed and dropped by Python; a held signal arrives just after."""
    if not hasattr(signal, "pthread_sigmask"):
        return pool.submit(fn, *args)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        return pool.submit(fn, *args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work and kill the reader processes now (no waiting for files in flight)."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=5)


def _ordered_map(fn: Callable[..., Any], items: list[Any], opts: PrepareOptions, load: Any,
                 workers: int) -> Iterator[tuple[Any, Any]]:
    """Yield (item, fn(load, item, opts)) in item order with at most ``4 * workers`` results pending."""
    if workers <= 1:
        for it in items:
            yield it, fn(load, it, opts)
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        pending: deque[tuple[Any, Future[Any]]] = deque()
        it = iter(items)
        for x in it:
            pending.append((x, _submit(pool, fn, load, x, opts)))
            if len(pending) >= 4 * workers:
                break
        while pending:
            x, fut = pending.popleft()
            try:
                res = fut.result()
            except BrokenProcessPool:
                raise StoreError(f"a reader process died (killed by the system, out of memory?) while reading"
                                 f" files up to {x}; no store was written") from None
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, _submit(pool, fn, load, nxt, opts)))
            yield x, res
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


#: signals received during the current run: a handler's exception can be lost (e.g. raised inside an
#: at-fork callback, where Python only prints it), so the run also checks this list
_received: list[str] = []


def _stop_if_signalled() -> None:
    """Raise :class:`PrepareInterrupted` when SIGINT/SIGTERM arrived, even if its handler's exception was lost."""
    if _received:
        raise PrepareInterrupted(_received[0])


@contextmanager
def _signals_end_run() -> Iterator[None]:
    """SIGTERM (and SIGINT) raise :class:`PrepareInterrupted` in the main thread, so the writer's
    clean-up runs (partial folder removed, lock released); the old handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        _received.append(name)
        raise PrepareInterrupted(name)

    _received.clear()
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _received.clear()


def _relative(source: Any, root: Path) -> Any:
    """A source path relative to the raw-data root, so the store's content hash does not depend on
    where the raw files happen to live (the manifest records the root)."""
    if not isinstance(source, str):
        return source
    # first without resolving links (files that are symlinks into another tree stay under root), then resolved
    for src_path, root_path in ((Path(os.path.abspath(source)), Path(os.path.abspath(root))),
                                (Path(source).resolve(), root.resolve())):
        try:
            rel = src_path.relative_to(root_path)
        except ValueError:
            continue
        return str(rel) if str(rel) != "." else Path(source).name
    return source


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


def _write_item(writer: StoreWriter, acc: StatsAccumulator, metas: list[dict[str, Any]],
                failed: list[tuple[str, str]], item: Any, seqs: Any, fmt: str, root: Path) -> None:
    """Append the sequences read from one item. A reader error (also part-way through a streaming
    source's generator) or a sequence the store cannot hold is that item's skip; writer errors propagate."""
    it = iter(seqs or [])
    while True:
        try:
            seq = next(it)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - a streaming source failing part-way through its file
            failed.append((str(item), _describe(item, e)))
            return
        seq.format = fmt
        source = seq.meta.get("source")
        if isinstance(source, str):
            seq.meta.setdefault("name", Path(source).stem)
        seq.meta["source"] = _relative(source, root)
        try:
            writer.append(seq)
        except ValueError as e:  # a sequence of another shape than the store's
            failed.append((str(item), _describe(item, e)))
            continue
        acc.update(seq)
        metas.append(seq.meta)


def prepare(dataset: str, root: str | Path | None, out: str | Path, workers: int = 0, fmt: str | None = None,
            dtype: str = "float32", options: PrepareOptions | None = None, overwrite: bool = False,
            limit: int | None = None, progress: bool = True,
            stats_hook: Callable[[SkeletonStore], dict[str, Any]] | None = None) -> PrepareResult:
    """Prepare data set ``dataset`` from raw files under ``root`` into the store folder ``out``.

    ``stats_hook(store) -> dict`` runs on the complete store before it is published and adds to its
    statistics (the CLI passes the value-range precomputation of :mod:`s2i.encode.value_range`).
    ``root=None`` is allowed for sources whose data ships inside a package (``humanoid-motions``).
    """
    t0 = time.perf_counter()
    src = get_source(dataset)
    if root is None:
        if src.default_root is None:
            raise ValueError(f"{dataset}: the raw data folder (--root) is required")
        root = src.default_root()
    root, out = Path(root), Path(out)
    opts = replace(options or PrepareOptions(), root=str(root))
    if fmt and not opts.format:
        opts = replace(opts, format=fmt)
    if not root.exists():
        raise FileNotFoundError(f"raw data folder not found: {root}")
    check_out_path(out, root, overwrite)  # before any work: never a run that cannot publish
    with _signals_end_run():
        return _prepare(src, dataset, root, out, opts, workers, dtype, overwrite, limit, progress, stats_hook, t0)


def _list_items(src: Any, dataset: str, root: Path, opts: PrepareOptions, limit: int | None
                ) -> tuple[list[Any], dict[str, str]]:
    """The source's items under ``root`` (the first ``limit``) and what it excluded; none is an error."""
    items, excluded = src.list_items(root, opts)
    if limit is not None:
        items = items[:limit]
    if not items:
        why = "; ".join(f"{k}: {v}" for k, v in list(excluded.items())[:3])
        raise FileNotFoundError(f"no {dataset} files found under {root}" + (f" ({why})" if why else ""))
    return items, excluded


def _stopped(out: Path, e: Exception, items: list[Any], metas: list[dict[str, Any]],
             failed: list[tuple[str, str]]) -> StoreError:
    """The error of a run stopped by ``e``, after writing the report of what was done beside ``out``."""
    err_report = out.parent / f"{out.name}.error-report.json"
    err_report.write_text(json.dumps({"error": f"{type(e).__name__}: {e}", "files": len(items),
                                      "sequences_written": len(metas),
                                      "failed": [{"item": i, "error": m} for i, m in failed]}, indent=2))
    return StoreError(f"prepare stopped after {len(metas)} sequence(s) by {type(e).__name__}: {e}; no store"
                      f" was written; the files skipped so far are listed in {err_report}")


def _write_all(writer: StoreWriter, acc: StatsAccumulator, src: Any, items: list[Any], opts: PrepareOptions,
               workers: int, fmt: str, root: Path, bar: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Read every item (in a pool, in order) into the writer: (metas of the sequences written, failures).
    An internal error stops the run (:func:`_stopped`)."""
    failed: list[tuple[str, str]] = []
    metas: list[dict[str, Any]] = []
    last_refresh = time.monotonic()
    try:
        for item, (seqs, err) in _ordered_map(_load_one, items, opts, src.load, workers):
            _stop_if_signalled()
            bar.update(1)
            if time.monotonic() - last_refresh > 30:
                writer.refresh_lock()
                last_refresh = time.monotonic()
            if err is not None:
                failed.append((str(item), err))
                continue
            _write_item(writer, acc, metas, failed, item, seqs, fmt, root)
    except Exception as e:  # an internal error (or the disk): stop, keeping the report of what was done
        bar.close()
        raise _stopped(writer.out, e, items, metas, failed) from e
    bar.close()
    return metas, failed


def _manifest(src: Any, dataset: str, root: Path, opts: PrepareOptions, class_names: Any, counts: dict[str, Any],
              stats: dict[str, Any]) -> dict[str, Any]:
    """The store's manifest: the data set, where it came from, its classes, counts and statistics."""
    return {
        "dataset": dataset,
        "description": src.description,
        "root": str(root.resolve()),
        "class_names": list(class_names) if class_names else None,
        "num_classes": len(class_names) if class_names else None,
        "s2i_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": counts,
        **({"units": "m", "units_given": opts.units} if opts.units else {}),
        "stats": stats,
    }


def _prepare(src: Any, dataset: str, root: Path, out: Path, opts: PrepareOptions, workers: int, dtype: str,
             overwrite: bool, limit: int | None, progress: bool,
             stats_hook: Callable[[SkeletonStore], dict[str, Any]] | None, t0: float) -> PrepareResult:
    from ..progress import progress_bar

    items, excluded = _list_items(src, dataset, root, opts, limit)
    class_names = src.class_names_for(root, opts)
    spec = get_format(opts.format or src.format)
    workers = 1 if src.streaming else (workers or min(os.cpu_count() or 1, 8))
    # a user's --format decides the coordinates (2D formats keep their detector scores)
    dims = spec.dims if opts.format else src.dims
    with_conf = src.with_confidence or (bool(opts.format) and spec.dims == 2)
    acc = StatsAccumulator(spec.num_joints, dims)
    with StoreWriter(out, spec, dims=dims, num_joints=spec.num_joints, dtype=dtype,
                     with_confidence=with_conf, overwrite=overwrite, root=root) as writer:
        bar = progress_bar(total=len(items), desc=f"prepare {dataset}", unit="file", disable=not progress)
        metas, failed = _write_all(writer, acc, src, items, opts, workers, spec.name, root, bar)
        if not metas:
            reasons = "; ".join(err for _, err in failed[:3])
            raise StoreError(f"no store written: all {len(items)} file(s) under {root} failed"
                             + (f" ({reasons}{'; ...' if len(failed) > 3 else ''})" if reasons else ""))
        splits = src.make_splits(metas, opts)
        counts, mismatches = compare_counts(src.official if limit is None else {}, len(metas), splits)
        manifest = _manifest(src, dataset, root, opts, class_names, counts, acc.result(writer.lengths()))
        report = {
            "dataset": dataset, "files": len(items), "sequences": len(metas),
            **_frame_index_report(metas),
            "failed": [{"item": i, "error": e} for i, e in failed],
            "excluded": excluded, "count_mismatches": mismatches,
        }
        _stop_if_signalled()  # the last check before anything is published
        writer.finalize(splits, manifest, report, stats_hook=stats_hook)
    return PrepareResult(out, len(metas), len(items), failed, excluded, mismatches,
                         time.perf_counter() - t0, report.get("frame_index", {}), notes=list(writer.notes))
