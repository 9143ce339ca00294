"""The protocol methods behind one interface: linear probe, kNN and fine-tuning score one stream for one seed.

``run_protocol`` (:mod:`.protocols`) is the seed x stream loop; a :class:`ProtocolMethod` turns (stream,
labelled training positions, seed) into test scores (N_test, K) and keeps its per-seed training record
(the ``training`` section of results.json). What the methods share is explicit: :class:`EvalSetting` (the
split, its labels, the S2I encoder of each stream), :class:`Models` (the model of each seed) and
:class:`FrozenFeatures` (features computed once per stream and model, cached on disk).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..data.augment_config import AugmentConfig
from ..encode import S2IEncoder
from ..models.optim import resolve_device
from ..outputs import mark_output
from ..store import SkeletonStore
from .config import EvalConfig
from .features import (
    TEST_DRAW,
    LoadedCheckpoint,
    augmented_features,
    default_cache_dir,
    encoder_for_store,
    load_checkpoint,
    split_features,
)
from .knn import knn_scores
from .linear import LinearProbeConfig, train_linear_probe
from .metrics import classification_metrics
from .subsets import group_values

__all__ = ["METHODS", "EvalSetting", "FrozenFeatures", "Models", "ProtocolMethod", "base_method", "make_method"]


def base_method(protocol: str, cfg: EvalConfig) -> str:
    """The method a protocol runs: itself, or (semi, transfer, cross-format) the one its config names."""
    if protocol in ("linear", "knn", "finetune"):
        return protocol
    return {"semi": cfg.semi.method, "transfer": cfg.transfer.method, "cross-format": cfg.cross_format.method}[protocol]


@dataclass
class EvalSetting:
    """What every method of one run shares: the protocol and config, the store split and its labels, the S2I
    encoder of each stream, where the run writes and whether it shows progress."""

    protocol: str
    cfg: EvalConfig
    store: SkeletonStore
    split: str
    encoders: dict[str, S2IEncoder]
    out: Path
    progress: bool = True
    train_ids: np.ndarray = field(init=False)
    test_ids: np.ndarray = field(init=False)
    train_labels: np.ndarray = field(init=False)
    test_labels: torch.Tensor = field(init=False)
    num_classes: int = field(init=False)

    def __post_init__(self) -> None:
        store = self.store
        self.train_ids = store.split_ids(self.split, "train")
        self.test_ids = store.split_ids(self.split, "test")
        self.num_classes = int(store.manifest.get("num_classes") or int(store.labels.max()) + 1)
        self.train_labels = store.labels[self.train_ids].astype(np.int64)
        self.test_labels = torch.from_numpy(store.labels[self.test_ids].astype(np.int64))

    @classmethod
    def build(cls, protocol: str, ckpt: LoadedCheckpoint, store: SkeletonStore, split: str, cfg: EvalConfig,
              out: Path, progress: bool = True) -> EvalSetting:
        """The setting of a run of ``ckpt`` on ``store``'s ``split``: one S2I encoder per configured stream."""
        encoders: dict[str, S2IEncoder] = {s: encoder_for_store(ckpt, store, split, s, cfg.to_2d, cfg.encode)
                                           for s in cfg.streams}
        return cls(protocol, cfg, store, split, encoders, out, progress)

    @property
    def method(self) -> str:
        return base_method(self.protocol, self.cfg)


class Models:
    """The model of each seed: the checkpoint; with init=random and init_per_seed, a random init per seed
    (seed s uses init_seed + s - seeds[0]), each loaded once."""

    def __init__(self, ckpt: LoadedCheckpoint, cfg: EvalConfig) -> None:
        self.ckpt, self.cfg = ckpt, cfg
        self.loaded = {ckpt.hash: ckpt}

    def __call__(self, seed: int) -> LoadedCheckpoint:
        cfg = self.cfg
        if cfg.init != "random" or not cfg.init_per_seed or seed == cfg.seeds[0]:
            return self.ckpt
        c = load_checkpoint(self.ckpt.path, "random", cfg.init_seed + seed - cfg.seeds[0], "cpu")
        return self.loaded.setdefault(c.hash, c)


class FrozenFeatures:
    """Frozen features of each stream and model, computed once (and cached on disk), and the augmented or
    test-time views of the linear probe; :meth:`record` says what was computed and cached."""

    def __init__(self, setting: EvalSetting) -> None:
        self.setting = setting
        cfg = setting.cfg
        self.cache_dir = (Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()) if cfg.cache else None
        self.features: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.augmented_info: dict[str, list[dict[str, Any]]] = {}
        self.window_info: dict[str, list[dict[str, Any]]] = {}

    def _options(self) -> dict[str, Any]:
        cfg = self.setting.cfg
        return {"pooling": cfg.pooling, "batch_size": cfg.batch_size, "max_persons": cfg.max_persons,
                "to_2d": cfg.to_2d, "cache_dir": self.cache_dir, "device": resolve_device(cfg.device),
                "progress": self.setting.progress, "blocks": cfg.feature_blocks}

    def __call__(self, stream: str, ckpt: LoadedCheckpoint) -> tuple[torch.Tensor, torch.Tensor]:
        """(train features, test features) of a stream and model."""
        if (stream, ckpt.hash) not in self.features:
            s = self.setting
            info, out = {}, []
            for subset, ids in (("train", s.train_ids), ("test", s.test_ids)):
                f, _, i = split_features(ckpt, s.encoders[stream], s.store, s.split, subset, ids, **self._options())
                out.append(f)
                info[subset] = i
            self.features[(stream, ckpt.hash)] = (out[0], out[1])
            prev = self.info.setdefault(stream, info)
            for subset, i in info.items():  # several models (random init per seed): cached when every one was
                prev[subset] = {**prev[subset], "cached": prev[subset]["cached"] and i["cached"]}
        return self.features[(stream, ckpt.hash)]

    def views(self, stream: str, ckpt: LoadedCheckpoint, seed: int, subset: str,
              test_time: bool) -> torch.Tensor | None:
        """(K, N, D) frozen features of the linear probe's views of the ``subset`` sequences, or None when off:
        its augmented training copies, or (``test_time``) its test-time windows of the test set or of the
        training set, whose validation carve is scored with them."""
        s, lc = self.setting, self.setting.cfg.linear
        count = lc.test_crops if test_time else lc.augmented_copies
        if count == 0 or (test_time and subset == "train" and lc.val_fraction == 0):
            return None
        feats, info = augmented_features(
            ckpt, s.encoders[stream], s.store, s.split, s.train_ids if subset == "train" else s.test_ids,
            AugmentConfig() if test_time else lc.augment, lc.temporal_crop, count, seed, subset=subset,
            first_draw=TEST_DRAW if test_time else 0, **self._options())
        record = self.window_info if test_time else self.augmented_info
        record.setdefault(stream, []).append({"seed": seed, **({"subset": subset} if test_time else {}), **info})
        return feats

    def record(self) -> dict[str, Any] | None:
        """The ``features`` section of results.json (None when no frozen features were computed)."""
        if not self.info:
            return None
        return {"computed_once": True, "cache_dir": str(self.cache_dir) if self.cache_dir else None,
                "cached": {s: all(i["cached"] for i in v.values()) for s, v in self.info.items()},
                "cache_keys": {s: {k: i["key"] for k, i in v.items()} for s, v in self.info.items()},
                **({"augmented_copies": self.augmented_info} if self.augmented_info else {}),
                **({"test_crops": self.window_info} if self.window_info else {})}


class ProtocolMethod(ABC):
    """One evaluation method: test scores of one stream trained on some training positions with one seed;
    each call's training record is kept per stream under :attr:`record_key` of ``training``."""

    #: the key of this method's records in the ``training`` section of results.json
    record_key: ClassVar[str]

    def __init__(self, setting: EvalSetting, models: Models, features: FrozenFeatures) -> None:
        self.setting, self.models, self.features = setting, models, features
        self.records: dict[str, list[dict[str, Any]]] = {}

    @abstractmethod
    def scores(self, stream: str, pos: np.ndarray, seed: int) -> torch.Tensor:
        """Test scores (N_test, K) of ``stream`` trained on the training positions ``pos`` with ``seed``."""

    def training(self) -> dict[str, Any]:
        """The ``training`` section of results.json."""
        return {self.record_key: self.records} if self.records else {}

    def saved_models(self) -> dict[str, list[dict[str, Any]]]:
        """The models a method saved beside results.json, by stream (none by default)."""
        return {}

    def _keep(self, stream: str, record: dict[str, Any]) -> None:
        self.records.setdefault(stream, []).append(record)


class Knn(ProtocolMethod):
    """Cosine kNN on frozen features; scores: the log-probabilities of ``knn.report_k``'s votes."""

    record_key = "knn_top1"

    def scores(self, stream: str, pos: np.ndarray, seed: int) -> torch.Tensor:
        s, kc = self.setting, self.setting.cfg.knn
        train_f, test_f = self.features(stream, self.models(seed))
        y = torch.from_numpy(s.train_labels[pos])
        votes = knn_scores(train_f[pos], y, test_f, tuple(kc.ks), s.num_classes, kc.temperature)
        self._keep(stream, {str(k): classification_metrics(v, s.test_labels, s.num_classes)["top1"]
                            for k, v in votes.items()})
        k = kc.report_k or max(kc.ks)
        if k not in votes:
            raise ValueError(f"knn.report_k={k} is not one of knn.ks {kc.ks}")
        v = votes[k]
        return (v / v.sum(1, keepdim=True).clamp_min(1e-12)).clamp_min(1e-12).log()  # fusable log-probabilities


class LinearProbe(ProtocolMethod):
    """BN + linear probe on frozen features (and on augmented copies / test-time windows when configured)."""

    record_key = "linear"

    def scores(self, stream: str, pos: np.ndarray, seed: int) -> torch.Tensor:
        s, lc = self.setting, self.setting.cfg.linear
        model = self.models(seed)
        train_f, test_f = self.features(stream, model)
        probe = LinearProbeConfig(lc.epochs, lc.batch_size, lc.base_lr, lc.momentum, lc.weight_decay,
                                  lc.warmup_epochs, lc.val_fraction)
        groups = group_values(s.store, s.train_ids[pos], lc.val_group) if lc.val_group else None
        copies, val_windows = (self.features.views(stream, model, seed, "train", t) for t in (False, True))
        res = train_linear_probe(train_f[pos], torch.from_numpy(s.train_labels[pos]), test_f, s.num_classes,
                                 probe, seed, groups, train_views=None if copies is None else copies[:, pos],
                                 test_views=self.features.views(stream, model, seed, "test", True),
                                 val_views=None if val_windows is None else val_windows[:, pos])
        self._keep(stream, {"seed": seed, "num_fit_samples": res.num_fit, "num_val_samples": res.num_val,
                            **({"val_groups": res.val_groups} if lc.val_group else {}),
                            "final_train_loss": round(res.train_loss[-1], 6),
                            "val_top1": [round(v, 4) for v in res.val_top1]})
        return res.test_scores


class Finetune(ProtocolMethod):
    """End-to-end fine-tuning of the seed's model; the reported model saved under OUT/models when asked."""

    record_key = "finetune"

    def __init__(self, setting: EvalSetting, models: Models, features: FrozenFeatures) -> None:
        super().__init__(setting, models, features)
        self.saved: dict[str, list[dict[str, Any]]] = {}

    def scores(self, stream: str, pos: np.ndarray, seed: int) -> torch.Tensor:
        from .finetune import finetune

        s, cfg = self.setting, self.setting.cfg
        res = finetune(self.models(seed).model, s.encoders[stream], s.store, s.split, s.train_ids[pos], s.test_ids,
                       s.num_classes, cfg.finetune, cfg.pooling, seed, cfg.max_persons, cfg.batch_size, cfg.to_2d)
        self._keep(stream, {"seed": seed, "num_fit_samples": res.num_fit, "num_val_samples": res.num_val,
                            **({"val_groups": res.val_groups} if cfg.finetune.val_group else {}),
                            "train_loss": res.train_loss, "train_top1": res.train_top1, "val_top1": res.val_top1,
                            "selected_epoch": res.selected_epoch, "wall_s": round(res.wall_s, 2),
                            **({"val_final_top1": res.val_final_top1} if res.val_final_top1 is not None else {})})
        if cfg.finetune.save_models:
            self._save(res, stream, seed)
        return res.test_scores

    def _save(self, res: Any, stream: str, seed: int) -> None:
        """Write the reported fine-tuned model of (stream, seed) to OUT/models/STREAM-seedS."""
        from ..models import export_files
        from .finetune import save_finetuned
        from .results import file_sha256

        s, name, model = self.setting, f"{stream}-seed{seed}", self.models(seed)
        mark_output(s.out, "eval")  # the first thing written into OUT: typed as ours (s2i.outputs)
        info = {"stream": stream, "seed": seed, "class_names": s.store.class_names,
                "source_checkpoint_hash": model.hash, "protocol": s.protocol,
                "dataset": s.store.manifest.get("dataset"), "split": s.split}
        folder = save_finetuned(s.out / "models" / name, res, model.model, s.cfg.pooling, info)
        self.saved.setdefault(stream, []).append(
            {"seed": seed, "path": f"models/{name}", "sha256": file_sha256(export_files(folder)[1])})
        res.module = None  # the weights are on disk: free them

    def saved_models(self) -> dict[str, list[dict[str, Any]]]:
        return self.saved


#: method name -> its class
METHODS: dict[str, type[ProtocolMethod]] = {"linear": LinearProbe, "knn": Knn, "finetune": Finetune}


def make_method(setting: EvalSetting, models: Models, features: FrozenFeatures) -> ProtocolMethod:
    """The method of the setting's protocol (semi / transfer / cross-format: the one their config names)."""
    return METHODS[setting.method](setting, models, features)
