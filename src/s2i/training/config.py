"""Pretraining configuration: validated pydantic models loaded from YAML, with ``--set a.b=value`` overrides.

Unknown keys and wrong types are errors that name the key (``model.mask_ratio: Input should be a valid
number``). Values given to ``--set`` are parsed as YAML (``--set optim.base_lr=3e-4``,
``--set data.weights=[1,2]``, ``--set model.init=null``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config_files import ConfigError, apply_overrides, read_config_tree, validate_tree
from ..data.augment_config import AugmentConfig
from ..encode import S2IConfig
from ..encode.config import check_crop_fraction

__all__ = ["AugmentConfig", "ConfigError", "DataConfig", "ModelConfig", "OptimConfig", "PretrainConfig",
           "TrainerConfig", "apply_overrides", "load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    """Backbone (any timm ViT) and MAE head. Image size = the encoder's height x width."""

    backbone: str = Field("vit_base_patch16_224", description="timm model name")
    patch_size: int = Field(16, ge=1, description="ViT patch size (pixels)")
    backbone_kwargs: dict[str, Any] = Field(default_factory=dict,
                                            description="extra timm kwargs, e.g. depth, embed_dim, num_heads")
    init: str | None = Field(None, description="vision-pretrained weights: a local file or a timm/HF hub name")
    init_allow_unmatched: bool = Field(False, description="let an init file that matches none of the backbone's"
                                       " tensors start from random weights (default: an error)")
    decoder_dim: int = Field(512, ge=8)
    decoder_depth: int = Field(8, ge=1)
    decoder_heads: int = Field(16, ge=1)
    mask_ratio: float = Field(0.75, gt=0.0, lt=1.0)
    masking: Literal["random", "blocks", "motion"] = Field(
        "random", description="blocks: body-part band x time window; motion: moving patches masked first (MAMP)")
    time_window: int = Field(2, ge=1, description="patch columns per time window of masking=blocks")
    motion_tau: float = Field(0.75, gt=0.0, description="temperature of masking=motion (large: nearly random)")
    target: Literal["pixels", "motion", "both"] = Field(
        "pixels", description="what masked patches reconstruct: the image, its motion (column differences), both")
    norm_pix_loss: bool = True
    latent_weight: float = Field(0.0, ge=0.0, description="weight of the EMA teacher's latent target (0: off)")
    latent_layers: int = Field(1, ge=1, description="the teacher's target: mean of its last N block outputs")
    latent_momentum: tuple[float, float] = Field((0.996, 1.0), description="teacher EMA momentum, start -> end")


class DataConfig(_Strict):
    """Which sequences of the stores are used and how they are batched."""

    stores: list[str] = Field(default_factory=list, description="store folders (the CLI's --data replaces these)")
    split: str | None = Field(None, description="split whose 'train' subset is used; None: each store's first")
    weights: list[float] | None = Field(None, description="per-store sampling weights (None: every item once)")
    batch_size: int = Field(64, ge=1, description="sequences per device per step")
    num_workers: int = Field(0, ge=0)
    temporal_crop: tuple[float, float] | None = Field(
        (0.5, 1.0), description="random crop fraction of frames (the run's only crop: encode.temporal_crop is refused)")
    max_persons: int | None = Field(
        None, ge=1, description="the loader's person slots: always encode.max_persons (set it there; a value here"
        " must equal it, and the saved config records it)")
    pin_memory: bool | None = Field(None, description="pin the loader's batches for queued copies to the GPU"
                                    " (None: on a GPU; benchmarks/gpu_feed.py measures both)")

    @field_validator("temporal_crop")
    @classmethod
    def _crop(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_crop_fraction(v)


class OptimConfig(_Strict):
    """AdamW with linear warm-up then cosine decay; lr = base_lr x total batch / 256 (MAE's rule)."""

    base_lr: float = Field(1.5e-4, gt=0.0)
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)
    weight_decay: float = Field(0.05, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.95)
    epochs: float | None = Field(None, gt=0, description="length in passes over the data (or max_steps)")
    max_steps: int | None = Field(None, ge=1, description="length in optimizer steps (wins over epochs)")
    warmup_epochs: float = Field(0.0, ge=0.0)
    warmup_steps: int | None = Field(None, ge=0, description="wins over warmup_epochs")
    grad_clip: float | None = Field(None, gt=0.0)


class TrainerConfig(_Strict):
    """Where and how it runs (Lightning): the same config on one CPU, GPUs or nodes."""

    accelerator: str = "auto"
    devices: int | str = Field("auto", description="devices per node; 'auto' also reads torchrun/SLURM")
    num_nodes: int | None = Field(None, ge=1, description="None: from torchrun/SLURM, else 1")
    strategy: str = "auto"
    precision: str = Field("auto", description="auto: bf16-mixed on GPU, 32 on CPU")
    accumulate_grad_batches: int = Field(1, ge=1)
    checkpoint_every: int = Field(100, ge=1, description="optimizer steps between checkpoints")
    log_every: int = Field(10, ge=1)
    progress_bar: bool = True


class PretrainConfig(_Strict):
    """Everything that defines a pretraining run (saved resolved as RUN/config.yaml)."""

    seed: int = 0
    encode: S2IConfig = Field(default_factory=S2IConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)

    @model_validator(mode="after")
    def _consistent(self) -> PretrainConfig:
        e = self.encode
        if e.range_lo is not None or e.range_hi is not None:
            raise ValueError("encode.range_lo/range_hi: value ranges come from each store's training split")
        if e.temporal_crop is not None:
            raise ValueError("encode.temporal_crop: crop in data.temporal_crop (the loader crops raw frames)")
        if self.data.max_persons is None:
            self.data.max_persons = e.max_persons  # the loader keeps the persons the encoder lays out
        elif self.data.max_persons != e.max_persons:
            raise ValueError(f"data.max_persons ({self.data.max_persons}) differs from encode.max_persons"
                             f" ({e.max_persons}): the loader keeps the persons the encoder lays out; set"
                             " encode.max_persons only")
        p = self.model.patch_size
        if e.height % p or e.width % p:
            raise ValueError(f"encode.height/width ({e.height}x{e.width}) must be multiples of model.patch_size {p}")
        if self.optim.epochs is None and self.optim.max_steps is None:
            raise ValueError("optim: set epochs or max_steps (e.g. --set optim.max_steps=1000, or a --config file)")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def validate_config(tree: dict[str, Any], source: str = "config",
                    overrides: list[str] | tuple[str, ...] = ()) -> PretrainConfig:
    """Validate a config dict; errors name every offending key (``overrides``: the ``--set`` items applied)."""
    return validate_tree(PretrainConfig, tree, source, overrides)


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> PretrainConfig:
    """Read a YAML config (None: the defaults), apply ``--set`` overrides, validate."""
    tree, source = read_config_tree(path)
    return validate_config(apply_overrides(tree, overrides), source, overrides)
