"""Training data: the PyTorch Dataset over a prepared store, skeleton augmentations, batching.

Only :class:`AugmentConfig` is imported eagerly; the torch parts load on first use."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .augment_config import AugmentConfig

if TYPE_CHECKING:
    from .augment import (
        Compose,
        GaussianNoise,
        JointDropout,
        RandomFlip,
        RandomRotation,
        RandomScale,
        RandomShear,
        build_augment,
        seeded_generator,
    )
    from .dataset import SkeletonDataset, crop_window, pad_collate

__all__ = [
    "AugmentConfig", "Compose", "GaussianNoise", "JointDropout", "RandomFlip", "RandomRotation", "RandomScale",
    "RandomShear", "SkeletonDataset", "build_augment", "crop_window", "pad_collate", "seeded_generator",
]


def __getattr__(name: str) -> Any:
    """Import the torch parts on first use."""
    if name in __all__:
        module = "dataset" if name in ("SkeletonDataset", "crop_window", "pad_collate") else "augment"
        value = getattr(import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
