"""Training data: the PyTorch Dataset over a prepared store, skeleton augmentations, batching.

Only :class:`AugmentConfig` is imported eagerly; the torch parts load on first use."""

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr
from .augment_config import AugmentConfig

__all__ = [
    "AugmentConfig", "Compose", "GaussianNoise", "JointDropout", "RandomFlip", "RandomRotation", "RandomScale",
    "RandomShear", "SkeletonDataset", "build_augment", "crop_window", "pad_collate", "seeded_generator",
]

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

#: the torch parts, imported on first use: the dataset and batching, else the augmentations
_DATASET = ("SkeletonDataset", "crop_window", "pad_collate")
__getattr__ = lazy_getattr(__name__, {name: "dataset" if name in _DATASET else "augment"
                                      for name in __all__ if name != "AugmentConfig"})
