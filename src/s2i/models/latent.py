"""A latent target for masked pretraining: an EMA teacher's features of every patch (data2vec / I-JEPA family).

The teacher is an exponential moving average of the student backbone (the MAE's timm ViT). It sees the whole
image, with no mask; its target for each patch is the mean of its last ``layers`` block outputs, each
layer-normalised per token, layer-normalised again (data2vec's recipe; ``layers=1`` is I-JEPA's last-layer
target). The student predicts these features for the masked patches from the visible ones, which asks for
what a patch means rather than for its pixels. The momentum rises from ``momentum[0]`` to ``momentum[1]`` on
a cosine over the run (BYOL's schedule), as a function of the step only, so a resumed run repeats it.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EMATeacher", "ema_momentum"]


def ema_momentum(step: int, total: int, start: float, end: float = 1.0) -> float:
    """The teacher's momentum after optimizer step ``step`` of ``total``: ``start`` -> ``end`` on a cosine."""
    progress = min(1.0, max(0.0, step / max(1, total)))
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * progress))


class EMATeacher(nn.Module):
    """An exponential moving average of a timm ViT ``student``, always in eval mode and never trained."""

    def __init__(self, student: nn.Module, layers: int = 1) -> None:
        super().__init__()
        depth = len(getattr(student, "blocks", []))
        if not 1 <= layers <= depth:
            raise ValueError(f"latent layers must be in 1..{depth} (the backbone's blocks), got {layers}")
        self.layers = int(layers)
        self.model: Any = copy.deepcopy(student)
        self.model.requires_grad_(False)
        self.model.eval()

    def train(self, mode: bool = True) -> EMATeacher:
        """The teacher stays in eval mode (no dropout or drop path) whatever its parent's mode."""
        super().train(mode)
        self.model.eval()
        return self

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, H, W) -> targets (N, L, D) of every patch (prefix tokens dropped)."""
        outs = self.model.forward_intermediates(x, indices=self.layers, norm=False, output_fmt="NLC",
                                                intermediates_only=True)
        dim = outs[0].shape[-1]
        mean = torch.stack([F.layer_norm(o.float(), (dim,)) for o in outs]).mean(dim=0)
        return F.layer_norm(mean, (dim,))

    @torch.no_grad()
    def update(self, student: nn.Module, momentum: float) -> None:
        """teacher <- momentum x teacher + (1 - momentum) x student, parameters and floating buffers."""
        for tp, sp in zip(self.model.parameters(), student.parameters()):
            tp.lerp_(sp.detach().to(tp.dtype), 1.0 - momentum)
        for tb, sb in zip(self.model.buffers(), student.buffers()):
            if tb.is_floating_point():
                tb.copy_(sb)
