"""End-to-end fine-tuning of an exported encoder (MAE / MAMP recipe), as a LightningModule.

The S2I encoder sits inside the step, so images are made on the training device from raw joints.
AdamW with timm's layer-wise lr decay groups (``param_groups_layer_decay``), drop path, label smoothing,
optional timm ``Mixup``/CutMix on the images, linear warm-up then cosine per step.

Honest numbers: the reported model is the last epoch's, or (``select='val'``) the epoch with the best
accuracy on a validation split carved from the training set (whole views or subjects with ``val_group``) —
never chosen on the test set. Testing runs on one process over each test sample exactly once (a plain loop,
no distributed sampler padding).

The reported model can be saved (:func:`save_finetuned`) as an exported encoder folder (the fine-tuned
backbone and the S2I encoder of the evaluation store: every protocol can read it) plus its classification
head; :func:`load_finetuned` returns a :class:`FinetunedClassifier` that scores raw skeletons.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from ..data.augment import build_augment, seeded_generator
from ..data.dataset import SkeletonDataset, pad_collate
from ..encode import S2IEncoder
from ..lightning_progress import ProgressBar
from ..models import ExportedEncoder, create_backbone
from ..models.optim import layer_decay_groups, step_schedule
from ..store import SkeletonStore
from .config import FinetuneConfig
from .features import TEST_DRAW, Projection, to_image_plane
from .metrics import fuse_views
from .subsets import group_values, held_out_groups, train_val_split

__all__ = ["FinetuneModule", "FinetuneResult", "FinetunedClassifier", "build_classifier", "finetune",
           "load_finetuned", "predict", "save_finetuned"]

HEAD, CLASSIFIER = "head.safetensors", "classifier.json"
#: the most classes a saved classifier may have (its head is built before its weights are read)
MAX_CLASSES = 100_000


def build_classifier(model: ExportedEncoder, num_classes: int, pooling: str = "mean",
                     drop_path: float = 0.0) -> nn.Module:
    """A copy of the exported backbone with ``drop_path`` and a new linear head (trunc-normal std 2e-5, MAE)."""
    meta = model.meta
    backbone, _ = create_backbone(meta["backbone"], img_size=tuple(meta["img_size"]), patch_size=meta["patch_size"],
                                  drop_path_rate=drop_path, **meta.get("backbone_kwargs", {}))
    backbone.load_state_dict(model.backbone.state_dict(), strict=True)
    backbone.reset_classifier(num_classes, global_pool="avg" if pooling == "mean" else "token")  # type: ignore[operator]
    head: Any = backbone.head
    nn.init.trunc_normal_(head.weight, std=2e-5)
    nn.init.zeros_(head.bias)
    return backbone


class FinetuneModule(L.LightningModule):
    """Backbone + head trained end to end on S2I images made in the step."""

    def __init__(self, classifier: nn.Module, encoder: S2IEncoder, mean: torch.Tensor, std: torch.Tensor,
                 num_classes: int, cfg: FinetuneConfig, steps_per_epoch: int, to_2d: Projection | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.classifier, self.encoder = classifier, encoder
        self.register_buffer("mean", mean.detach().clone().view(1, 3, 1, 1))
        self.register_buffer("std", std.detach().clone().view(1, 3, 1, 1))
        self.cfg, self.num_classes, self.steps_per_epoch = cfg, num_classes, steps_per_epoch
        self.to_2d, self.seed = to_2d, seed
        self.augment = build_augment(cfg.augment, encoder.spec)
        self.mixup: Any = None
        if cfg.mixup > 0 or cfg.cutmix > 0:
            from timm.data import Mixup

            self.mixup = Mixup(mixup_alpha=cfg.mixup, cutmix_alpha=cfg.cutmix, label_smoothing=cfg.label_smoothing,
                               num_classes=num_classes)
        self.train_loss: list[float] = []
        self.train_top1: list[float] = []  # on the augmented training clips; empty with mixup/cutmix

    def images(self, batch: dict[str, Any], generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised S2I images of a batch; with a ``generator`` (training), the configured augmentations."""
        joints = batch["joints"]
        if self.to_2d is not None and joints.shape[-1] == 3:
            joints = to_image_plane(joints, self.to_2d)
        conf = batch.get("confidence")
        with torch.no_grad():
            img = self.encoder(joints, batch["length"], conf, generator=generator,
                               augment=self.augment if generator is not None else None)
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        std: torch.Tensor = self.std  # type: ignore[assignment]
        return (img - mean.to(img.dtype)) / std.to(img.dtype)

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.classifier(self.images(batch))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        # augmentation draws are a function of (seed, step), like the crops of (seed, epoch, sequence)
        x, y = self.images(batch, seeded_generator(self.seed, self.global_step, 0xF17E)), batch["label"]
        if self.mixup is not None:
            if len(x) % 2:  # timm's Mixup pairs samples: drop one from an odd batch
                x, y = x[:-1], y[:-1]
            x, target = self.mixup(x, y)
            loss = torch.sum(-target * torch.log_softmax(self.classifier(x), dim=-1), dim=-1).mean()
        else:
            logits = self.classifier(x)
            loss = nn.functional.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
            # with the test accuracy, this tells underfitting (both low) from overfitting (train far above)
            self.log("train_top1", 100.0 * (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True,
                     batch_size=len(y))
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def on_train_epoch_end(self) -> None:
        v = self.trainer.callback_metrics.get("train_loss")
        if v is not None:
            self.train_loss.append(float(v))
        acc = self.trainer.callback_metrics.get("train_top1")
        if acc is not None:
            self.train_top1.append(round(float(acc), 4))
        if self.cfg.epoch_log:
            import sys

            top1 = f", train top-1 {self.train_top1[-1]:.2f}" if self.train_top1 else ""
            print(f"finetune epoch {self.current_epoch + 1}/{self.cfg.epochs}: train loss"
                  f" {self.train_loss[-1] if self.train_loss else float('nan'):.4f}{top1}", file=sys.stderr, flush=True)

    def configure_optimizers(self) -> Any:
        cfg = self.cfg
        peak = cfg.base_lr * cfg.batch_size / 256
        groups = layer_decay_groups(self.classifier, cfg.weight_decay, cfg.layer_decay, peak)
        opt = torch.optim.AdamW(groups, lr=peak)
        total = max(1, cfg.epochs * self.steps_per_epoch)
        return step_schedule(opt, int(round(cfg.warmup_epochs * self.steps_per_epoch)), total, cfg.min_lr_ratio)


@torch.no_grad()
def predict(module: FinetuneModule, store: SkeletonStore, ids: np.ndarray, batch_size: int = 64,
            max_persons: int = 2, crops: int = 0, crop: tuple[float, float] | None = None,
            seed: int = 0) -> torch.Tensor:
    """(len(ids), K) scores, each sequence exactly once, on one process: the logits of the whole sequences;
    with ``crops`` > 0 (test-time augmentation), the log of the mean softmax over the whole sequence and
    ``crops`` random temporal windows of it (fractions ``crop``, drawn from (seed, crop k, sequence id))."""
    from .features import _batches

    module.eval()
    device = next(module.parameters()).device

    def scores(window: tuple[float, float] | None, draw: tuple[int, int]) -> torch.Tensor:
        out = []
        for batch in _batches(store, ids, batch_size, max_persons, crop=window, draw=draw):  # 3D -> 2D: in module
            b = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            out.append(module(b).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, module.num_classes)

    whole = scores(None, (seed, 0))
    if crops == 0:
        return whole
    if crop is None:
        raise ValueError("test-time crops need a crop range (finetune.temporal_crop)")
    return fuse_views([whole, *(scores(crop, (seed, TEST_DRAW + k)) for k in range(crops))])


class _Selector(L.Callback):
    """After each epoch: validation accuracy on the carve; keep the weights of the best (select='val')."""

    def __init__(self, store: SkeletonStore, val_ids: np.ndarray, batch_size: int, max_persons: int) -> None:
        self.store, self.val_ids, self.batch_size, self.max_persons = store, val_ids, batch_size, max_persons
        self.val_top1: list[float] = []
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        assert isinstance(pl_module, FinetuneModule)
        was = pl_module.training
        logits = predict(pl_module, self.store, self.val_ids, self.batch_size, self.max_persons)
        pl_module.train(was)
        y = torch.from_numpy(self.store.labels[self.val_ids].astype(np.int64))
        acc = 100.0 * (logits.argmax(1) == y).float().mean().item()
        self.val_top1.append(round(acc, 4))
        if self.best is None or acc > self.best[0]:
            state = {k: v.detach().clone() for k, v in pl_module.classifier.state_dict().items()}
            self.best = (acc, trainer.current_epoch, state)


@dataclass
class FinetuneResult:
    """Test logits of the reported model and the training record."""

    test_scores: torch.Tensor
    train_loss: list[float]
    val_top1: list[float]
    selected_epoch: int
    wall_s: float
    train_top1: list[float] = field(default_factory=list)
    num_fit: int = 0  # sequences trained on
    num_val: int = 0  # sequences held out of the training set for validation
    val_groups: list[str] = field(default_factory=list)  # the groups held out (finetune.val_group)
    module: FinetuneModule | None = None  # the reported model (for save_finetuned)
    val_final_top1: float | None = None  # the carve scored as the test set is (the reported model and predictor)


def _carve(store: SkeletonStore, train_ids: np.ndarray, cfg: FinetuneConfig,
           seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(training ids, validation ids, held-out groups): the validation carve of ``cfg`` (none at 0)."""
    if cfg.val_fraction > 0:
        groups = group_values(store, train_ids, cfg.val_group) if cfg.val_group else None
        tr, va = train_val_split(store.labels[train_ids], cfg.val_fraction, seed, groups)
        return train_ids[tr], train_ids[va], held_out_groups(groups, va)
    if cfg.select == "val":
        raise ValueError("finetune.select=val needs finetune.val_fraction > 0 (a validation carve of the training set)")
    return train_ids, np.zeros(0, dtype=np.int64), []


def _loader(store: SkeletonStore, split: str | None, train_ids: np.ndarray, cfg: FinetuneConfig, max_persons: int,
            seed: int) -> torch.utils.data.DataLoader:
    """Shuffled, seeded training batches of raw joints (crops: a function of seed, epoch and sequence)."""
    ds = SkeletonDataset(store, split, "train" if split is not None else None, temporal_crop=cfg.temporal_crop,
                         max_persons=max_persons, seed=seed)
    ds.ids = train_ids
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True,
                                       drop_last=len(ds) > cfg.batch_size, collate_fn=pad_collate,
                                       num_workers=cfg.num_workers, generator=g,
                                       pin_memory=torch.cuda.is_available() and cfg.accelerator != "cpu")


def _fit(module: FinetuneModule, loader: torch.utils.data.DataLoader, cfg: FinetuneConfig,
         selector: _Selector | None) -> None:
    """Lightning's fit of ``module``: no logger or checkpoints, Lightning's banners hidden."""
    import logging

    callbacks: list[L.Callback] = [ProgressBar()] if cfg.progress_bar else []
    if selector is not None:
        callbacks.append(selector)
    trainer = L.Trainer(max_epochs=cfg.epochs, accelerator=cfg.accelerator, devices=1, precision=cfg.precision,  # type: ignore[arg-type]
                        logger=False, enable_checkpointing=False, enable_progress_bar=cfg.progress_bar,
                        enable_model_summary=False, callbacks=callbacks, num_sanity_val_steps=0,
                        reload_dataloaders_every_n_epochs=0)
    trainer.callbacks.append(_EpochSetter(loader.dataset))  # type: ignore[attr-defined, arg-type]
    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.WARNING)  # no "GPU available" banners per seed; progress via cfg.progress_bar
    try:
        trainer.fit(module, loader)
    finally:
        log.setLevel(level)


def _val_final(module: FinetuneModule, store: SkeletonStore, val_ids: np.ndarray, selector: _Selector,
               selected: int, cfg: FinetuneConfig, batch_size: int, max_persons: int, seed: int) -> float:
    """The carve scored by the reported model and predictor, as the test set is (with its test-time crops)."""
    if not cfg.test_crops:
        return selector.val_top1[selected]
    y = torch.from_numpy(store.labels[val_ids].astype(np.int64))
    val_scores = predict(module, store, val_ids, batch_size, max_persons, cfg.test_crops, cfg.temporal_crop, seed)
    return round(100.0 * (val_scores.argmax(1) == y).float().mean().item(), 4)


def finetune(model: ExportedEncoder, encoder: S2IEncoder, store: SkeletonStore, split: str | None,
             train_ids: np.ndarray, test_ids: np.ndarray, num_classes: int, cfg: FinetuneConfig,
             pooling: str = "mean", seed: int = 0, max_persons: int | None = None, batch_size_eval: int = 64,
             to_2d: Projection | None = None) -> FinetuneResult:
    """Fine-tune on ``train_ids`` of ``store`` and score ``test_ids`` with the reported model."""
    import time

    t0 = time.time()
    L.seed_everything(seed, workers=True, verbose=False)
    mp = max_persons or encoder.config.max_persons
    train_ids, val_ids, held = _carve(store, np.asarray(train_ids, dtype=np.int64), cfg, seed)
    loader = _loader(store, split, train_ids, cfg, mp, seed)
    classifier = build_classifier(model, num_classes, pooling, cfg.drop_path)
    module = FinetuneModule(classifier, S2IEncoder.from_description(encoder.describe()), model.mean, model.std,
                            num_classes, cfg, len(loader), to_2d, seed)
    selector = _Selector(store, val_ids, batch_size_eval, mp) if len(val_ids) else None
    _fit(module, loader, cfg, selector)
    selected = cfg.epochs - 1
    if cfg.select == "val" and selector is not None and selector.best is not None:
        module.classifier.load_state_dict(selector.best[2])
        selected = selector.best[1]
    scores = predict(module, store, np.asarray(test_ids, dtype=np.int64), batch_size_eval, mp, cfg.test_crops,
                     cfg.temporal_crop, seed)
    val_final = None if selector is None else _val_final(module, store, val_ids, selector, selected, cfg,
                                                         batch_size_eval, mp, seed)
    return FinetuneResult(scores, module.train_loss, selector.val_top1 if selector else [], selected, time.time() - t0,
                          module.train_top1, len(train_ids), len(val_ids), held, module, val_final)


class _EpochSetter(L.Callback):
    """Crops are a function of (seed, epoch, sequence): tell the dataset the epoch."""

    def __init__(self, ds: SkeletonDataset) -> None:
        self.ds = ds

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.ds.set_epoch(trainer.current_epoch)


def save_finetuned(out: str | Path, result: FinetuneResult, model: ExportedEncoder, pooling: str,
                   info: dict[str, Any]) -> Path:
    """Write the reported model of a fine-tune into folder ``out``: ``model.safetensors`` + ``config.json``
    (an exported encoder: the fine-tuned backbone without its head, and the S2I encoder that made its
    images), ``head.safetensors`` (the linear head) and ``classifier.json`` (classes, pooling, 2D view, and
    ``info``: seed, stream, selected epoch, source checkpoint). Returns the folder."""
    from safetensors.torch import save_file

    from ..atomic import atomic_path
    from ..models import export_encoder

    module = result.module
    if module is None:
        raise ValueError("this fine-tune result holds no model to save")
    backbone: Any = copy.deepcopy(module.classifier).cpu()
    head = {k: v.detach().cpu().contiguous() for k, v in backbone.head.state_dict().items()}
    backbone.reset_classifier(0)
    meta = model.meta
    out = export_encoder(out, backbone, meta["backbone"], [module.encoder], meta.get("backbone_kwargs", {}),
                         model.mean.flatten().tolist(), model.std.flatten().tolist(),
                         {**meta.get("info", {}), "finetuned": True})
    with atomic_path(out / HEAD) as tmp:
        save_file(head, str(tmp))
    desc = {"kind": "s2i-finetuned-classifier", "version": 1, "num_classes": module.num_classes,
            "pooling": pooling, "to_2d": module.to_2d, "format": module.encoder.spec.name,
            "selected_epoch": result.selected_epoch, "test_crops": module.cfg.test_crops,
            "temporal_crop": module.cfg.temporal_crop, **info}
    with atomic_path(out / CLASSIFIER) as tmp:
        tmp.write_text(json.dumps(desc, indent=1) + "\n")
    return out


class FinetunedClassifier(nn.Module):
    """A fine-tuned model read back by :func:`load_finetuned`: raw skeletons -> class logits."""

    def __init__(self, module: FinetuneModule, meta: dict[str, Any]) -> None:
        super().__init__()
        self.module, self.meta = module, meta

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    def forward(self, joints: torch.Tensor, lengths: torch.Tensor | None = None,
                confidence: torch.Tensor | None = None) -> torch.Tensor:
        """(N, M, T, V, C) joints of the saved format (3D when the model saw 3D as 2D) -> (N, K) logits."""
        batch: dict[str, Any] = {"joints": joints, "length": lengths, "confidence": confidence}
        return self.module(batch)

    def predict(self, store: SkeletonStore, ids: np.ndarray, batch_size: int = 64) -> torch.Tensor:
        """(len(ids), K) scores of a store's sequences, each once, as the fine-tune scored its test set (with
        its test-time crops, if any)."""
        crop = self.meta.get("temporal_crop")
        return predict(self.module, store, np.asarray(ids, dtype=np.int64), batch_size,
                       self.module.encoder.config.max_persons, int(self.meta.get("test_crops") or 0),
                       None if crop is None else (float(crop[0]), float(crop[1])), int(self.meta.get("seed", 0)))


def load_finetuned(path: str | Path, device: str | torch.device = "cpu") -> FinetunedClassifier:
    """Read a folder written by :func:`save_finetuned` -> :class:`FinetunedClassifier` in eval mode."""
    from safetensors.torch import load_file

    from ..models import load_exported
    from ..models.export import read_description
    from ..models.validate import check_weights

    folder = Path(path)
    meta = read_description(folder, CLASSIFIER, "s2i-finetuned-classifier", "a fine-tuned s2i classifier")
    k = meta.get("num_classes")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_CLASSES or meta.get("pooling") not in (
            "mean", "cls"):
        raise ValueError(f"{folder / CLASSIFIER}: num_classes must be 1 to {MAX_CLASSES} and pooling mean or cls,"
                         f" got {k!r} and {meta.get('pooling')!r}")
    exported = load_exported(folder, "cpu")
    if meta.get("format") not in exported.formats:
        raise ValueError(f"{folder / CLASSIFIER}: format {meta.get('format')!r} is not one of the encoder's"
                         f" {exported.formats}")
    backbone: Any = exported.backbone
    backbone.reset_classifier(k, global_pool="avg" if meta["pooling"] == "mean" else "token")
    check_weights(folder / HEAD, {n: t.shape for n, t in backbone.head.state_dict().items()})
    backbone.head.load_state_dict(load_file(str(folder / HEAD)), strict=True)
    module = FinetuneModule(backbone, exported.encoder(meta["format"]), exported.mean, exported.std,
                            int(meta["num_classes"]), FinetuneConfig(), 1, meta.get("to_2d"))
    return FinetunedClassifier(module, meta).to(device).eval()
