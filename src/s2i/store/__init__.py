"""Prepared stores: write (atomic publish), read (memory-mapped), statistics, quality report, prepare."""

from .layout import INDEX_DTYPE, STORE_VERSION, StoreError
from .read import SkeletonStore, training_split
from .write import StoreWriter

__all__ = ["INDEX_DTYPE", "STORE_VERSION", "SkeletonStore", "StoreError", "StoreWriter", "training_split"]
