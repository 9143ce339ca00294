"""Backbones: any timm vision transformer by name, at the S2I image size, optionally initialised from
vision-pretrained weights (S2I.md §8).

``init`` is either a local file (a timm state dict ``.pth``/``.bin``, the official MAE ``.pth`` with a
``model`` key, or ``.safetensors``) or a timm / Hugging Face hub name. Files go through timm's own
loader (``pretrained_cfg_overlay=dict(file=PATH)``), which runs the model's checkpoint filter: it unwraps
``model``/``state_dict`` keys, resamples absolute position embeddings to the new grid and drops a
mismatched classifier. We add a report of which keys matched, so a wrong file is visible, and refuse a file
that matches no tensor at all (unless ``allow_unmatched``) or whose weights are not finite.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["InitReport", "WeightsUnavailableError", "create_backbone", "embed_tokens", "init_report",
           "is_weights_file", "pool_tokens"]

#: suffixes of local weight files timm can read
WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights named by a hub name cannot be fetched (no network, no cache)."""


@dataclass
class InitReport:
    """Where the initial weights came from and how their keys matched the model."""

    source: str  # "random", "file" or "hub"
    location: str | None = None
    loaded: int = 0  # model tensors found in the checkpoint
    missing: list[str] = field(default_factory=list)  # model keys not in the checkpoint (left random)
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys the model has no use for

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "location": self.location, "loaded": self.loaded,
                "missing": self.missing, "unexpected": self.unexpected}

    def summary(self) -> str:
        if self.source == "random":
            return "random initialisation"
        text = f"{self.source} {self.location}: {self.loaded} tensors loaded"
        for what, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                text += f", {len(keys)} {what} ({', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''})"
        return text


def is_weights_file(init: str | os.PathLike[str]) -> bool:
    """True when ``init`` names a local file (it exists, or it ends like one) rather than a hub name."""
    s = str(init)
    return os.path.exists(s) or s.lower().endswith(WEIGHT_SUFFIXES)


def create_backbone(name: str, img_size: int | tuple[int, int] = 224, patch_size: int | None = None,
                    init: str | os.PathLike[str] | None = None, allow_unmatched: bool = False,
                    **kwargs: Any) -> tuple[nn.Module, InitReport]:
    """A timm ViT ``name`` without classifier head (``num_classes=0``) for ``img_size`` images.

    ``patch_size`` overrides the name's patch size; further ``kwargs`` (``depth``, ``embed_dim``,
    ``num_heads``, ...) go to timm. ``init``: None (random), a local weights file, or a hub name (e.g.
    ``vit_base_patch16_224.mae`` or ``hf-hub:timm/...``, which then also names the architecture).
    Returns (model, report of the keys matched). ValueError when the initial weights hold NaN or inf, or when
    a file matches none of the model's tensors (a random start in disguise) unless ``allow_unmatched``.
    """
    import timm

    kw: dict[str, Any] = {"img_size": img_size, "num_classes": 0, **kwargs}
    if patch_size is not None:
        kw["patch_size"] = patch_size
    if init is None:
        return timm.create_model(name, pretrained=False, **kw), InitReport("random")
    if is_weights_file(init):
        path = Path(init)
        if not path.is_file():
            raise FileNotFoundError(f"--init {path}: no such weights file")
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kw)
        report = init_report(model, path)
        if report.loaded == 0 and not allow_unmatched:
            raise ValueError(f"--init {path}: the file matches none of the backbone's {len(report.missing)} tensors"
                             f" ({name}; the file's keys: {', '.join(report.unexpected[:3]) or 'none'} ...): training"
                             " would start from random weights. Pass a weights file of this architecture, or set"
                             " model.init_allow_unmatched=true to start from random weights on purpose")
        _check_finite_weights(model, str(path))
        return model, report
    try:
        model = timm.create_model(str(init), pretrained=True, **kw)
    except RuntimeError as e:
        if "Invalid pretrained" in str(e) or "Unknown model" in str(e):
            raise ValueError(f"--init {init}: not a file and not a timm model with pretrained weights ({e})") from e
        raise _offline_error(str(init), e) from e
    except (OSError, ValueError, ConnectionError) as e:  # no network, no cache, unknown repo
        if "Unknown model" in str(e):
            raise ValueError(f"--init {init}: unknown timm model name; pass a weights file instead") from e
        raise _offline_error(str(init), e) from e
    _check_finite_weights(model, str(init))
    return model, InitReport("hub", str(init), loaded=len(model.state_dict()))


def _check_finite_weights(model: nn.Module, source: str) -> None:
    """ValueError naming ``source`` and the tensors when initial weights hold NaN or inf."""
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"--init {source}: {len(bad)} {'tensor is' if len(bad) == 1 else 'tensors are'} not finite"
                         f" (NaN or inf: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''})")


def _offline_error(name: str, cause: BaseException) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"cannot download pretrained weights {name!r} (no network: pass --init PATH to a local timm state dict,"
        f" MAE .pth or .safetensors file; cause: {type(cause).__name__}: {cause})")


def load_checkpoint_tensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a weights file as timm reads it (safetensors, or ``torch.load(weights_only=True)``
    with ``model``/``state_dict`` unwrapped)."""
    from timm.models import load_state_dict

    return dict(load_state_dict(str(path), weights_only=True))


def init_report(model: nn.Module, path: str | os.PathLike[str]) -> InitReport:
    """Which of ``model``'s keys the file at ``path`` provides, after the model's checkpoint filter."""
    sd = load_checkpoint_tensors(path)
    filt = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filt is not None:
        sd = filt(sd, model)
    own = model.state_dict()
    loaded = [k for k in own if k in sd and tuple(sd[k].shape) == tuple(own[k].shape)]
    missing = [k for k in own if k not in loaded]
    # a classifier head is dropped on purpose (the backbone has none): not worth a warning
    unexpected = [k for k in sd if k not in own and not k.startswith("head.")]
    return InitReport("file", str(path), loaded=len(loaded), missing=missing, unexpected=sorted(unexpected))


def embed_tokens(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Images -> a timm ViT's prefix (class, register) + patch tokens with position embedding.

    timm's ``VisionTransformer`` patch and position embedding, through its public modules and parameters only:
    MAE masks the patch tokens between this step and the blocks, which no public timm call allows.
    """
    vit: Any = backbone  # a timm VisionTransformer: its attributes are modules, parameters or None
    if getattr(vit, "dynamic_img_size", False):
        raise ValueError("backbones with dynamic_img_size are not supported: S2I images have one fixed size")
    x = vit.patch_embed(images)
    n = x.shape[0]
    prefix = [t.expand(n, -1, -1) for t in (vit.cls_token, vit.reg_token) if t is not None]
    pos = vit.pos_embed
    if pos is not None and vit.no_embed_class:  # position embedding of the patches only (DeiT-3)
        x = x + pos
    x = torch.cat([*prefix, x], dim=1) if prefix else x
    if pos is not None and not vit.no_embed_class:  # one position embedding over prefix and patches
        x = x + pos
    out: torch.Tensor = vit.pos_drop(x)
    return out


def pool_tokens(tokens: torch.Tensor, pooling: str, prefix: int) -> torch.Tensor:
    """(N, prefix + L, D) final-norm tokens -> (N, D): mean of the patch tokens, or the CLS token."""
    if pooling == "mean":
        return tokens[:, prefix:].mean(dim=1)
    if pooling == "cls":
        if prefix < 1:
            raise ValueError("pooling='cls' needs a backbone with a class token")
        return tokens[:, 0]
    raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
