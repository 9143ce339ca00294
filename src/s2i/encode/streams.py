"""Input streams (S2I.md 6): joint positions, bones (joint - parent), motion (x[t+1] - x[t])."""

from __future__ import annotations

import torch

from ..formats import FormatSpec
from .device import index_on

__all__ = ["apply_stream"]


def _bone(x: torch.Tensor, spec: FormatSpec) -> torch.Tensor:
    # Python ints (not the spec's NumPy array): constants of a compiled graph
    parents = index_on((i if p is None else spec.index(p) for i, p in enumerate(spec.parents)), x.device)
    return x - x[:, :, :, parents]


def _motion(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    d = torch.zeros_like(x)
    d[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    t = torch.arange(x.shape[2], device=x.device)
    keep = t[None, :] < (lengths[:, None] - 1)  # the last valid frame and padding have no successor
    return d * keep[:, None, :, None, None]


def apply_stream(x: torch.Tensor, spec: FormatSpec, stream: str, lengths: torch.Tensor) -> torch.Tensor:
    """x: (N, M, T, V, C) normalised positions -> the requested stream, same shape."""
    if stream == "joint":
        return x
    if stream == "bone":
        return _bone(x, spec)
    if stream == "motion":
        return _motion(x, lengths)
    if stream == "bone_motion":
        return _motion(_bone(x, spec), lengths)
    raise ValueError(f"unknown stream {stream!r}; expected joint, bone, motion or bone_motion")
