"""S2IConfig: every option of the S2I encoding (S2I.md), with defaults that reproduce the paper's setup."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["S2IConfig", "Stream", "check_crop_fraction"]

Stream = Literal["joint", "bone", "motion", "bone_motion"]


def check_crop_fraction(v: tuple[float, float] | None) -> tuple[float, float] | None:
    """A temporal crop (min, max) fraction of the frames: 0 < min <= max <= 1 (None: no crop)."""
    if v is not None and not (0.0 < v[0] <= v[1] <= 1.0):
        raise ValueError(f"temporal_crop must satisfy 0 < min <= max <= 1, got {v}")
    return v


class S2IConfig(BaseModel):
    """Options of one S2I encoder. Values marked [ours] in S2I.md are choices, not the paper's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    height: int = Field(224, ge=10, description="image rows (joints); split into 5 body-part bands per person")
    width: int = Field(224, ge=2, description="image columns (time)")
    layout: Literal["parts", "raw", "random"] = "parts"
    layout_seed: int = Field(0, description="seed of the fixed permutation for layout=random")
    part_resample: Literal["linear", "nearest", "arclength"] = "linear"
    time_resample: Literal["linear", "nearest"] = "linear"
    stream: Stream = "joint"
    persons: Literal["auto", "stack", "first", "mean"] = Field(
        "auto", description="auto = stack when the data has a two-person sequence, else first (S2I.md 7)")
    max_persons: int = Field(2, ge=1, description="persons stacked in the image when persons=stack")
    center: bool = Field(True, description="translate by the main person's centre joint in its first valid frame")
    rotate: bool | None = Field(None, description="view alignment (hips -> x, spine -> y); None = on for 3D data")
    scale: bool = Field(False, description="divide by the main person's mean torso length")
    value_range: Literal["dataset", "sequence", "fixed"] = "dataset"
    range_lo: tuple[float, ...] | None = Field(
        None, description="per-channel value mapped to 0 (dataset: from the training split; fixed: default -1)")
    range_hi: tuple[float, ...] | None = Field(
        None, description="per-channel value mapped to 1 (dataset: from the training split; fixed: default +1)")
    temporal_crop: tuple[float, float] | None = Field(
        None, description="random crop of this fraction range of the valid frames, on the device (training"
        " augmentation for direct users of the encoder; pretraining crops raw frames in its loader instead,"
        " data.temporal_crop, and refuses this one)")

    @field_validator("range_lo", "range_hi")
    @classmethod
    def _three(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is None:
            return None
        if len(v) != 3:
            raise ValueError(f"needs one value per image channel (3), got {len(v)}")
        return tuple(float(x) for x in v)

    @field_validator("temporal_crop")
    @classmethod
    def _crop(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_crop_fraction(v)

    @property
    def image_persons(self) -> int:
        """Persons laid out in the image (blocks of five bands); an unresolved ``auto`` counts as stack."""
        return self.max_persons if self.persons in ("stack", "auto") else 1
