"""MAE reconstructions of a pretraining run: the module rebuilt from ``config.yaml`` + the checkpoint.

The MAE (models/mae.py) predicts each masked patch in per-patch-normalised units when ``norm_pix_loss``
is on; for display the prediction is de-normalised with the *target* patch's own mean and standard
deviation (as the MAE paper's figures do), then the backbone's input normalisation is undone, giving an
image in [0, 1]. The reconstructed image shows the visible patches of the input and the predicted masked
ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["MASKED_GREY", "Reconstruction", "load_pretrain_module", "reconstruct", "run_checkpoint"]

#: the grey of masked patches in the "masked" image (darker than the mid grey of an absent person)
MASKED_GREY = 0.15


@dataclass
class Reconstruction:
    """(N, 3, H, W) images in [0, 1]: the input, the input with masked patches greyed, the reconstruction;
    ``mask`` (N, L) with 1 = masked; ``loss`` the per-sample MAE loss on its masked patches."""

    original: np.ndarray
    masked: np.ndarray
    reconstructed: np.ndarray
    mask: np.ndarray
    loss: np.ndarray


def run_checkpoint(run: Path) -> Path | None:
    """The run's ``checkpoints/last.ckpt``, else its newest complete checkpoint, else None."""
    from ..training.fit import find_resume_checkpoint

    last = run / "checkpoints" / "last.ckpt"
    return last if last.is_file() else find_resume_checkpoint(run)


def _formats(run: Path, provenance: dict[str, Any]) -> dict[str, tuple[Any, tuple[list[float], list[float]]]]:
    """{format: (FormatSpec, value range)} of the run: specs from the exported encoder (else the registry),
    ranges from provenance.json (the union over stores of a format, as pretraining does)."""
    from ..formats import FormatSpec, get_format

    specs: dict[str, FormatSpec] = {}
    meta = next((m for m in (run / "encoder" / "config.json", run / "encoder" / "encoder.json") if m.is_file()), None)
    if meta is not None:
        for name, desc in json.loads(meta.read_text()).get("formats", {}).items():
            specs[name] = FormatSpec.from_dict(desc["format"], source=str(meta))
    out: dict[str, tuple[Any, tuple[list[float], list[float]]]] = {}
    for s in provenance.get("stores") or []:
        fmt, vr = s["format"], s["value_range"]
        lo, hi = list(vr["lo"]), list(vr["hi"])
        if fmt in out:
            plo, phi = out[fmt][1]
            lo, hi = [min(a, b) for a, b in zip(plo, lo)], [max(a, b) for a, b in zip(phi, hi)]
        out[fmt] = (specs.get(fmt) or get_format(fmt), (lo, hi))
    return out


def load_pretrain_module(run: Path, provenance: dict[str, Any]) -> Any:
    """The run's ``MAEPretrainModule`` with the checkpoint's weights (``weights_only`` loading), in eval mode."""
    from ..training.config import load_config
    from ..training.pretrain_module import MAEPretrainModule

    ckpt = run_checkpoint(run)
    if ckpt is None:
        raise FileNotFoundError(f"{run}: no checkpoint in checkpoints/")
    config = load_config(run / "config.yaml")
    module = MAEPretrainModule(config, _formats(run, provenance), total_steps=1, warmup_steps=0, total_batch=1,
                               load_init=False)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    return module.eval()


def _unpatchify(patches: torch.Tensor, patch: int, grid: tuple[int, int]) -> torch.Tensor:
    """(N, L, p*p*3) -> (N, 3, H, W), the inverse of models.mae.patchify."""
    n = patches.shape[0]
    gh, gw = grid
    x = patches.reshape(n, gh, gw, patch, patch, 3)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(n, 3, gh * patch, gw * patch)


@torch.no_grad()
def reconstruct(module: Any, fmt: str, joints: torch.Tensor, lengths: torch.Tensor, seed: int = 0,
                confidence: torch.Tensor | None = None) -> Reconstruction:
    """Encode ``joints`` (N, M, T, V, C) (+ ``confidence`` (N, M, T, V) for 2D data) with the run's ``fmt``
    encoder (no augmentation, no crop), mask with a generator seeded by ``seed`` and reconstruct (see the
    module docstring)."""
    from ..models.mae import norm_patches, patchify

    mae = module.mae
    images = module.encoders[fmt](joints.float(), lengths, confidence)
    x = mae.normalize(images)
    noise = mae.draw_noise(x, torch.Generator().manual_seed(seed))
    latent, mask, ids_restore = mae.forward_encoder(x, noise)
    full = mae.forward_decoder(latent, ids_restore).float()
    targets = mae.targets(x)
    per_patch = torch.stack([((p - (norm_patches(t) if mae.norm_pix_loss else t)) ** 2).mean(-1)
                             for t, p in zip(targets, full.chunk(len(targets), dim=-1))]).sum(0)
    loss = (per_patch * mask).sum(1) / (mask.sum(1).clamp_min(1) * len(targets))
    target = patchify(x, mae.patch).float()
    # the pixel prediction comes first (target "both"); a motion-only model predicts no pixels: its masked
    # patches are shown as they are
    if mae.target == "motion":
        pred = norm_patches(target) if mae.norm_pix_loss else target
    else:
        pred = full[..., : target.shape[-1]]
    if mae.norm_pix_loss:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        pred = pred * (var + 1.0e-6) ** 0.5 + mean
    m = mask.unsqueeze(-1)
    mixed = target * (1 - m) + pred * m
    std, mu = mae.std.float(), mae.mean.float()
    recon = _unpatchify(mixed, mae.patch, mae.grid) * std + mu
    hidden = _unpatchify(m.expand_as(target), mae.patch, mae.grid) > 0.5
    masked_img = torch.where(hidden, torch.full_like(images, MASKED_GREY), images)
    return Reconstruction(images.clamp(0, 1).numpy(), masked_img.clamp(0, 1).numpy(), recon.clamp(0, 1).numpy(),
                          mask.numpy(), loss.numpy())
