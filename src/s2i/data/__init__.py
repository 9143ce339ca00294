"""Data plumbing: batching sequences for the encoder (stores and Datasets come with the data issue)."""

from .collate import SkeletonBatch, collate_sequences

__all__ = ["SkeletonBatch", "collate_sequences"]
