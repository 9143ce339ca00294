"""Linear probe on frozen features: BatchNorm1d without affine + one linear layer, SGD, cosine (MAE/MAMP).

Features are computed once (and may be cached on disk by the caller); the probe trains on them alone,
so a 100-epoch probe takes seconds on a CPU. With augmented views of the training sequences (features of
random crops and skeleton augmentations, computed once as well), each epoch draws one view per sequence
from the clean features and the augmented copies: MAE's on-the-fly probe augmentation, from a finite bank.
The reported number is the last epoch's; a validation
split carved from the training features (``val_fraction``, whole groups such as views with ``groups``) is
reported beside it, never the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..models.optim import warmup_cosine
from .metrics import fuse_views
from .subsets import held_out_groups, train_val_split

__all__ = ["LinearProbeConfig", "LinearProbeResult", "train_linear_probe"]


@dataclass(frozen=True)
class LinearProbeConfig:
    """Hyper-parameters of the probe (S2I.md 9: MAMP's head and optimiser, clean features by default)."""

    epochs: int = 100
    batch_size: int = 256
    base_lr: float = 0.1  # at batch 256; scaled linearly with the batch size
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_epochs: int = 0
    val_fraction: float = 0.0


@dataclass
class LinearProbeResult:
    """Test scores of the last epoch, the training loss per epoch, validation accuracy per epoch."""

    test_scores: torch.Tensor
    train_loss: list[float] = field(default_factory=list)
    val_top1: list[float] = field(default_factory=list)
    num_fit: int = 0  # training features the probe was fitted on (the rest of the training set: validation)
    num_val: int = 0
    val_groups: list[str] = field(default_factory=list)  # the groups held out (a group carve)


def train_linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                       num_classes: int, config: LinearProbeConfig | None = None, seed: int = 0,
                       groups: np.ndarray | None = None, train_views: torch.Tensor | None = None,
                       test_views: torch.Tensor | None = None, val_views: torch.Tensor | None = None,
                       ) -> LinearProbeResult:
    """Train the probe on (train_feats, train_labels) and score ``test_feats`` after the last epoch.

    ``train_views`` (K, N, D): augmented copies of ``train_feats``; each epoch fits each sequence on one of
    its K + 1 views, drawn at random. A validation carve is scored on the clean features of its sequences.
    ``test_views`` (J, N_test, D) / ``val_views`` (J, N, D): test-time windows of the test / training
    sequences; the test set (and the carve) is then scored by the log of the mean softmax over each
    sequence's features and its J windows.

    Runs on one CPU thread: the probe's tensors are small, and intra-op threads only add synchronisation
    (15x slower on a busy 2-core machine). Results do not depend on the thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_linear_probe(train_feats, train_labels, test_feats, num_classes, config, seed, groups,
                                   train_views, test_views, val_views)
    finally:
        torch.set_num_threads(threads)


def _train_linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                        num_classes: int, config: LinearProbeConfig | None, seed: int,
                        groups: np.ndarray | None, train_views: torch.Tensor | None,
                        test_views: torch.Tensor | None, val_views: torch.Tensor | None) -> LinearProbeResult:
    cfg = config or LinearProbeConfig()
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = train_feats.float(), train_labels.long()
    if train_views is not None and tuple(train_views.shape[1:]) != tuple(x.shape):
        raise ValueError(f"train_views {tuple(train_views.shape)} must be (K, {', '.join(map(str, x.shape))})")
    views = x[None] if train_views is None else torch.cat([x[None], train_views.float()])  # view 0: clean
    for name, v, n in (("test_views", test_views, len(test_feats)), ("val_views", val_views, len(x))):
        if v is not None and (v.dim() != 3 or v.shape[1] != n or v.shape[2] != x.shape[1]):
            raise ValueError(f"{name} {tuple(v.shape)} must be (J, {n}, {x.shape[1]})")
    val_x = val_y = val_w = None
    held: list[str] = []
    if cfg.val_fraction > 0:
        tr, va = train_val_split(y.numpy(), cfg.val_fraction, seed, groups)
        val_x, val_y = x[va], y[va]
        val_w = None if val_views is None else val_views[:, va].float()
        x, y, views = x[tr], y[tr], views[:, tr]
        held = held_out_groups(groups, va)
    fc = nn.Linear(x.shape[1], num_classes)
    nn.init.trunc_normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    head = nn.Sequential(nn.BatchNorm1d(x.shape[1], affine=False, eps=1e-6), fc)
    peak = cfg.base_lr * cfg.batch_size / 256
    opt = torch.optim.SGD(head.parameters(), lr=peak, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(x) / cfg.batch_size))
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    loss_fn = nn.CrossEntropyLoss()
    result = LinearProbeResult(test_scores=torch.empty(0), num_fit=len(y), num_val=0 if val_y is None else len(val_y),
                               val_groups=held)
    step = 0
    for _ in range(cfg.epochs):
        head.train()
        perm = torch.randperm(len(x), generator=g)
        pick = torch.randint(0, len(views), (len(x),), generator=g) if len(views) > 1 else None
        losses = []
        for s in range(0, len(x), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples; the remainder joins the next epoch
                continue
            for group in opt.param_groups:
                group["lr"] = warmup_cosine(step, warmup, total, peak=peak)
            xb = x[idx] if pick is None else views[pick[idx], idx]
            loss = loss_fn(head(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        result.train_loss.append(float(np.mean(losses)) if losses else float("nan"))
        if val_x is not None and val_y is not None and len(val_x):
            head.eval()
            with torch.no_grad():
                hit = torch.eq(_score(head, val_x, val_w).argmax(1), val_y)
                result.val_top1.append(100.0 * hit.float().mean().item())
    head.eval()
    with torch.no_grad():
        result.test_scores = _score(head, test_feats.float(), None if test_views is None else test_views.float())
    return result


def _score(head: nn.Module, x: torch.Tensor, windows: torch.Tensor | None) -> torch.Tensor:
    """Logits of ``x``; with test-time ``windows`` (J, N, D), the log of the mean softmax over x and them."""
    if windows is None:
        return head(x)
    return fuse_views([head(x), *(head(w) for w in windows)])
