"""The time map S (S2I.md 4b): which frames, with which weights, fill each image column.

Column ``w`` of sequence ``n`` blends frames ``t0`` and ``t1 = t0 + 1`` of that sequence's valid (or
cropped) frames; padded frames past a sequence's length are never sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .device import to_device

__all__ = ["TimeMap", "build_time_map", "draw_crop"]


@dataclass(frozen=True)
class TimeMap:
    """Per sequence and column: frame indices t0, t1 (N, W) and the weight of t1 (N, W)."""

    t0: torch.Tensor
    t1: torch.Tensor
    weight: torch.Tensor


def draw_crop(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The random draws of ``n`` temporal crops: (N, 2) float64 uniforms (fraction, start), on the CPU."""
    return torch.rand(n, 2, dtype=torch.float64, generator=generator)


def build_time_map(lengths: torch.Tensor, width: int, resample: str = "linear",
                   crop: tuple[float, float] | None = None,
                   generator: torch.Generator | None = None, crop_draws: torch.Tensor | None = None) -> TimeMap:
    """Resample each sequence's ``lengths[n]`` valid frames (or a random crop of them) to ``width`` columns.

    crop=(a, b): keep a random fraction in [a, b] of the valid frames, at a random start (training
    augmentation, S2I.md 4), from ``crop_draws`` (:func:`draw_crop`, drawn here from ``generator`` when not
    given); None keeps all frames.
    """
    if resample not in ("linear", "nearest"):
        raise ValueError(f"unknown time_resample {resample!r}; expected linear or nearest")
    lengths = lengths.to(torch.float64).clamp_min(1)
    device = lengths.device
    n = lengths.shape[0]
    if crop is None:
        start = torch.zeros(n, dtype=torch.float64, device=device)
        span = lengths
    else:
        r = to_device(draw_crop(n, generator) if crop_draws is None else crop_draws, device, torch.float64)
        frac = crop[0] + (crop[1] - crop[0]) * r[:, 0]
        span = torch.clamp(torch.round(lengths * frac), min=1.0)
        start = torch.floor(r[:, 1] * (lengths - span + 1)).clamp_max(lengths - span)
    u = torch.linspace(0.0, 1.0, width, dtype=torch.float64, device=device) if width > 1 else torch.zeros(
        1, dtype=torch.float64, device=device)
    pos = start[:, None] + u[None, :] * (span[:, None] - 1)
    if resample == "nearest":
        pos = torch.floor(pos + 0.5)
    last = (start + span - 1)[:, None]
    t0 = torch.minimum(pos.floor(), last)
    t1 = torch.minimum(t0 + 1, last)
    w = torch.where(t1 > t0, pos - t0, torch.zeros_like(pos))
    return TimeMap(t0.long(), t1.long(), w.float())
