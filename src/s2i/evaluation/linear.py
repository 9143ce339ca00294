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
from collections.abc import Callable
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


def _check_views(x: torch.Tensor, n_test: int, train_views: torch.Tensor | None, test_views: torch.Tensor | None,
                 val_views: torch.Tensor | None) -> None:
    """The views' shapes against the features: (K, N, D) copies, (J, N_test, D) / (J, N, D) windows."""
    if train_views is not None and tuple(train_views.shape[1:]) != tuple(x.shape):
        raise ValueError(f"train_views {tuple(train_views.shape)} must be (K, {', '.join(map(str, x.shape))})")
    for name, v, n in (("test_views", test_views, n_test), ("val_views", val_views, len(x))):
        if v is not None and (v.dim() != 3 or v.shape[1] != n or v.shape[2] != x.shape[1]):
            raise ValueError(f"{name} {tuple(v.shape)} must be (J, {n}, {x.shape[1]})")


@dataclass
class _Data:
    """What the probe fits on (features, labels, views: clean first) and the validation carve, if any."""

    x: torch.Tensor
    y: torch.Tensor
    views: torch.Tensor
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    val_w: torch.Tensor | None = None  # test-time windows of the carve
    held: list[str] = field(default_factory=list)


def _carve(data: _Data, fraction: float, seed: int, groups: np.ndarray | None,
           val_views: torch.Tensor | None) -> _Data:
    """``data`` with a validation carve of ``fraction`` held out (whole groups when given); as is at 0."""
    if fraction <= 0:
        return data
    tr, va = train_val_split(data.y.numpy(), fraction, seed, groups)
    return _Data(data.x[tr], data.y[tr], data.views[:, tr], data.x[va], data.y[va],
                 None if val_views is None else val_views[:, va].float(), held_out_groups(groups, va))


def _head(dim: int, num_classes: int) -> nn.Module:
    """BatchNorm without affine + a linear layer (trunc-normal std 0.01, zero bias): MAE's probe head."""
    fc = nn.Linear(dim, num_classes)
    nn.init.trunc_normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), fc)


def _epoch(head: nn.Module, opt: torch.optim.Optimizer, data: _Data, cfg: LinearProbeConfig, g: torch.Generator,
           lr: Callable[[int], float], step: int) -> tuple[float, int]:
    """One epoch of SGD over a permutation (each sequence on one of its views, drawn from ``g``); the mean
    loss and the next step."""
    head.train()
    x, loss_fn = data.x, nn.CrossEntropyLoss()
    perm = torch.randperm(len(x), generator=g)
    pick = torch.randint(0, len(data.views), (len(x),), generator=g) if len(data.views) > 1 else None
    losses = []
    for s in range(0, len(x), cfg.batch_size):
        idx = perm[s:s + cfg.batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples; the remainder joins the next epoch
            continue
        for group in opt.param_groups:
            group["lr"] = lr(step)
        xb = x[idx] if pick is None else data.views[pick[idx], idx]
        loss = loss_fn(head(xb), data.y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
    return (float(np.mean(losses)) if losses else float("nan")), step


def _train_linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                        num_classes: int, config: LinearProbeConfig | None, seed: int,
                        groups: np.ndarray | None, train_views: torch.Tensor | None,
                        test_views: torch.Tensor | None, val_views: torch.Tensor | None) -> LinearProbeResult:
    cfg = config or LinearProbeConfig()
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = train_feats.float(), train_labels.long()
    _check_views(x, len(test_feats), train_views, test_views, val_views)
    views = x[None] if train_views is None else torch.cat([x[None], train_views.float()])  # view 0: clean
    data = _carve(_Data(x, y, views), cfg.val_fraction, seed, groups, val_views)
    head = _head(x.shape[1], num_classes)
    peak = cfg.base_lr * cfg.batch_size / 256
    opt = torch.optim.SGD(head.parameters(), lr=peak, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(data.x) / cfg.batch_size))
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    result = LinearProbeResult(test_scores=torch.empty(0), num_fit=len(data.y),
                               num_val=0 if data.val_y is None else len(data.val_y), val_groups=data.held)
    step = 0
    for _ in range(cfg.epochs):
        loss, step = _epoch(head, opt, data, cfg, g, lambda i: warmup_cosine(i, warmup, total, peak=peak), step)
        result.train_loss.append(loss)
        if data.val_x is not None and data.val_y is not None and len(data.val_x):
            head.eval()
            with torch.no_grad():
                hit = torch.eq(_score(head, data.val_x, data.val_w).argmax(1), data.val_y)
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
