"""Evaluation configuration: one validated pydantic model per protocol, read from YAML with ``--set`` overrides.

Unknown keys and wrong types are errors that name the key (``linear.epochs: Input should be a valid
integer``). ``--set`` values are parsed as YAML (``--set linear.epochs=20``, ``--set streams=[joint,bone]``,
``--set knn.ks=[1,5]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config_files import ConfigError, read_config_tree, validate_tree
from ..config_files import apply_overrides as _apply
from ..data.augment_config import AugmentConfig
from ..encode.config import Stream, check_crop_fraction

__all__ = ["PROTOCOLS", "ConfigError", "CrossFormatConfig", "EvalConfig", "FinetuneConfig", "KnnConfig",
           "LinearConfig", "Projection", "SemiConfig", "TransferConfig", "apply_overrides", "load_eval_config"]

PROTOCOLS = ("linear", "knn", "finetune", "semi", "transfer", "cross-format")


#: how ``drop_depth`` sees 3D joints as 2D: keep (x, y), or a pinhole camera at the origin, (x/z, y/z)
Projection = Literal["orthographic", "perspective"]

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: what ``val_group`` does, for the linear and fine-tune configs
VAL_GROUP_HELP = ("hold out whole groups of this per-sequence metadata field (view, subject) as the validation "
                  "carve, mirroring a cross-view / cross-subject test; needs val_fraction")


def _needs_fraction(cfg: Any, name: str) -> Any:
    """``val_group`` says how to hold out; ``val_fraction`` says that and how much."""
    if cfg.val_group is not None and cfg.val_fraction <= 0:
        raise ValueError(f"{name}.val_group={cfg.val_group!r} needs {name}.val_fraction > 0 (the share held out)")
    return cfg


class LinearConfig(_Strict):
    """Linear probe on frozen features (S2I.md 9): MAMP's head and optimiser; its training augmentation (rotation,
    50-100 % crops) is ``augmented_copies`` + ``augment`` + ``temporal_crop``, off by default."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(256, ge=2)
    base_lr: float = Field(0.1, gt=0.0, description="at batch 256, scaled linearly with batch_size")
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    warmup_epochs: int = Field(0, ge=0)
    val_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                description="validation carve of the training set (reported, not selected)")
    val_group: str | None = Field(None, description=VAL_GROUP_HELP)
    augmented_copies: int = Field(
        0, ge=0, description="augmented views of each training sequence whose frozen features the probe also"
        " fits on (each epoch draws one of clean + copies per sequence; computed once, cached); 0: clean only")
    augment: AugmentConfig = Field(default_factory=AugmentConfig,
                                   description="skeleton augmentations of the augmented copies")
    temporal_crop: tuple[float, float] | None = Field(
        None, description="random crop of the augmented copies, and the window fractions of test_crops")
    test_crops: int = Field(
        0, ge=0, description="test-time augmentation: score each test sequence (and a validation carve) by the mean"
        " softmax of its features and of this many random temporal windows of it (fractions from temporal_crop)")

    @field_validator("temporal_crop")
    @classmethod
    def _crop(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_crop_fraction(v)

    @model_validator(mode="after")
    def _group_needs_fraction(self) -> LinearConfig:
        return _needs_fraction(self, "linear")

    @model_validator(mode="after")
    def _copies_need_augmentation(self) -> LinearConfig:
        augments = self.augment != AugmentConfig()
        if self.augmented_copies > 0 and not (augments or self.temporal_crop is not None):
            raise ValueError("linear.augmented_copies > 0 needs linear.augment or linear.temporal_crop (else the"
                             " copies equal the clean features)")
        if augments and self.augmented_copies == 0:
            raise ValueError("linear.augment acts on the augmented copies: set linear.augmented_copies > 0")
        if self.temporal_crop is not None and self.augmented_copies == 0 and self.test_crops == 0:
            raise ValueError("linear.temporal_crop acts on the augmented copies and the test-time crops: set"
                             " linear.augmented_copies or linear.test_crops > 0")
        if self.test_crops > 0 and self.temporal_crop is None:
            raise ValueError("linear.test_crops > 0 draws windows from linear.temporal_crop: set it")
        return self


class KnnConfig(_Strict):
    """Cosine kNN on frozen features, several k at once."""

    ks: list[int] = Field(default_factory=lambda: [1, 10, 20], min_length=1)
    temperature: float = Field(0.07, gt=0.0)
    report_k: int | None = Field(None, description="the k of the top-level top1/top5 (None: the largest of ks)")

    @field_validator("ks")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError(f"every k must be >= 1, got {v}")
        return v


class FinetuneConfig(_Strict):
    """End-to-end fine-tuning (MAE / MAMP recipe): AdamW, layer-wise lr decay, drop path, label smoothing."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(32, ge=2)
    base_lr: float = Field(1e-3, gt=0.0, description="at batch 256, scaled linearly with batch_size")
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)
    weight_decay: float = Field(0.05, ge=0.0)
    layer_decay: float = Field(0.75, gt=0.0, le=1.0)
    drop_path: float = Field(0.1, ge=0.0, lt=1.0)
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0)
    mixup: float = Field(0.0, ge=0.0, description="mixup alpha on S2I images (0: off)")
    cutmix: float = Field(0.0, ge=0.0, description="cutmix alpha on S2I images (0: off)")
    warmup_epochs: float = Field(5.0, ge=0.0)
    temporal_crop: tuple[float, float] | None = Field((0.5, 1.0), description="random crop of the training clips")
    augment: AugmentConfig = Field(default_factory=AugmentConfig,
                                   description="skeleton augmentations of the training clips (default: none)")
    val_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="validation carve from the training set")
    val_group: str | None = Field(None, description=VAL_GROUP_HELP)
    select: Literal["last", "val"] = Field("last", description="report the last epoch, or the best validation epoch")
    test_crops: int = Field(
        0, ge=0, description="test-time augmentation: average the softmax of the whole sequence and of this many"
        " random temporal windows of it (fractions from temporal_crop, seeded); 0: the whole sequence alone")
    num_workers: int = Field(0, ge=0)
    accelerator: str = "auto"
    precision: str = Field("32-true", description="Lightning precision, e.g. bf16-mixed on GPUs")
    progress_bar: bool = False
    epoch_log: bool = Field(False, description="one line per epoch on stderr (train loss)")
    save_models: bool = Field(True, description="save each seed's and stream's reported model in OUT/models/"
                              "STREAM-seedS (an exported encoder folder plus its head: s2i.evaluation.load_finetuned)")

    @field_validator("temporal_crop")
    @classmethod
    def _crop(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_crop_fraction(v)

    @model_validator(mode="after")
    def _group_needs_fraction(self) -> FinetuneConfig:
        return _needs_fraction(self, "finetune")

    @model_validator(mode="after")
    def _crops_need_a_range(self) -> FinetuneConfig:
        if self.test_crops > 0 and self.temporal_crop is None:
            raise ValueError("finetune.test_crops > 0 draws windows from finetune.temporal_crop: set it")
        return self


class SemiConfig(_Strict):
    """Semi-supervised: a per-class labelled fraction of the training set (one subset per seed)."""

    fraction: float = Field(0.1, gt=0.0, le=1.0)
    method: Literal["finetune", "linear", "knn"] = "finetune"


class TransferConfig(_Strict):
    """Pretrained on data set A (the checkpoint), evaluated on data set B (``--data``)."""

    method: Literal["linear", "knn", "finetune"] = "linear"


class CrossFormatConfig(_Strict):
    """Evaluated on a skeleton format the checkpoint was not trained on (or 3D data seen as 2D)."""

    method: Literal["linear", "knn", "finetune"] = "linear"


class EvalConfig(_Strict):
    """Everything that defines an evaluation run (saved resolved in results.json)."""

    method: str | None = Field(None, description="row label of result tables (default: init + checkpoint name)")
    init: Literal["pretrained", "random"] = Field(
        "pretrained", description="random: the checkpoint's architecture and encoders with random weights (baseline)")
    init_seed: int = Field(0, description="seed of init=random")
    init_per_seed: bool = Field(True, description="init=random: seed s of seeds uses init_seed + (s - seeds[0]),"
                                " so mean ± std covers random initialisations, not only the probe's seed")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="one run per seed; mean ± std")
    streams: list[Stream] = Field(default_factory=lambda: ["joint"], min_length=1,  # type: ignore[arg-type]
                                  description="each evaluated alone; several are also fused by score averaging")
    stream_weights: list[float] | None = None
    pooling: Literal["mean", "cls"] = Field("mean", description="token mean (patch tokens) or the CLS token")
    feature_blocks: int = Field(
        1, ge=1, description="frozen features (linear, knn): the pooled tokens of the last N transformer blocks,"
        " concatenated (1: the final-norm tokens, the MAE/MAMP recipe; DINO's linear eval uses 4); fine-tuning"
        " ignores it (its head reads the final tokens)")
    drop_depth: bool = Field(False, description="3D -> 2D: evaluate on image-plane (x, y) only, see projection")
    projection: Projection = Field(
        "orthographic", description="drop_depth: orthographic keeps (x, y); perspective divides by the depth z,"
        " (x/z, y/z), as a 2D pose estimator sees the video of camera-space data (Kinect, NTU, PKU-MMD)")
    encode: dict[str, Any] = Field(
        default_factory=dict, description="S2IConfig options that replace the checkpoint's for the evaluation"
        " images (ablations of random-init encoders: layout, part_resample); value ranges are re-estimated")
    batch_size: int = Field(64, ge=1, description="sequences per batch for features and testing")
    max_persons: int | None = Field(None, ge=1, description="None: the encoder config's max_persons")
    cache: bool = Field(True, description="cache frozen features on disk")
    cache_dir: str | None = Field(None, description="None: $S2I_CACHE/features or ~/.cache/s2i/features")
    device: str = Field("auto", description="device of frozen-feature extraction (auto: cuda when available)")
    linear: LinearConfig = Field(default_factory=LinearConfig)
    knn: KnnConfig = Field(default_factory=KnnConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    semi: SemiConfig = Field(default_factory=SemiConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    cross_format: CrossFormatConfig = Field(default_factory=CrossFormatConfig)

    @field_validator("encode")
    @classmethod
    def _encode(cls, v: dict[str, Any]) -> dict[str, Any]:
        from ..encode import S2IConfig

        bad = sorted(set(v) - set(S2IConfig.model_fields))
        if bad:
            raise ValueError(f"unknown S2I option(s) {bad}")
        for k in ("height", "width", "range_lo", "range_hi", "stream"):
            if k in v:
                raise ValueError(f"{k!r} cannot be overridden here (image size is the backbone's; streams: 'streams')")
        S2IConfig(**v)  # type-check the values
        return v

    @field_validator("streams")
    @classmethod
    def _unique(cls, v: list[Stream]) -> list[Stream]:
        if len(set(v)) != len(v):
            raise ValueError(f"streams must be distinct, got {v}")
        return v

    @property
    def to_2d(self) -> Projection | None:
        """How 3D data is seen as 2D (``drop_depth``), or None: evaluated as it is."""
        return self.projection if self.drop_depth else None

    @model_validator(mode="after")
    def _projection_needs_2d(self) -> EvalConfig:
        if self.projection != "orthographic" and not self.drop_depth:
            raise ValueError(f"projection={self.projection} makes 2D data from 3D: it needs drop_depth=true")
        return self


def apply_overrides(tree: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``tree`` with each ``key.path=value`` (value parsed as YAML) set; ``cross-format`` in a key
    path is the ``cross_format`` section (the pretraining config's helper underneath)."""
    norm = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        norm.append(key.replace("-", "_") + sep + raw)
    return _apply(tree, norm)


def validate_eval_config(tree: dict[str, Any], source: str = "config",
                         overrides: list[str] | tuple[str, ...] = ()) -> EvalConfig:
    """Validate a config dict; errors name every offending key (``overrides``: the ``--set`` items applied)."""
    return validate_tree(EvalConfig, tree, source, overrides)


def load_eval_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> EvalConfig:
    """Read a YAML config (None: the defaults), apply ``--set`` overrides, validate."""
    tree, source = read_config_tree(path)
    return validate_eval_config(apply_overrides(tree, overrides), source, overrides)
