"""Person slots: cut or pad the person axis to a fixed count (absent persons are NaN joints, 0 confidence)."""

from __future__ import annotations

import torch

__all__ = ["take_persons"]


def take_persons(x: torch.Tensor, persons: int, dim: int = 0, fill: float = float("nan")) -> torch.Tensor:
    """The first ``persons`` entries of axis ``dim``, padded with ``fill`` when there are fewer.

    NaN marks an absent person (the encoder fills it with the centre, so it draws as "no motion").
    """
    m = x.shape[dim]
    if m >= persons:
        return x.narrow(dim, 0, persons)
    shape = list(x.shape)
    shape[dim] = persons - m
    return torch.cat([x, torch.full(shape, fill, dtype=x.dtype, device=x.device)], dim=dim)
