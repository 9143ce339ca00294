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

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.augment_config import AugmentConfig
from ..encode import S2IEncoder
from ..models.export import export_folder
from ..models.optim import resolve_device
from ..outputs import claim_output, mark_output
from ..store import SkeletonStore
from .config import PROTOCOLS, EvalConfig
from .features import (
    TEST_DRAW,
    LoadedCheckpoint,
    augmented_features,
    default_cache_dir,
    encoder_for_store,
    load_checkpoint,
    split_features,
)
from .fusion import write_scores
from .knn import knn_scores
from .linear import LinearProbeConfig, train_linear_probe
from .metrics import classification_metrics, fuse_scores, seed_summary, stream_summaries
from .record import RunRecord, write_record
from .results import environment, git_state, new_run_id
from .subsets import group_values, per_class_subset

__all__ = ["default_split", "run_protocol"]


def default_split(store: SkeletonStore) -> str:
    """The store's first official split that has both a train and a test part."""
    for name, parts in store.splits.items():
        if "train" in parts and "test" in parts:
            return name
    raise ValueError(f"{store.path}: no split with 'train' and 'test' parts (splits: {sorted(store.splits)})")


def _base_method(protocol: str, cfg: EvalConfig) -> str:
    if protocol in ("linear", "knn", "finetune"):
        return protocol
    return {"semi": cfg.semi.method, "transfer": cfg.transfer.method, "cross-format": cfg.cross_format.method}[protocol]


class _Run:
    """State shared by the seeds and streams of one protocol run."""

    def __init__(self, protocol: str, ckpt: LoadedCheckpoint, store: SkeletonStore, split: str, cfg: EvalConfig,
                 progress: bool, out: Path) -> None:
        self.protocol, self.ckpt, self.store, self.split, self.cfg = protocol, ckpt, store, split, cfg
        self.out = out
        self.method = _base_method(protocol, cfg)
        self.progress = progress
        self.train_ids = store.split_ids(split, "train")
        self.test_ids = store.split_ids(split, "test")
        self.num_classes = int(store.manifest.get("num_classes") or int(store.labels.max()) + 1)
        self.train_labels = store.labels[self.train_ids].astype(np.int64)
        self.test_labels = torch.from_numpy(store.labels[self.test_ids].astype(np.int64))
        self.encoders: dict[str, S2IEncoder] = {
            s: encoder_for_store(ckpt, store, split, s, cfg.to_2d, cfg.encode)
            for s in cfg.streams}
        self.cache_dir = (Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()) if cfg.cache else None
        self.features: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self.feature_info: dict[str, Any] = {}
        self.augmented_info: dict[str, list[dict[str, Any]]] = {}
        self.window_info: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints = {ckpt.hash: ckpt}
        self.extra: dict[str, Any] = {}
        self.models: dict[str, list[dict[str, Any]]] = {}

    def checkpoint(self, seed: int) -> LoadedCheckpoint:
        """The model of one seed: the checkpoint; with init=random and init_per_seed, a random init per seed."""
        cfg = self.cfg
        if cfg.init != "random" or not cfg.init_per_seed or seed == cfg.seeds[0]:
            return self.ckpt
        c = load_checkpoint(self.ckpt.path, "random", cfg.init_seed + seed - cfg.seeds[0], "cpu")
        self.checkpoints.setdefault(c.hash, c)
        return self.checkpoints[c.hash]

    def frozen(self, stream: str, ckpt: LoadedCheckpoint) -> tuple[torch.Tensor, torch.Tensor]:
        """(train features, test features) of a stream and model, computed once (and cached on disk)."""
        if (stream, ckpt.hash) not in self.features:
            info = {}
            out = []
            for subset, ids in (("train", self.train_ids), ("test", self.test_ids)):
                f, _, i = split_features(ckpt, self.encoders[stream], self.store, self.split, subset, ids,
                                         self.cfg.pooling, self.cfg.batch_size, self.cfg.max_persons,
                                         self.cfg.to_2d, self.cache_dir, resolve_device(self.cfg.device), self.progress,
                                         self.cfg.feature_blocks)
                out.append(f)
                info[subset] = i
            self.features[(stream, ckpt.hash)] = (out[0], out[1])
            prev = self.feature_info.get(stream)
            if prev is None:
                self.feature_info[stream] = info
            else:  # several models (random init per seed): cached only when every one was
                for subset, i in info.items():
                    prev[subset] = {**prev[subset], "cached": prev[subset]["cached"] and i["cached"]}
        return self.features[(stream, ckpt.hash)]

    def save_model(self, res: Any, stream: str, seed: int) -> None:
        """Write the reported fine-tuned model of (stream, seed) to OUT/models/STREAM-seedS."""
        from ..models import export_files
        from .finetune import save_finetuned
        from .results import file_sha256

        name = f"{stream}-seed{seed}"
        mark_output(self.out, "eval")  # the first thing written into OUT: typed as ours (s2i.outputs)
        info = {"stream": stream, "seed": seed, "class_names": self.store.class_names,
                "source_checkpoint_hash": self.checkpoint(seed).hash, "protocol": self.protocol,
                "dataset": self.store.manifest.get("dataset"), "split": self.split}
        folder = save_finetuned(self.out / "models" / name, res, self.checkpoint(seed).model, self.cfg.pooling, info)
        self.models.setdefault(stream, []).append(
            {"seed": seed, "path": f"models/{name}", "sha256": file_sha256(export_files(folder)[1])})
        res.module = None  # the weights are on disk: free them

    def views(self, stream: str, ckpt: LoadedCheckpoint, seed: int, subset: str,
              test_time: bool) -> torch.Tensor | None:
        """(K, N, D) frozen features of the linear probe's views of the ``subset`` sequences, or None when off:
        its augmented training copies, or (``test_time``) its test-time windows of the test set or of the
        training set, whose validation carve is scored with them."""
        lc, cfg = self.cfg.linear, self.cfg
        count = lc.test_crops if test_time else lc.augmented_copies
        if count == 0 or (test_time and subset == "train" and lc.val_fraction == 0):
            return None
        feats, info = augmented_features(
            ckpt, self.encoders[stream], self.store, self.split, self.train_ids if subset == "train" else self.test_ids,
            AugmentConfig() if test_time else lc.augment, lc.temporal_crop, count, seed, cfg.pooling, cfg.batch_size,
            cfg.max_persons, cfg.to_2d, self.cache_dir, resolve_device(cfg.device), self.progress, cfg.feature_blocks,
            subset, TEST_DRAW if test_time else 0)
        record = self.window_info if test_time else self.augmented_info
        record.setdefault(stream, []).append({"seed": seed, **({"subset": subset} if test_time else {}), **info})
        return feats

    def scores(self, stream: str, pos: np.ndarray, seed: int) -> torch.Tensor:
        """Test scores (N_test, K) of one stream trained on training positions ``pos`` with ``seed``."""
        cfg = self.cfg
        y = torch.from_numpy(self.train_labels[pos])
        if self.method == "finetune":
            from .finetune import finetune

            res = finetune(self.checkpoint(seed).model, self.encoders[stream], self.store, self.split,
                           self.train_ids[pos], self.test_ids, self.num_classes, cfg.finetune, cfg.pooling, seed,
                           cfg.max_persons, cfg.batch_size, cfg.to_2d)
            self.extra.setdefault("finetune", {}).setdefault(stream, []).append(
                {"seed": seed, "num_fit_samples": res.num_fit, "num_val_samples": res.num_val,
                 **({"val_groups": res.val_groups} if cfg.finetune.val_group else {}),
                 "train_loss": res.train_loss, "train_top1": res.train_top1, "val_top1": res.val_top1,
                 "selected_epoch": res.selected_epoch, "wall_s": round(res.wall_s, 2),
                 **({"val_final_top1": res.val_final_top1} if res.val_final_top1 is not None else {})})
            if cfg.finetune.save_models:
                self.save_model(res, stream, seed)
            return res.test_scores
        train_f, test_f = self.frozen(stream, self.checkpoint(seed))
        if self.method == "knn":
            votes = knn_scores(train_f[pos], y, test_f, tuple(cfg.knn.ks), self.num_classes, cfg.knn.temperature)
            per_k = {str(k): classification_metrics(v, self.test_labels, self.num_classes)["top1"]
                     for k, v in votes.items()}
            self.extra.setdefault("knn_top1", {}).setdefault(stream, []).append(per_k)
            k = cfg.knn.report_k or max(cfg.knn.ks)
            if k not in votes:
                raise ValueError(f"knn.report_k={k} is not one of knn.ks {cfg.knn.ks}")
            v = votes[k]
            return (v / v.sum(1, keepdim=True).clamp_min(1e-12)).clamp_min(1e-12).log()  # fusable log-probabilities
        lc = cfg.linear
        probe = LinearProbeConfig(lc.epochs, lc.batch_size, lc.base_lr, lc.momentum, lc.weight_decay,
                                  lc.warmup_epochs, lc.val_fraction)
        groups = group_values(self.store, self.train_ids[pos], lc.val_group) if lc.val_group else None
        model = self.checkpoint(seed)
        copies, val_windows = (self.views(stream, model, seed, "train", t) for t in (False, True))
        probe_res = train_linear_probe(train_f[pos], y, test_f, self.num_classes, probe, seed, groups,
                                       None if copies is None else copies[:, pos],
                                       self.views(stream, model, seed, "test", True),
                                       None if val_windows is None else val_windows[:, pos])
        self.extra.setdefault("linear", {}).setdefault(stream, []).append(
            {"seed": seed, "num_fit_samples": probe_res.num_fit, "num_val_samples": probe_res.num_val,
             **({"val_groups": probe_res.val_groups} if lc.val_group else {}),
             "final_train_loss": round(probe_res.train_loss[-1], 6),
             "val_top1": [round(v, 4) for v in probe_res.val_top1]})
        return probe_res.test_scores


def _labelled_positions(run: _Run, seed: int) -> np.ndarray:
    if run.protocol == "semi":
        return per_class_subset(run.train_labels, run.cfg.semi.fraction, seed)
    return np.arange(len(run.train_ids))


def _evaluate(run: _Run) -> tuple[dict[str, Any], dict[str, list[torch.Tensor]]]:
    """(metrics of the fused streams, with each stream's when there are several; each stream's test scores
    per seed)."""
    cfg = run.cfg
    n_test = len(run.test_ids)
    per_stream: dict[str, list[torch.Tensor]] = {s: [] for s in cfg.streams}
    fused: list[torch.Tensor] = []
    labelled = []
    for seed in cfg.seeds:
        pos = _labelled_positions(run, seed)
        labelled.append({"seed": seed, "num_labelled": len(pos), "ids_sha256": _ids_hash(run.train_ids[pos]),
                         "checkpoint_hash": run.checkpoint(seed).hash})
        scores = [run.scores(s, pos, seed) for s in cfg.streams]
        for s, sc in zip(cfg.streams, scores):
            if sc.shape[0] != n_test:
                raise RuntimeError(f"stream {s}: {sc.shape[0]} test scores for {n_test} test samples")
            per_stream[s].append(sc)
        fused.append(fuse_scores(scores, cfg.stream_weights) if len(scores) > 1 else scores[0])
    result = seed_summary(fused, run.test_labels, run.num_classes, cfg.seeds)
    if len(cfg.streams) > 1:
        result["streams"] = stream_summaries(per_stream, run.test_labels, run.num_classes, cfg.seeds)
    result["labelled"] = labelled
    return result, per_stream


def _ids_hash(ids: np.ndarray) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()


def _hyperparameters(run: _Run) -> dict[str, Any]:
    cfg = run.cfg
    hp: dict[str, Any] = {"method": run.method, "pooling": cfg.pooling, "seeds": cfg.seeds,
                          run.method: getattr(cfg, run.method).model_dump(mode="json")}
    if run.method != "finetune":
        hp["feature_blocks"] = cfg.feature_blocks
    if run.protocol == "semi":
        hp["semi"] = cfg.semi.model_dump(mode="json")
    if len(cfg.streams) > 1:
        hp["fusion"] = {"streams": cfg.streams, "weights": cfg.stream_weights or [1.0] * len(cfg.streams),
                        "rule": "mean of softmax scores"}
    return hp


def run_protocol(name: str, checkpoint: str | Path, data: str | Path, out: str | Path, split: str | None = None,
                 config: EvalConfig | None = None, progress: bool = True) -> RunRecord:
    """Run protocol ``name`` for ``checkpoint`` (an exported encoder folder or a run folder holding
    ``encoder/``) on store ``data``; write ``out/results.json`` and return its content."""
    t0 = time.time()
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    cfg = config or EvalConfig()
    claim_output(out, "eval", [("--checkpoint", export_folder(checkpoint)), ("--data", data)])
    store = SkeletonStore(data)
    split = split or default_split(store)
    parts = store.splits.get(split, {})
    if "train" not in parts or "test" not in parts:
        store.split_ids(split, None)  # names the available splits when the split is unknown
        raise ValueError(f"{store.path}: split {split!r} needs 'train' and 'test' parts, has {sorted(parts)}")
    ckpt = load_checkpoint(checkpoint, cfg.init, cfg.init_seed, "cpu")
    fmt = store.format_spec.name
    trained_formats = list(ckpt.meta.get("formats", {}))
    if name == "cross-format" and fmt in trained_formats and not cfg.drop_depth:
        raise ValueError(f"cross-format: the checkpoint was trained on {fmt!r} ({trained_formats}); evaluate a"
                         " store of another format, or set drop_depth=true (3D -> 2D)")
    run = _Run(name, ckpt, store, split, cfg, progress, Path(out))
    result: dict[str, Any] = {"protocol": name}
    metrics, per_stream = _evaluate(run)
    result.update(metrics)
    folder = Path(ckpt.path)
    label = cfg.method or f"{cfg.init} {folder.parent.name if folder.name == 'encoder' else folder.name}"
    content_hash = store.manifest.get("content_hash")
    env = environment()  # versions and device: gathered once
    result.update({
        "method": label,
        "init": cfg.init,
        "seeds": cfg.seeds,
        "dataset": store.manifest.get("dataset"),
        "split": split,
        "stream": "+".join(cfg.streams),
        "num_train_samples": len(run.train_ids),
        "num_classes": run.num_classes,
        "class_names": store.class_names,
        "hyperparameters": _hyperparameters(run),
        "training": run.extra,
        "config": cfg.model_dump(mode="json"),
        "data": {"store": str(store.path), "dataset": store.manifest.get("dataset"), "format": fmt,
                 "dims_evaluated": 2 if cfg.drop_depth else store.dims, "content_hash": content_hash},
        "data_hashes": {str(store.manifest.get("dataset")): content_hash},
        "checkpoint": ckpt.describe(),
        "checkpoint_hash": ckpt.hash,
        "format": {"checkpoint_formats": trained_formats, "evaluated_format": fmt,
                   "format_seen_in_pretraining": fmt in trained_formats, "drop_depth": cfg.drop_depth,
                   **({"projection": cfg.projection} if cfg.drop_depth else {})},
        "encoders": {s: {"config": e.config.model_dump(mode="json"), "value_range": e.value_range}
                     for s, e in run.encoders.items()},
        "features": ({"computed_once": True, "cache_dir": str(run.cache_dir) if run.cache_dir else None,
                      "cached": {s: all(i["cached"] for i in v.values()) for s, v in run.feature_info.items()},
                      "cache_keys": {s: {k: i["key"] for k, i in v.items()} for s, v in run.feature_info.items()},
                      **({"augmented_copies": run.augmented_info} if run.augmented_info else {}),
                      **({"test_crops": run.window_info} if run.window_info else {})}
                     if run.feature_info else None),
        **({"models": run.models} if run.models else {}),
        "environment": env,
        "git": git_state(),
        "version": env["versions"]["s2i"],
        "run_id": new_run_id(),
    })
    result["device"] = env["device"]
    result["wall_time_s"] = round(time.time() - t0, 2)
    claim_output(out, "eval", ())  # re-checked: nothing foreign appeared there during the run
    mark_output(out, "eval")
    result["scores"] = write_scores(out, per_stream, cfg.seeds, run.test_ids, run.test_labels,
                                    {"protocol": name, "dataset": str(result["dataset"]), "split": split,
                                     "content_hash": str(content_hash)})
    record = RunRecord.model_validate(result)
    write_record(out, record)
    return record
