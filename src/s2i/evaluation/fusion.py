"""Late fusion of evaluation runs: the test scores that each ``s2i eval`` run saves, averaged across runs.

A multi-stream ensemble (joint + bone + motion + bone-motion) is often trained apart, one stream per job
(or per GPU node), and each stream may even come from its own pretraining. Every run therefore saves each
stream's test scores per seed in ``scores.safetensors`` beside results.json (its sha256 is in results.json),
and :func:`fuse_runs` averages the softmax scores of several runs' streams, after checking that they were
trained on the same samples and scored the same test samples of the same data (store content hash, split,
labelled ids, test ids and labels) with the same protocol, 3D / 2D view and seeds. The fused result is a
results.json like any other, naming the runs it came from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..outputs import claim_output, mark_output
from .metrics import fuse_scores, seed_summary, stream_summaries
from .record import RESULTS_FILE, RunRecord, load_record, write_record
from .results import environment, file_sha256, git_state, new_run_id

__all__ = ["SCORES_FILE", "RunScores", "fuse_runs", "read_scores", "write_scores"]

SCORES_FILE = "scores.safetensors"


def write_scores(out_dir: str | Path, per_stream: dict[str, list[torch.Tensor]], seeds: list[int],
                 test_ids: np.ndarray, labels: torch.Tensor, meta: dict[str, str]) -> dict[str, str]:
    """Save each stream's (N_test, K) test scores per seed as ``out_dir/scores.safetensors`` (atomically);
    returns the file's name and sha256 for results.json."""
    from safetensors.torch import save_file

    tensors = {f"{stream}/seed{seed}": sc.detach().float().cpu().contiguous()
               for stream, per_seed in per_stream.items() for seed, sc in zip(seeds, per_seed)}
    tensors["test_ids"] = torch.as_tensor(np.asarray(test_ids, dtype=np.int64))
    tensors["labels"] = labels.long().cpu().contiguous()
    target = Path(out_dir) / SCORES_FILE
    header = {**meta, "streams": json.dumps(list(per_stream)), "seeds": json.dumps(list(seeds))}
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return {"file": SCORES_FILE, "sha256": file_sha256(target)}


@dataclass
class RunScores:
    """One evaluation run's results.json and its saved test scores."""

    path: Path
    result: RunRecord
    test_ids: torch.Tensor
    labels: torch.Tensor
    scores: dict[str, list[torch.Tensor]]  # stream -> one (N_test, K) tensor per seed, in result.seeds order


def read_scores(run_dir: str | Path) -> RunScores:
    """Read a run folder's results.json and scores.safetensors; the file must be the one results.json names."""
    from safetensors.torch import load_file

    folder = Path(run_dir)
    folder = folder.parent if folder.name == RESULTS_FILE else folder
    result = load_record(folder)
    path = folder / SCORES_FILE
    if result.scores is None or not path.is_file():
        raise ValueError(f"{folder}: no {SCORES_FILE} named by its results.json (a run made before s2i saved"
                         " test scores, or copied without the file): rerun s2i eval to fuse it")
    if file_sha256(path) != result.scores.sha256:
        raise ValueError(f"{path}: its sha256 differs from the one in results.json: the scores are not this run's")
    data = load_file(str(path))
    scores: dict[str, list[torch.Tensor]] = {}
    for stream in result.stream.split("+"):
        missing = [f"{stream}/seed{s}" for s in result.seeds if f"{stream}/seed{s}" not in data]
        if missing:
            raise ValueError(f"{path}: no scores {missing}")
        scores[stream] = [data[f"{stream}/seed{s}"] for s in result.seeds]
    return RunScores(folder, result, data["test_ids"], data["labels"], scores)


def _same(runs: list[RunScores], what: str, get: Callable[[RunScores], Any]) -> Any:
    """The value ``get(run)`` shared by every run; a clear error naming the runs when they differ."""
    values = [get(r) for r in runs]
    if any(v != values[0] for v in values[1:]):
        listed = "; ".join(f"{r.path}: {v}" for r, v in zip(runs, values))
        raise ValueError(f"runs to fuse must share the {what}: {listed}")
    return values[0]


#: what runs to fuse must share, and how to read it from a run
SHARED: tuple[tuple[str, Callable[[RunScores], Any]], ...] = (
    ("protocol", lambda r: r.result.protocol),
    ("data (store content hash)", lambda r: r.result.data.content_hash),
    ("split", lambda r: r.result.split),
    ("seeds", lambda r: r.result.seeds),
    ("number of classes", lambda r: r.result.num_classes),
    ("training samples (labelled ids per seed)",
     lambda r: [(x.seed, x.num_labelled, x.ids_sha256) for x in r.result.labelled or []]),
    ("3D / 2D view (drop_depth, projection)", lambda r: (r.result.format.drop_depth, r.result.format.projection)),
    ("test samples (ids, in order)", lambda r: r.test_ids.tolist()),
    ("test labels", lambda r: r.labels.tolist()),
)


def _streams(runs: list[RunScores], weights: list[float] | None) -> list[str]:
    """The streams of the runs, in order; each from one run only, two at least, one weight each."""
    streams = [s for r in runs for s in r.scores]
    if len(streams) < 2:
        raise ValueError(f"fusing needs at least two streams, the runs have {streams}")
    twice = sorted({s for s in streams if streams.count(s) > 1})
    if twice:
        raise ValueError(f"stream(s) {twice} come from more than one run: each stream may be fused once")
    if weights is not None and len(weights) != len(streams):
        raise ValueError(f"{len(weights)} weights for {len(streams)} streams {streams}")
    for what, get in SHARED:
        _same(runs, what, get)
    return streams


def _fused_from(r: RunScores) -> dict[str, Any]:
    assert r.result.scores is not None  # read_scores checked it
    return {"path": str(r.path), "run_id": r.result.run_id, "results_sha256": file_sha256(r.path / RESULTS_FILE),
            "scores_sha256": r.result.scores.sha256, "streams": list(r.scores), "method": r.result.method,
            "checkpoint_hash": r.result.checkpoint_hash, "top1": r.result.top1, "config": r.result.config,
            "hyperparameters": r.result.hyperparameters}


#: fields of a fused result that are the first run's (when it has them)
COPIED = ("num_train_samples", "labelled", "num_classes", "class_names", "data", "data_hashes", "format")


def _fused_fields(runs: list[RunScores], streams: list[str], weights: list[float] | None,
                  method: str | None) -> dict[str, Any]:
    """What a fused result says beyond its metrics: the first run's data and protocol, the runs it fused."""
    first = runs[0].result
    inits = sorted({str(r.result.init) for r in runs})
    hashes = sorted({str(r.result.checkpoint_hash) for r in runs})
    hp = first.hyperparameters.model_copy(update={"fusion": {
        "streams": streams, "weights": weights or [1.0] * len(streams), "rule": "mean of softmax scores",
        "runs": len(runs), "late": True}})
    copied = {k: getattr(first, k) for k in COPIED if k in first.model_fields_set}
    return {"method": method or first.method, "init": inits[0] if len(inits) == 1 else "+".join(inits),
            "seeds": first.seeds, "dataset": first.dataset, "split": first.split, "stream": "+".join(streams),
            **copied, "hyperparameters": hp, "fused_from": [_fused_from(r) for r in runs],
            "checkpoint_hash": hashes[0] if len(hashes) == 1 else hashes,
            "runs_wall_time_s": round(sum(float(r.result.wall_time_s or 0) for r in runs), 2)}


def fuse_runs(run_dirs: list[str | Path], out: str | Path, weights: list[float] | None = None,
              method: str | None = None) -> RunRecord:
    """Fuse the streams of several evaluation runs by the (weighted) mean of their softmax scores, per seed;
    write ``out/results.json`` (and the streams' scores, so a fused run can be fused again) and return it.

    Runs must share the protocol, data (store content hash), split, training samples (the labelled subset of
    each seed), 3D / 2D view, test samples (ids and labels, in order), number of classes and seeds; each
    stream name may come from one run only. ``weights``: one per stream, in the order of the runs and of
    each run's streams.
    """
    t0 = time.time()
    claim_output(out, "fused", [("run", d) for d in run_dirs])
    runs = [read_scores(d) for d in run_dirs]
    streams = _streams(runs, weights)
    first, labels, seeds = runs[0].result, runs[0].labels, runs[0].result.seeds
    num_classes = int(first.num_classes or labels.max() + 1)
    per_stream = {s: sc for r in runs for s, sc in r.scores.items()}
    fused = [fuse_scores([per_stream[s][k] for s in streams], weights) for k in range(len(seeds))]
    env = environment()  # versions and device: gathered once
    mark_output(out, "fused")
    scores = write_scores(out, per_stream, seeds, runs[0].test_ids.numpy(), labels,
                          {"protocol": first.protocol, "dataset": str(first.dataset), "split": first.split,
                           "content_hash": str(first.data.content_hash)})
    record = RunRecord.model_validate({
        "protocol": first.protocol, **seed_summary(fused, labels, num_classes, seeds),
        "streams": stream_summaries(per_stream, labels, num_classes, seeds),
        **_fused_fields(runs, streams, weights, method),
        "environment": env, "git": git_state(), "version": env["versions"]["s2i"], "run_id": new_run_id(),
        "device": env["device"], "scores": scores, "wall_time_s": round(time.time() - t0, 2)})
    write_record(out, record)
    return record
