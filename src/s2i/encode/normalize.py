"""Per-sequence normalisation (S2I.md 2): centre, view alignment, torso scale; missing-joint filling.

All functions take a batch (N, M, T, V, C) in torch (any device) and are vectorised over everything.
"""

from __future__ import annotations

import torch

from ..formats import FormatSpec

__all__ = ["fill_missing", "normalize", "first_valid_frame"]


def first_valid_frame(valid: torch.Tensor) -> torch.Tensor:
    """Index of the first True along the last axis (0 where none is)."""
    t = valid.shape[-1]
    ar = torch.arange(t, device=valid.device)
    return torch.where(valid, ar, t).amin(-1).remainder(t)


def _point(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Mean of the joints ``idx`` of person 0: (N, T, C), NaN where any of them is missing."""
    return x[:, 0][:, :, idx].mean(dim=2)


def _at(p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """p (N, T, C) sampled at frame f (N,) -> (N, C)."""
    return p.gather(1, f[:, None, None].expand(-1, 1, p.shape[-1])).squeeze(1)


def normalize(x: torch.Tensor, spec: FormatSpec, center: bool = True, rotate: bool = True,
              scale: bool = False) -> torch.Tensor:
    """Translate by the main person's centre in its first valid frame, align hips to x and spine
    to y (3D only), and optionally divide by the main person's mean torso length."""
    if not (center or rotate or scale):
        return x
    dev = x.device
    cidx = torch.as_tensor(spec.center_indices, device=dev)
    c = _point(x, cidx)
    cvalid = ~torch.isnan(c).any(-1)
    f0 = first_valid_frame(cvalid)
    origin = torch.nan_to_num(_at(c, f0))
    out = x - origin[:, None, None, None, :] if center else x
    if rotate and x.shape[-1] == 3 and (spec.hips or spec.shoulders):
        out = _align(out, spec, f0)
    if scale and spec.shoulders is not None:
        sidx = torch.as_tensor([spec.index(j) for j in spec.shoulders], device=dev)
        torso = torch.linalg.vector_norm(_point(x, sidx) - c, dim=-1)
        length = torch.nanmean(torso, dim=1)
        length = torch.where(torch.isfinite(length) & (length > 1e-6), length, torch.ones_like(length))
        out = out / length[:, None, None, None, None]
    return out


def _align(x: torch.Tensor, spec: FormatSpec, f0: torch.Tensor) -> torch.Tensor:
    """Rotate so the left->right hip (or shoulder) axis is +x and the spine is +y at frame f0."""
    dev = x.device
    pair = spec.hips or spec.shoulders
    assert pair is not None
    left = _at(_point(x, torch.as_tensor([spec.index(pair[0])], device=dev)), f0)
    right = _at(_point(x, torch.as_tensor([spec.index(pair[1])], device=dev)), f0)
    c = _at(_point(x, torch.as_tensor(spec.center_indices, device=dev)), f0)
    top_pair = spec.shoulders or spec.hips
    top = _at(_point(x, torch.as_tensor([spec.index(j) for j in top_pair], device=dev)), f0)
    ax = right - left
    ax = ax / torch.linalg.vector_norm(ax, dim=-1, keepdim=True)
    ay = top - c
    ay = ay - (ay * ax).sum(-1, keepdim=True) * ax
    ay = ay / torch.linalg.vector_norm(ay, dim=-1, keepdim=True)
    az = torch.linalg.cross(ax, ay, dim=-1)
    rot = torch.stack([ax, ay, az], dim=1)  # rows = new axes, (N, 3, 3)
    ok = torch.isfinite(rot).all(dim=(1, 2)) & (torch.linalg.vector_norm(top - c, dim=-1) > 1e-6)
    eye = torch.eye(3, dtype=x.dtype, device=dev).expand_as(rot)
    rot = torch.where(ok[:, None, None], rot, eye)
    return torch.einsum("nmtvc,ndc->nmtvd", x, rot)


def fill_missing(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Fill NaN joints with the last observed position of that joint (earlier frames: the next
    observed one); joints never observed become 0 (the centre)."""
    nan = torch.isnan(x).any(-1)  # (N, M, T, V)
    if not bool(nan.any()):
        return x
    if bool((nan.all(2) | ~nan.any(2)).all()):  # no partial gaps, e.g. an absent second person
        return torch.nan_to_num(x, nan=0.0)
    t = x.shape[2]
    ar = torch.arange(t, device=x.device)[None, None, :, None]
    valid = ~nan
    last = torch.where(valid, ar, -1).cummax(dim=2).values
    nxt = torch.where(valid, ar, t).flip(2).cummin(dim=2).values.flip(2)
    src = torch.where(last >= 0, last, nxt).clamp(0, t - 1)
    filled = x.gather(2, src.unsqueeze(-1).expand_as(x))
    return torch.nan_to_num(filled, nan=0.0)
