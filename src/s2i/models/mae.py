"""Masked autoencoder (MAE) pretraining around any timm vision transformer, on S2I images (S2I.md §8).

The encoder is the timm ViT itself (its patch embedding, position embedding, prefix tokens, blocks and
final norm), run on the visible patches only; a lightweight transformer decoder predicts the pixels of
the masked patches; the loss is the MSE on per-patch-normalised targets of masked patches (MAE's
``norm_pix_loss``). Three targets (``target``):

- ``pixels``: the S2I image, as in MAE;
- ``motion``: the motion image, the difference of neighbouring columns (time runs along the columns), so
  the model must predict how each joint moves rather than where it is (MAMP's motion target, on images);
- ``both``: the decoder predicts both and the loss is their mean.

Three maskings:

- ``random``: a random subset of patches, as in MAE;
- ``blocks`` (S2I-aware): whole (body-part band x time window) blocks — a band is the image rows of one
  body part of one person (:func:`s2i.encode.band_sizes`), a window ``time_window`` patch columns — so
  the model must infer a limb's motion from the other limbs rather than from neighbouring rows;
- ``motion`` (MAMP's motion-aware masking): patches are masked without replacement with probability
  proportional to ``softmax(motion / motion_tau)``, where a patch's motion is its mean absolute motion-image
  value divided by the image's mean over patches; a small ``motion_tau`` masks moving patches first, a large
  one tends to random masking. Drawn with the Gumbel top-k trick, so it stays a sort.

A latent objective can be added (``latent_weight > 0``): an EMA teacher (:mod:`s2i.models.latent`) sees
the whole image, and a linear head on the decoder predicts the teacher's features of the masked patches
(MSE on masked patches, weighted by ``latent_weight`` and added to the reconstruction loss).

Masks are drawn from an optional ``torch.Generator`` (on the CPU), so a training step's mask is a
function of (seed, step) and a resumed run masks the same patches.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from ..encode import band_sizes
from ..encode.device import to_device
from .backbone import embed_tokens
from .latent import EMATeacher

__all__ = ["MAE", "block_ids", "motion_image", "norm_patches", "patch_motion", "patchify", "random_masking",
           "sincos_pos_embed_2d"]

Masking = Literal["random", "blocks", "motion"]
Target = Literal["pixels", "motion", "both"]
MASKINGS: tuple[str, ...] = ("random", "blocks", "motion")
TARGETS: tuple[str, ...] = ("pixels", "motion", "both")


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, patch*patch*C) in row-major patch order (as timm's patch embedding)."""
    n, c, h, w = images.shape
    gh, gw = h // patch, w // patch
    x = images.reshape(n, c, gh, patch, gw, patch)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(n, gh * gw, patch * patch * c)


def motion_image(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> the motion image of the same shape: column t holds column t+1 minus column t (time runs
    along the columns of an S2I image); the last column, which has no successor, is zero."""
    diff = images[..., 1:] - images[..., :-1]
    return torch.cat([diff, torch.zeros_like(images[..., :1])], dim=-1)


def patch_motion(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, L) motion of every patch: its mean absolute motion-image value over the image's mean over patches
    (so 1 is an average patch, whatever the data's units)."""
    m = patchify(motion_image(images).abs(), patch).mean(dim=-1)
    return m / m.mean(dim=1, keepdim=True).clamp_min(1.0e-12)


def norm_patches(patches: torch.Tensor) -> torch.Tensor:
    """Each patch (last axis) to zero mean and unit variance: MAE's ``norm_pix_loss`` target."""
    mean, var = patches.mean(dim=-1, keepdim=True), patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + 1.0e-6) ** 0.5


def random_masking(noise: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the ``keep`` patches of lowest noise per sample.

    Returns (ids_keep (N, keep), mask (N, L) with 1 = masked, ids_restore (N, L) to unshuffle).
    """
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones_like(noise)
    mask[:, :keep] = 0
    return ids_shuffle[:, :keep], torch.gather(mask, 1, ids_restore), ids_restore


def block_ids(grid: tuple[int, int], patch: int, persons: int = 2, time_window: int = 2,
              parts: int = 5) -> torch.Tensor:
    """(L,) block number of every patch: its body-part band (by the patch's centre row) x time window.

    The rows of an S2I image are ``persons`` blocks of ``parts`` bands (:func:`s2i.encode.band_sizes`);
    the columns are time, cut into windows of ``time_window`` patch columns.
    """
    gh, gw = grid
    band: list[int] = []  # (person, part) band number of every pixel row
    for person, person_rows in enumerate(band_sizes(gh * patch, persons)):
        for part, rows in enumerate(band_sizes(person_rows, parts)):
            band += [person * parts + part] * rows
    patch_band = torch.tensor(band)[torch.arange(gh) * patch + patch // 2]
    windows = math.ceil(gw / time_window)
    col_window = torch.arange(gw) // time_window
    return (patch_band[:, None] * windows + col_window[None, :]).reshape(-1)


def sincos_pos_embed_2d(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """Fixed 2D sine-cosine position embedding (L, dim) of a (rows, cols) patch grid (as MAE's decoder)."""
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs a dimension divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4.0))
    gy, gx = torch.meshgrid(torch.arange(grid[0], dtype=torch.float64), torch.arange(grid[1], dtype=torch.float64),
                            indexing="ij")
    out = [f(pos.reshape(-1, 1) * omega) for pos in (gx, gy) for f in (torch.sin, torch.cos)]
    return torch.cat(out, dim=1).float()


class MAE(nn.Module):
    """Masked autoencoder over a timm ViT ``backbone`` (built with ``num_classes=0``).

    forward(images (N, 3, H, W) in [0, 1], generator) -> (loss, pred (N, L, K), mask (N, L)), K = p*p*3 per
    target (2 p*p*3 for ``target='both'``: pixels first, then motion).
    Images are normalised with the backbone's pretrained mean/std, as photos are. ``persons`` and
    ``time_window`` define the blocks of ``masking='blocks'``; ``motion_tau`` the temperature of
    ``masking='motion'``.
    """

    def __init__(self, backbone: nn.Module, decoder_dim: int = 512, decoder_depth: int = 8, decoder_heads: int = 16,
                 mask_ratio: float = 0.75, masking: Masking = "random", norm_pix_loss: bool = True,
                 persons: int = 2, time_window: int = 2, mlp_ratio: float = 4.0, target: Target = "pixels",
                 motion_tau: float = 0.75, latent_weight: float = 0.0, latent_layers: int = 1) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if masking not in MASKINGS:
            raise ValueError(f"masking must be one of {', '.join(MASKINGS)}, got {masking!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        if not motion_tau > 0.0:
            raise ValueError(f"motion_tau must be > 0, got {motion_tau}")
        if not latent_weight >= 0.0:
            raise ValueError(f"latent_weight must be >= 0, got {latent_weight}")
        self.backbone: Any = backbone  # a timm VisionTransformer (typed loosely: timm's attributes)
        self.mask_ratio, self.masking, self.norm_pix_loss = mask_ratio, masking, norm_pix_loss
        self.target, self.motion_tau = target, float(motion_tau)
        pe: Any = backbone.patch_embed
        self.patch = int(pe.patch_size[0])
        self.grid = (int(pe.grid_size[0]), int(pe.grid_size[1]))
        self.num_patches = self.grid[0] * self.grid[1]
        self.prefix = int(getattr(backbone, "num_prefix_tokens", 1))
        cfg = getattr(backbone, "pretrained_cfg", {}) or {}
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1))
        self.register_buffer("blocks", block_ids(self.grid, self.patch, persons, time_window), persistent=False)

        dim = int(pe.proj.out_channels)
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        pos = torch.cat([torch.zeros(self.prefix, decoder_dim), sincos_pos_embed_2d(decoder_dim, self.grid)])
        self.register_buffer("decoder_pos_embed", pos.unsqueeze(0), persistent=False)
        self.decoder_blocks = nn.ModuleList(
            [Block(decoder_dim, decoder_heads, mlp_ratio, qkv_bias=True) for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch * self.patch * 3 * (2 if target == "both" else 1))
        self.latent_weight = float(latent_weight)
        self.teacher: EMATeacher | None = None
        self.decoder_latent: nn.Linear | None = None
        if self.latent_weight > 0:
            self.teacher = EMATeacher(backbone, latent_layers)
            self.decoder_latent = nn.Linear(decoder_dim, dim)
        self._init_decoder()

    def _init_decoder(self) -> None:
        nn.init.normal_(self.mask_token, std=0.02)
        for name, m in self.named_modules():
            if not name.startswith("decoder"):
                continue
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # --- masking ---------------------------------------------------------------------------
    def mask_noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, L) noise on the CPU whose lowest values are the visible patches.

        ``blocks``: whole blocks are ranked at random, patches inside a block follow their block, so the
        masked patches are whole blocks (the last one partly, to mask exactly the ratio).
        ``motion``: standard Gumbel noise, which :meth:`draw_noise` combines with the images' motion.
        """
        noise = torch.rand(n, self.num_patches, generator=generator)
        if self.masking == "random":
            return noise
        if self.masking == "motion":
            return -torch.log(-torch.log(noise.clamp(1.0e-12, 1.0 - 1.0e-7)))  # Gumbel(0, 1)
        blocks: torch.Tensor = self.blocks.cpu()  # type: ignore[assignment]
        nb = int(blocks.max()) + 1
        rank = torch.argsort(torch.argsort(torch.rand(n, nb, generator=generator), dim=1), dim=1)
        return rank[:, blocks].to(noise.dtype) + noise  # integer block rank + in-block order in [0, 1)

    def draw_noise(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, L) masking noise for the normalised images ``x`` (lowest = visible).

        For ``masking='motion'`` it is ``motion / tau + Gumbel``: masking the highest values masks patches
        without replacement with probability proportional to ``softmax(motion / tau)`` (Gumbel top-k).
        """
        noise = self.mask_noise(x.shape[0], generator)
        if self.masking != "motion":
            return noise
        motion = patch_motion(x.detach().float(), self.patch)
        return motion / self.motion_tau + to_device(noise, x.device)

    # --- model -----------------------------------------------------------------------------
    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> the backbone's input normalisation."""
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        std: torch.Tensor = self.std  # type: ignore[assignment]
        return (images - mean.to(images.dtype)) / std.to(images.dtype)

    def forward_encoder(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised images + mask noise -> (latent of prefix + visible tokens, mask, ids_restore)."""
        bb = self.backbone
        tokens = bb.norm_pre(embed_tokens(bb, x))  # prefix tokens + patches, position embedded
        pre, patches = tokens[:, : self.prefix], tokens[:, self.prefix:]
        keep = max(1, int(round(self.num_patches * (1.0 - self.mask_ratio))))
        ids_keep, mask, ids_restore = random_masking(to_device(noise, x.device), keep)  # queued, not waited for
        visible = torch.gather(patches, 1, ids_keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        h = torch.cat([pre, visible], dim=1)
        for blk in bb.blocks:
            h = blk(h)
        return bb.norm(h), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Latent (prefix + visible) -> predicted targets of every patch (N, L, K)."""
        return self.decoder_pred(self.decode(latent, ids_restore))

    def decode(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Latent (prefix + visible) -> the decoder's normalised hidden state of every patch (N, L, decoder_dim)."""
        x = self.decoder_embed(latent)
        pos: torch.Tensor = self.decoder_pos_embed  # type: ignore[assignment]
        pre, vis = x[:, : self.prefix], x[:, self.prefix:]
        n, length = ids_restore.shape
        full = torch.cat([vis, self.mask_token.to(vis.dtype).expand(n, length - vis.shape[1], -1)], dim=1)
        full = torch.gather(full, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        x = torch.cat([pre, full], dim=1) + pos.to(x.dtype)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_norm(x)[:, self.prefix:]

    def targets(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The reconstruction targets of normalised images ``x``, each (N, L, p*p*3), in ``pred``'s order."""
        out = []
        if self.target in ("pixels", "both"):
            out.append(patchify(x, self.patch).float())
        if self.target in ("motion", "both"):
            out.append(patchify(motion_image(x), self.patch).float())
        return out

    def loss(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the (per-patch-normalised) targets of the masked patches, averaged over
        targets."""
        per_patch = torch.zeros_like(mask, dtype=torch.float32)
        targets = self.targets(x)
        for target, p in zip(targets, pred.float().chunk(len(targets), dim=-1)):
            if self.norm_pix_loss:
                target = norm_patches(target)
            per_patch = per_patch + ((p - target) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / (mask.sum() * len(targets))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (N, 3, H, W) in [0, 1] -> (loss, pred (N, L, K), mask (N, L), 1 = masked)."""
        x = self.normalize(images)
        if noise is None:
            noise = self.draw_noise(x, generator)
        latent, mask, ids_restore = self.forward_encoder(x, noise)
        hidden = self.decode(latent, ids_restore)
        pred = self.decoder_pred(hidden)
        loss = self.loss(x, pred, mask)
        if self.teacher is not None and self.decoder_latent is not None:
            loss = loss + self.latent_weight * self.latent_loss(self.decoder_latent(hidden), self.teacher.features(x),
                                                                mask)
        return loss, pred, mask

    @staticmethod
    def latent_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error between predicted and teacher features (N, L, D) on the masked patches."""
        per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()
