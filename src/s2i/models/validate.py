"""Checks of an exported encoder's description (``config.json``, earlier ``encoder.json``) and weights before
any model is built.

A damaged or hostile description gives one line naming the file, never a traceback or an allocation of
tens of GB: the shapes are checked against limits first (:class:`ExportDescription`), then the architecture
is built on the ``meta`` device (no memory) to count its parameters and compare every tensor's shape with
the safetensors header of the weights file (read without loading a tensor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["MAX_PARAMS", "ExportDescription", "check_weights", "validate_description"]

#: an image side, the patch grid, depth, width and heads beyond these are not an s2i encoder
MAX_SIDE, MAX_TOKENS, MAX_DEPTH, MAX_EMBED, MAX_HEADS = 4096, 16384, 64, 8192, 256
#: the most parameters a described backbone may have (a ViT-G has 1.8e9): 8 GB of float32
MAX_PARAMS = 2_000_000_000
#: timm kwargs that would load weights, fetch from the network or change what the description's own fields fix
_FORBIDDEN_KWARGS = {"pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "pretrained_strict", "checkpoint_path",
                     "cache_dir", "init", "img_size", "patch_size", "num_classes", "features_only", "name"}
_SIZE_KWARGS = {"depth": MAX_DEPTH, "embed_dim": MAX_EMBED, "num_heads": MAX_HEADS, "reg_tokens": 64,
                "mlp_ratio": 16, "in_chans": 16}

Scalar = int | float | bool | str | None


class ExportDescription(BaseModel):
    """The fields of the description that build the model, with their limits (see :mod:`.export`)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["s2i-exported-encoder"]
    backbone: str = Field(min_length=1, max_length=200)
    backbone_kwargs: dict[str, Scalar] = Field(default_factory=dict)
    img_size: tuple[int, int]
    patch_size: int = Field(ge=1, le=MAX_SIDE)
    embed_dim: int = Field(ge=1, le=MAX_EMBED)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    formats: dict[str, dict[str, Any]] = Field(min_length=1, max_length=64)

    @field_validator("backbone")
    @classmethod
    def _known(cls, name: str) -> str:
        import timm

        if not timm.is_model(name):  # never a hub name: building it would fetch a config from the network
            raise ValueError(f"{name!r} is not a timm model name")
        return name

    @field_validator("img_size")
    @classmethod
    def _side(cls, size: tuple[int, int]) -> tuple[int, int]:
        if not all(1 <= s <= MAX_SIDE for s in size):
            raise ValueError(f"each side must be 1 to {MAX_SIDE} pixels, got {list(size)}")
        return size

    @field_validator("backbone_kwargs")
    @classmethod
    def _kwargs(cls, kw: dict[str, Scalar]) -> dict[str, Scalar]:
        bad = sorted(set(kw) & _FORBIDDEN_KWARGS)
        if bad:
            raise ValueError(f"{bad} may not be set here")
        for key, limit in _SIZE_KWARGS.items():
            v = kw.get(key)
            if v is not None and (isinstance(v, (bool, str)) or not 0 < v <= limit):
                raise ValueError(f"{key} must be a number in (0, {limit}], got {v!r}")
        return kw

    @model_validator(mode="after")
    def _grid(self) -> ExportDescription:
        h, w = self.img_size
        if self.patch_size > min(h, w):
            raise ValueError(f"patch_size {self.patch_size} is larger than the image {h}x{w}")
        if (h // self.patch_size) * (w // self.patch_size) > MAX_TOKENS:
            raise ValueError(f"{h}x{w} images in {self.patch_size}-pixel patches make more than {MAX_TOKENS} tokens")
        for name, d in self.formats.items():
            cfg = d.get("config") if isinstance(d, dict) else None
            if not isinstance(cfg, dict) or (cfg.get("height"), cfg.get("width")) != (h, w):
                got = f"{cfg.get('height')}x{cfg.get('width')}" if isinstance(cfg, dict) else "no config"
                raise ValueError(f"format {name!r} makes {got} images, the backbone takes {h}x{w}")
        return self


def _one_line(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "the description"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def validate_description(meta: dict[str, Any], path: Path) -> dict[str, torch.Size]:
    """Check an exported encoder's description ``meta`` (read from ``path``) against the limits, then its
    architecture built on the meta device; returns the state dict's shapes. Raises ValueError naming
    ``path``."""
    from .backbone import create_backbone

    try:
        desc = ExportDescription.model_validate(meta)
    except ValidationError as e:
        raise ValueError(f"{path}: not a valid exported encoder description ({_one_line(e)})") from None
    kwargs: dict[str, Any] = dict(desc.backbone_kwargs)  # "init" and the like were refused above
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            model, _ = create_backbone(desc.backbone, img_size=desc.img_size, patch_size=desc.patch_size, **kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError) as e:
        raise ValueError(f"{path}: backbone {desc.backbone!r} cannot be built with"
                         f" {desc.backbone_kwargs} ({type(e).__name__}: {e})") from None
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMS:
        raise ValueError(f"{path}: the described backbone has {params:,} parameters, more than {MAX_PARAMS:,}")
    built = int(getattr(model, "embed_dim", desc.embed_dim))
    if built != desc.embed_dim:
        raise ValueError(f"{path}: embed_dim {desc.embed_dim} but {desc.backbone} with {desc.backbone_kwargs}"
                         f" has {built}")
    return {k: v.shape for k, v in model.state_dict().items()}


def check_weights(path: Path, shapes: dict[str, torch.Size]) -> None:
    """The safetensors file at ``path`` holds exactly the tensors ``shapes`` names, of those shapes (its
    header is read, no tensor); a damaged file or another model's weights give a ValueError naming it."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise ValueError(f"{path}: not a readable safetensors weights file ({e})") from None
    missing = [k for k in shapes if k not in header]
    extra = [k for k in header if k not in shapes]
    if missing or extra:
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise ValueError(f"{path}: not the weights its description describes ({what})")
    for k, shape in shapes.items():
        if header[k] != tuple(shape):
            raise ValueError(f"{path}: tensor {k!r} has shape {list(header[k])}, the description needs {list(shape)}")
