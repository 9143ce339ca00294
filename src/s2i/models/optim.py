"""What pretraining, the linear probe and fine-tuning share to optimise: the warm-up + cosine learning rate,
the weight-decay parameter groups (timm's) and the device "auto" means. One place, so the three agree."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["NO_DECAY_NAMES", "layer_decay_groups", "resolve_device", "step_schedule", "warmup_cosine",
           "weight_decay_groups"]

#: parameters without weight decay besides the 1-D ones (biases, norms): tokens and position embeddings (MAE)
NO_DECAY_NAMES = ("*token", "*pos_embed")


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float = 0.0, peak: float = 1.0) -> float:
    """The lr at ``step`` (0-based): linear warm-up to ``peak`` over ``warmup`` steps (``peak`` x (step + 1) /
    warmup), then half a cosine from ``peak`` to ``min_ratio`` x peak at ``total``, flat after (MAE's form).

    timm's ``CosineLRScheduler`` is not used: its warm-up starts at ``warmup_lr_init`` at step 0 (ours at
    peak / warmup, one step ahead), so the pinned schedules and resumed runs would move."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def step_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int, min_ratio: float) -> dict[str, Any]:
    """Lightning's optimiser config: ``optimizer`` with each group's lr times ``warmup_cosine``, stepped per step."""
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, warmup, total, min_ratio))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def weight_decay_groups(model: nn.Module, weight_decay: float,
                        no_decay: tuple[str, ...] = NO_DECAY_NAMES) -> list[dict[str, Any]]:
    """[with ``weight_decay``, without]: timm's grouping (1-D parameters, biases and names matching the
    ``no_decay`` patterns go without). Always these two groups in this order, the layout of the optimiser state
    in existing checkpoints (timm, asked for a weight decay of 0, would return one group)."""
    from timm.optim import param_groups_weight_decay

    split = param_groups_weight_decay(model, 1.0, no_weight_decay_list=no_decay)
    params = {g["weight_decay"]: g["params"] for g in split}
    return [{"params": params.get(1.0, []), "weight_decay": weight_decay},
            {"params": params.get(0.0, []), "weight_decay": 0.0}]


def layer_decay_groups(model: nn.Module, weight_decay: float, layer_decay: float, peak: float) -> list[dict[str, Any]]:
    """timm's layer-wise lr decay groups of a ViT, each with lr ``peak`` x its ``lr_scale``; no weight decay on
    1-D parameters and on the names the model's ``no_weight_decay()`` gives (tokens, position embedding)."""
    from timm.optim import param_groups_layer_decay

    no_wd: set[str] = getattr(model, "no_weight_decay", lambda: set())()
    groups = param_groups_layer_decay(model, weight_decay, no_wd, layer_decay=layer_decay)
    for g in groups:
        g["lr"] = peak * g.get("lr_scale", 1.0)
    return groups


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; "auto" is CUDA when a GPU is available, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
