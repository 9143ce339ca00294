"""Data: prepared stores (write/read), statistics, the PyTorch Dataset, augmentations, batching."""

from .augment import Compose, GaussianNoise, JointDropout, RandomFlip, RandomRotation, RandomScale, RandomShear
from .collate import SkeletonBatch, collate_sequences
from .dataset import SkeletonDataset, pad_collate
from .store import SkeletonStore, StoreError, StoreWriter

__all__ = [
    "Compose", "GaussianNoise", "JointDropout", "RandomFlip", "RandomRotation", "RandomScale", "RandomShear",
    "SkeletonBatch", "SkeletonDataset", "SkeletonStore", "StoreError", "StoreWriter", "collate_sequences",
    "pad_collate",
]
