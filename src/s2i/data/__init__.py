"""Training data: the PyTorch Dataset over a prepared store, skeleton augmentations, batching."""

from .augment import Compose, GaussianNoise, JointDropout, RandomFlip, RandomRotation, RandomScale, RandomShear
from .dataset import SkeletonDataset, crop_window, pad_collate

__all__ = [
    "Compose", "GaussianNoise", "JointDropout", "RandomFlip", "RandomRotation", "RandomScale", "RandomShear",
    "SkeletonDataset", "crop_window", "pad_collate",
]
