"""``run_protocol``: one evaluation protocol of the field on one store split, written to ``OUT/results.json``.

Protocols (S2I.md 9): ``linear`` (frozen features -> BN + linear, SGD), ``knn`` (cosine, several k),
``finetune`` (end to end), ``semi`` (a per-class labelled fraction per seed, then finetune / linear / knn),
``transfer`` (a checkpoint pretrained on data set A evaluated on store B) and ``cross-format`` (a store
whose skeleton format the checkpoint was not trained on, or 3D data seen as 2D with ``drop_depth``).
Each stream of ``config.streams`` is evaluated alone and, when there are several, fused by averaging
softmax scores. The split's ``train`` part trains, its ``test`` part tests; every test sample is scored
exactly once. Several seeds give mean ± std. Each stream's test scores per seed are saved beside
results.json (``scores.safetensors``), so runs made apart can be fused later (:mod:`.fusion`).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.export import export_folder
from ..outputs import claim_output, mark_output
from ..store import SkeletonStore
from .config import PROTOCOLS, EvalConfig
from .features import LoadedCheckpoint, load_checkpoint
from .fusion import write_scores
from .methods import EvalSetting, FrozenFeatures, Models, ProtocolMethod, make_method
from .metrics import fuse_scores, seed_summary, stream_summaries
from .record import RunRecord, write_record
from .results import environment, git_state, new_run_id
from .subsets import per_class_subset

__all__ = ["default_split", "run_protocol"]


def default_split(store: SkeletonStore) -> str:
    """The store's first official split that has both a train and a test part."""
    for name, parts in store.splits.items():
        if "train" in parts and "test" in parts:
            return name
    raise ValueError(f"{store.path}: no split with 'train' and 'test' parts (splits: {sorted(store.splits)})")


def _labelled_positions(setting: EvalSetting, seed: int) -> np.ndarray:
    """The training positions a seed trains on: a per-class fraction (semi), else all of them."""
    if setting.protocol == "semi":
        return per_class_subset(setting.train_labels, setting.cfg.semi.fraction, seed)
    return np.arange(len(setting.train_ids))


def _ids_hash(ids: np.ndarray) -> str:
    return "sha256:" + hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()


def _evaluate(setting: EvalSetting, models: Models,
              method: ProtocolMethod) -> tuple[dict[str, Any], dict[str, list[torch.Tensor]]]:
    """The seed x stream loop: (metrics of the fused streams, with each stream's when there are several;
    each stream's test scores per seed)."""
    cfg, n_test = setting.cfg, len(setting.test_ids)
    per_stream: dict[str, list[torch.Tensor]] = {s: [] for s in cfg.streams}
    fused: list[torch.Tensor] = []
    labelled = []
    for seed in cfg.seeds:
        pos = _labelled_positions(setting, seed)
        labelled.append({"seed": seed, "num_labelled": len(pos), "ids_sha256": _ids_hash(setting.train_ids[pos]),
                         "checkpoint_hash": models(seed).hash})
        scores = [method.scores(s, pos, seed) for s in cfg.streams]
        for s, sc in zip(cfg.streams, scores):
            if sc.shape[0] != n_test:
                raise RuntimeError(f"stream {s}: {sc.shape[0]} test scores for {n_test} test samples")
            per_stream[s].append(sc)
        fused.append(fuse_scores(scores, cfg.stream_weights) if len(scores) > 1 else scores[0])
    result = seed_summary(fused, setting.test_labels, setting.num_classes, cfg.seeds)
    if len(cfg.streams) > 1:
        result["streams"] = stream_summaries(per_stream, setting.test_labels, setting.num_classes, cfg.seeds)
    result["labelled"] = labelled
    return result, per_stream


def _hyperparameters(setting: EvalSetting) -> dict[str, Any]:
    cfg, method = setting.cfg, setting.method
    hp: dict[str, Any] = {"method": method, "pooling": cfg.pooling, "seeds": cfg.seeds,
                          method: getattr(cfg, method).model_dump(mode="json")}
    if method != "finetune":
        hp["feature_blocks"] = cfg.feature_blocks
    if setting.protocol == "semi":
        hp["semi"] = cfg.semi.model_dump(mode="json")
    if len(cfg.streams) > 1:
        hp["fusion"] = {"streams": cfg.streams, "weights": cfg.stream_weights or [1.0] * len(cfg.streams),
                        "rule": "mean of softmax scores"}
    return hp


def _open(name: str, checkpoint: str | Path, data: str | Path, out: str | Path, split: str | None,
          cfg: EvalConfig) -> tuple[SkeletonStore, str, LoadedCheckpoint]:
    """Check the protocol, --out, the split and (cross-format) the store's format; load the checkpoint."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    claim_output(out, "eval", [("--checkpoint", export_folder(checkpoint)), ("--data", data)])
    store = SkeletonStore(data)
    split = split or default_split(store)
    parts = store.splits.get(split, {})
    if "train" not in parts or "test" not in parts:
        store.split_ids(split, None)  # names the available splits when the split is unknown
        raise ValueError(f"{store.path}: split {split!r} needs 'train' and 'test' parts, has {sorted(parts)}")
    ckpt = load_checkpoint(checkpoint, cfg.init, cfg.init_seed, "cpu")
    fmt, trained = store.format_spec.name, list(ckpt.meta.get("formats", {}))
    if name == "cross-format" and fmt in trained and not cfg.drop_depth:
        raise ValueError(f"cross-format: the checkpoint was trained on {fmt!r} ({trained}); evaluate a"
                         " store of another format, or set drop_depth=true (3D -> 2D)")
    return store, split, ckpt


def _described(setting: EvalSetting, ckpt: LoadedCheckpoint, method: ProtocolMethod,
               features: FrozenFeatures) -> dict[str, Any]:
    """What a record says besides its metrics: what was evaluated, on which data, how."""
    cfg, store = setting.cfg, setting.store
    folder = Path(ckpt.path)
    fmt, trained = store.format_spec.name, list(ckpt.meta.get("formats", {}))
    content_hash, dataset = store.manifest.get("content_hash"), store.manifest.get("dataset")
    models = method.saved_models()
    return {
        "method": cfg.method or f"{cfg.init} {folder.parent.name if folder.name == 'encoder' else folder.name}",
        "init": cfg.init, "seeds": cfg.seeds, "dataset": dataset, "split": setting.split,
        "stream": "+".join(cfg.streams), "num_train_samples": len(setting.train_ids),
        "num_classes": setting.num_classes, "class_names": store.class_names,
        "hyperparameters": _hyperparameters(setting), "training": method.training(),
        "config": cfg.model_dump(mode="json"),
        "data": {"store": str(store.path), "dataset": dataset, "format": fmt,
                 "dims_evaluated": 2 if cfg.drop_depth else store.dims, "content_hash": content_hash},
        "data_hashes": {str(dataset): content_hash}, "checkpoint": ckpt.describe(), "checkpoint_hash": ckpt.hash,
        "format": {"checkpoint_formats": trained, "evaluated_format": fmt, "format_seen_in_pretraining": fmt in trained,
                   "drop_depth": cfg.drop_depth, **({"projection": cfg.projection} if cfg.drop_depth else {})},
        "encoders": {s: {"config": e.config.model_dump(mode="json"), "value_range": e.value_range}
                     for s, e in setting.encoders.items()},
        "features": features.record(), **({"models": models} if models else {})}


def run_protocol(name: str, checkpoint: str | Path, data: str | Path, out: str | Path, split: str | None = None,
                 config: EvalConfig | None = None, progress: bool = True) -> RunRecord:
    """Run protocol ``name`` for ``checkpoint`` (an exported encoder folder or a run folder holding
    ``encoder/``) on store ``data``; write ``out/results.json`` and return its record."""
    t0 = time.time()
    cfg = config or EvalConfig()
    store, split, ckpt = _open(name, checkpoint, data, out, split, cfg)
    setting = EvalSetting.build(name, ckpt, store, split, cfg, Path(out), progress)
    models, features = Models(ckpt, cfg), FrozenFeatures(setting)
    method = make_method(setting, models, features)
    metrics, per_stream = _evaluate(setting, models, method)
    env = environment()  # versions and device: gathered once
    result = {"protocol": name, **metrics, **_described(setting, ckpt, method, features), "environment": env,
              "git": git_state(), "version": env["versions"]["s2i"], "run_id": new_run_id(), "device": env["device"],
              "wall_time_s": round(time.time() - t0, 2)}
    claim_output(out, "eval", ())  # re-checked: nothing foreign appeared there during the run
    mark_output(out, "eval")
    result["scores"] = write_scores(out, per_stream, cfg.seeds, setting.test_ids, setting.test_labels,
                                    {"protocol": name, "dataset": str(result["dataset"]), "split": split,
                                     "content_hash": str(store.manifest.get("content_hash"))})
    record = RunRecord.model_validate(result)
    write_record(out, record)
    return record
