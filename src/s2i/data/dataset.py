"""SkeletonDataset: a PyTorch Dataset over a prepared store — one split, raw joints of a seeded random
temporal crop, skeleton augmentations. One owner per step: the Dataset never resamples time or computes
streams; the encoder (:class:`s2i.encode.S2IEncoder`, on the training device) does both, so a stream can
never be applied twice. Batch items with :func:`pad_collate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..encode.config import check_crop_fraction
from ..encode.persons import take_persons
from ..store import SkeletonStore

__all__ = ["SkeletonDataset", "crop_window", "pad_collate"]


def crop_window(length: int, crop: tuple[float, float] | None, generator: torch.Generator | None) -> tuple[int, int]:
    """(start, stop) of a random window of ``crop`` = (min, max) fraction of ``length`` frames.

    The window length is drawn uniformly from the fraction range (at least one frame), its start
    uniformly from every position that keeps it inside, so it can end on the last frame. No crop: all.
    """
    if crop is None or length <= 1:
        return 0, length
    checked = check_crop_fraction(crop)
    assert checked is not None
    lo, hi = checked
    frac = lo + (hi - lo) * torch.rand((), generator=generator).item()
    size = max(1, min(length, round(frac * length)))
    start = int(torch.randint(0, length - size + 1, (), generator=generator).item())
    return start, start + size


class SkeletonDataset(torch.utils.data.Dataset):
    """Samples of one split/subset of a store.

    Each item is a dict: ``joints`` (max_persons, T, V, C) float32 tensor of raw frames (NaN for missing
    joints and absent persons), ``length`` (T), ``label`` (of that sequence), ``index`` (sequence id in
    the store), and ``confidence`` (max_persons, T, V) for 2D stores. ``temporal_crop`` = (min, max)
    takes a seeded random window of that fraction of the frames (as in :class:`s2i.encode.S2IConfig`;
    when training from a store, crop here and leave the encoder's unset); ``transform(joints,
    generator)`` runs last on the raw joints (see :mod:`s2i.data.augment`; rotations belong in the
    encoder's ``augment=``, since its view alignment undoes a rotation of raw joints). With ``seed``, crops
    and augmentations are a function of (seed, epoch, sequence id), so a resumed run sees the same samples.
    """

    def __init__(self, store: str | Path | SkeletonStore, split: str | None = None, subset: str | None = None,
                 temporal_crop: tuple[float, float] | None = None, max_persons: int = 2,
                 transform: Callable[..., torch.Tensor] | None = None, seed: int | None = None) -> None:
        self.store = store if isinstance(store, SkeletonStore) else SkeletonStore(store)
        self.ids = self.store.split_ids(split, subset)
        self.split, self.subset = split, subset
        self.temporal_crop, self.max_persons = temporal_crop, max_persons
        self.transform = transform
        self.seed = seed
        self.spec = self.store.format_spec
        self._epoch = 0

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        """Change the random stream of seeded datasets (crops and augmentations) per epoch."""
        self._epoch = epoch

    @property
    def num_classes(self) -> int:
        n = self.store.manifest.get("num_classes")
        return int(n) if n else int(self.store.labels.max()) + 1

    @property
    def labels(self) -> torch.Tensor:
        """Labels of the items, in item order."""
        return torch.from_numpy(self.store.labels[self.ids].astype("int64"))

    def _generator(self, i: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator().manual_seed(hash((self.seed, self._epoch, int(i))) & 0x7FFFFFFF)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i = int(self.ids[k])
        g = self._generator(i)
        joints = self.store.joints(i)
        start, stop = crop_window(joints.shape[1], self.temporal_crop, g)
        x = take_persons(torch.from_numpy(joints[:, start:stop]), self.max_persons)
        conf = self.store.confidence(i)
        if self.transform is not None:
            x = self.transform(x, g)
        item: dict[str, Any] = {"joints": x, "length": stop - start, "label": int(self.store.labels[i]),
                                "index": i}
        if conf is not None:
            item["confidence"] = take_persons(torch.from_numpy(conf[:, start:stop]), self.max_persons, fill=0.0)
        return item


def _batch_tensor(shape: tuple[int, ...], fill: float) -> torch.Tensor:
    """A float32 tensor of ``shape`` filled with ``fill``; in a DataLoader worker, made in shared memory
    (as torch's default collate does), so sending it to the main process does not copy it again."""
    if torch.utils.data.get_worker_info() is None:
        return torch.full(shape, fill)
    storage = torch.UntypedStorage._new_shared(math.prod(shape) * 4)
    return torch.empty(0).set_(storage).view(shape).fill_(fill)


def pad_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of different lengths/person counts: NaN padding to the largest (M, T)."""
    m = max(it["joints"].shape[0] for it in items)
    t = max(it["joints"].shape[1] for it in items)
    v, c = items[0]["joints"].shape[2:]
    joints = _batch_tensor((len(items), m, t, v, c), float("nan"))
    conf = _batch_tensor((len(items), m, t, v), 0.0) if "confidence" in items[0] else None
    for b, it in enumerate(items):
        x = it["joints"]
        joints[b, : x.shape[0], : x.shape[1]] = x
        if conf is not None:
            conf[b, : x.shape[0], : x.shape[1]] = it["confidence"]
    out: dict[str, Any] = {
        "joints": joints,
        "length": torch.tensor([it["length"] for it in items]),
        "label": torch.tensor([it["label"] for it in items]),
        "index": torch.tensor([it["index"] for it in items]),
    }
    if conf is not None:
        out["confidence"] = conf
    return out
