"""``AugmentConfig``: which skeleton augmentations a run applies (validated; no torch, so a config loads
and the command line lists its keys without importing torch)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AugmentConfig"]


class AugmentConfig(BaseModel):
    """Skeleton augmentations of training, applied on the device to the normalised joints (0 / None = off)."""

    model_config = ConfigDict(extra="forbid")

    rotate: float = Field(0.0, ge=0.0, description="max rotation in degrees about each axis (after view alignment)")
    shear: float = Field(0.0, ge=0.0)
    scale: tuple[float, float] | None = None
    flip: float = Field(0.0, ge=0.0, le=1.0, description="probability of a left/right mirror")
    joint_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    noise: float = Field(0.0, ge=0.0, description="Gaussian noise std (data units)")
