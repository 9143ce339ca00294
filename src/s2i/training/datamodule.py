"""PretrainData: the stores of a run as one resumable, rank-sliced stream of format-grouped joint batches.

The loader moves raw joint arrays only (seeded temporal crops happen here, per item); images are made by
the LightningModule on the training device. Which items a step sees is a function of (seed, step): on
resume the sampler starts at the batch after the last one the restored trainer consumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from ..data import SkeletonDataset
from ..data.mixed import MixedDataset, StepBatchSampler, collate_by_format
from ..encode import S2IConfig, dataset_value_range
from ..store import SkeletonStore, training_split
from .config import DataConfig

__all__ = ["PretrainData", "ResumableLoader", "StoreInfo", "training_split"]  # training_split lives in s2i.store


@dataclass
class StoreInfo:
    """One store of the run: where, which format, which split, how many training items, value range."""

    path: str
    format: str
    split: str | None
    items: int
    content_hash: str | None
    value_range: tuple[list[float], list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "split": self.split, "items": self.items,
                "content_hash": self.content_hash, "value_range": {"lo": self.value_range[0],
                                                                    "hi": self.value_range[1]}}


class ResumableLoader(torch.utils.data.DataLoader):
    """A DataLoader that tells Lightning it resumes mid-epoch: its position is not state of its own but the
    restored trainer's step (:class:`StepBatchSampler` starts after the batches already consumed)."""

    def state_dict(self) -> dict[str, Any]:
        return {"resumes_from": "trainer.global_step"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the batch sampler reads the restored global step when iteration starts."""


class PretrainData(pl.LightningDataModule):
    """Stores -> :class:`MixedDataset` -> :class:`StepBatchSampler` (rank slice) -> format-grouped batches."""

    def __init__(self, stores: Sequence[str | Path], config: DataConfig, encode: S2IConfig, seed: int,
                 steps: int | None = None, accumulate: int = 1, pin_memory: bool | None = None) -> None:
        super().__init__()
        # None: data.pin_memory, and where that is None too, pin when the trainer runs on a GPU
        self.pin_memory = pin_memory if pin_memory is not None else config.pin_memory
        if not stores:
            raise ValueError("no data: pass --data STORE (one or more)")
        if config.weights is not None and len(config.weights) != len(stores):
            raise ValueError(f"data.weights has {len(config.weights)} entries for {len(stores)} stores")
        self.config, self.encode, self.seed = config, encode, seed
        self.steps, self.accumulate = steps, accumulate
        self.stores = [SkeletonStore(s) for s in stores]
        datasets, self.info = [], []
        for st in self.stores:
            split = training_split(st, config.split, require_train=True)
            ds = SkeletonDataset(st, split, "train" if split else None, temporal_crop=config.temporal_crop,
                                 max_persons=encode.max_persons, seed=seed)
            lo, hi = dataset_value_range(st, split, encode)
            datasets.append(ds)
            self.info.append(StoreInfo(str(st.path), st.format_spec.name, split, len(ds),
                                       st.manifest.get("content_hash"), (lo, hi)))
        self.dataset = MixedDataset(datasets)
        self.formats = [i.format for i in self.info]

    def format_ranges(self) -> dict[str, tuple[list[float], list[float]]]:
        """One value range per format: the union of the ranges of that format's stores (S2I.md §5)."""
        out: dict[str, tuple[list[float], list[float]]] = {}
        for i in self.info:
            lo, hi = i.value_range
            if i.format in out:
                plo, phi = out[i.format]
                lo, hi = [min(a, b) for a, b in zip(plo, lo)], [max(a, b) for a, b in zip(phi, hi)]
            out[i.format] = (list(lo), list(hi))
        return out

    def format_specs(self) -> dict[str, Any]:
        """The FormatSpec of each format, in stream order."""
        return {i.format: st.format_spec for i, st in zip(self.info, self.stores)}

    def steps_per_epoch(self, world_size: int) -> int:
        """Optimizer steps per pass over the data at this world size."""
        per_step = self.config.batch_size * world_size * self.accumulate
        return max(1, math.ceil(len(self.dataset) / per_step))

    def _start(self) -> int:
        """Batches this rank already consumed: the restored trainer's optimizer steps x accumulation."""
        trainer = self.trainer
        return 0 if trainer is None else int(trainer.global_step) * self.accumulate

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        if self.steps is None:
            raise RuntimeError("PretrainData.steps is not set (fit sets it from the config)")
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = StepBatchSampler(self.dataset.sizes, self.config.batch_size, self.steps * self.accumulate,
                                   seed=self.seed, weights=self.config.weights, rank=rank, world_size=world,
                                   start=self._start)
        collate = partial(collate_by_format, formats=self.formats, batch_size=self.config.batch_size)
        # pinned batches reach a GPU by a queued copy (Lightning moves them with non_blocking=True)
        pin = self.pin_memory if self.pin_memory is not None else (
            trainer is not None and trainer.strategy.root_device.type == "cuda")
        return ResumableLoader(self.dataset, batch_sampler=sampler, collate_fn=collate,
                               num_workers=self.config.num_workers, pin_memory=pin,
                               persistent_workers=self.config.num_workers > 0)
