"""Training data: the PyTorch Dataset over a prepared store, skeleton augmentations, batching."""

from .augment import (
    AugmentConfig,
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
