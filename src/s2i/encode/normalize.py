"""Per-sequence normalisation (S2I.md 2): centre, view alignment, torso scale; missing-joint filling.

All functions take a batch (N, M, T, V, C) in torch (any device) and are vectorised over everything.
"""

from __future__ import annotations

import torch

from ..formats import FormatSpec
from .device import host_checks, index_on

__all__ = ["fill_missing", "normalize", "first_valid_frame"]


def first_valid_frame(valid: torch.Tensor) -> torch.Tensor:
    """Index of the first True along the last axis (0 where none is)."""
    t = valid.shape[-1]
    ar = torch.arange(t, device=valid.device)
    return torch.where(valid, ar, t).amin(-1).remainder(t)


def _joint_mean(frame: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Mean of joints ``idx`` in per-sequence frames (N, V, C) -> (N, C); NaN if any is missing."""
    return frame[:, idx].mean(dim=1)


def normalize(x: torch.Tensor, spec: FormatSpec, center: bool = True, rotate: bool = True,
              scale: bool = False) -> torch.Tensor:
    """Translate by the main person's centre in its first valid frame, align hips to x and spine
    to y (3D only; y-down formats are flipped instead when not rotated), and optionally divide by the
    main person's mean torso length."""
    if not (center or rotate or scale or spec.y_down):
        return x
    dev = x.device
    n = x.shape[0]
    cidx = index_on((spec.index(j) for j in spec.center), dev)  # Python ints: constants of a compiled graph
    main = x[:, 0]  # (N, T, V, C)
    c_all = main[:, :, cidx].mean(dim=2)  # (N, T, C)
    f0 = first_valid_frame(~torch.isnan(c_all).any(-1))
    first = main[torch.arange(n, device=dev), f0]  # (N, V, C): the main person's first valid frame
    c0 = _joint_mean(first, cidx)
    origin = torch.nan_to_num(c0) if center else torch.zeros_like(c0)
    do_rotate = rotate and x.shape[-1] == 3 and bool(spec.hips or spec.shoulders)
    if do_rotate:
        rot = _alignment(first, c0, spec).to(x.dtype)  # (N, 3, 3), rows = new axes
        # (x - origin) @ rot^T written as three broadcast multiply-adds: a batched matmul with an inner
        # size of 3 is several times slower on CPU
        xs = x - origin[:, None, None, None, :]
        rt = rot.transpose(1, 2)[:, None, None, None]  # (N, 1, 1, 1, 3 in, 3 out)
        out = xs[..., 0:1] * rt[..., 0, :]
        out.addcmul_(xs[..., 1:2], rt[..., 1, :]).addcmul_(xs[..., 2:3], rt[..., 2, :])
    else:
        out = x - origin[:, None, None, None, :]
        if spec.y_down:  # image coordinates: make y point up, as in every 3D format
            out[..., 1].neg_()
    if scale and spec.shoulders is not None:
        sidx = index_on((spec.index(j) for j in spec.shoulders), dev)
        torso = torch.linalg.vector_norm(main[:, :, sidx].mean(dim=2) - c_all, dim=-1)
        length = torch.nanmean(torso, dim=1)
        length = torch.where(torch.isfinite(length) & (length > 1e-6), length, torch.ones_like(length))
        out = out / length[:, None, None, None, None]
    return out


def _alignment(first: torch.Tensor, c: torch.Tensor, spec: FormatSpec) -> torch.Tensor:
    """Rotation (N, 3, 3) whose rows are the new axes: left->right hips (or shoulders) as +x, the spine
    (centre -> shoulders) orthogonalised as +y, z = x cross y. Identity where the pose is degenerate."""
    dev = first.device
    pair = spec.hips or spec.shoulders
    top_pair = spec.shoulders or spec.hips
    assert pair is not None and top_pair is not None
    left = first[:, spec.index(pair[0])]
    right = first[:, spec.index(pair[1])]
    top = _joint_mean(first, index_on((spec.index(j) for j in top_pair), dev))
    ax = right - left
    ax = ax / torch.linalg.vector_norm(ax, dim=-1, keepdim=True)
    ay = top - c
    ay = ay - (ay * ax).sum(-1, keepdim=True) * ax
    ay = ay / torch.linalg.vector_norm(ay, dim=-1, keepdim=True)
    az = torch.linalg.cross(ax, ay, dim=-1)
    rot = torch.stack([ax, ay, az], dim=1)
    ok = torch.isfinite(rot).all(dim=(1, 2)) & (torch.linalg.vector_norm(top - c, dim=-1) > 1e-6)
    eye = torch.eye(3, dtype=first.dtype, device=dev).expand_as(rot)
    return torch.where(ok[:, None, None], rot, eye)


def fill_missing(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Fill NaN joints with the last observed position of that joint (earlier frames: the next
    observed one); joints never observed become 0 (the centre)."""
    nan = torch.isnan(x).any(-1)  # (N, M, T, V)
    if host_checks(x.device):  # shortcuts with the same result; on a GPU, testing for them would wait
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
