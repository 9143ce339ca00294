"""SkeletonDataset: a PyTorch Dataset over a prepared store — one split, raw joints, fixed-length
resampling or random temporal crops, optional streams and augmentations. It moves small joint arrays;
S2I images are made on the training device by :class:`s2i.encode.S2IEncoder`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..encode.streams import apply_stream
from ..encode.temporal import build_time_map
from ..formats import get_format
from .store import SkeletonStore

__all__ = ["SkeletonDataset", "pad_collate"]


class SkeletonDataset(torch.utils.data.Dataset):
    """Samples of one split/subset of a store.

    Each item is a dict: ``joints`` (M, T, V, C) float32 tensor (NaN for missing joints / absent
    persons), ``length`` (valid frames), ``label``, ``index`` (sequence id), and ``confidence`` for
    2D stores. With ``num_frames`` every item is resampled to that many frames (after a random crop
    of ``crop`` = (min, max) fraction of its frames, if given) and padded to ``max_persons``:
    fixed-size items batch directly.
    ``modality`` computes a stream here (joint, bone, motion, bone_motion) for models that want
    streams without images. ``transform(joints, generator)`` runs last (see :mod:`s2i.data.augment`).
    """

    def __init__(self, store: str | Path | SkeletonStore, split: str | None = None, subset: str | None = None,
                 num_frames: int | None = 64, crop: tuple[float, float] | None = None, max_persons: int = 2,
                 modality: str = "joint", transform: Callable[..., torch.Tensor] | None = None,
                 seed: int | None = None) -> None:
        self.store = store if isinstance(store, SkeletonStore) else SkeletonStore(store)
        self.ids = self.store.split_ids(split, subset)
        self.split, self.subset = split, subset
        self.num_frames, self.crop, self.max_persons = num_frames, crop, max_persons
        self.modality = modality
        self.transform = transform
        self.seed = seed
        self.spec = get_format(self.store.format)
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

    def _generator(self, i: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator().manual_seed(hash((self.seed, self._epoch, int(i))) & 0x7FFFFFFF)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i = int(self.ids[k])
        g = self._generator(i)
        x = torch.from_numpy(self.store.joints(i)[: self.max_persons])
        conf = self.store.confidence(i)
        c = None if conf is None else torch.from_numpy(conf[: self.max_persons])
        length = x.shape[1]
        if self.num_frames is not None:
            tm = build_time_map(torch.tensor([length]), self.num_frames, crop=self.crop, generator=g)
            t0, t1, w = tm.t0[0], tm.t1[0], tm.weight[0]
            x = torch.lerp(x[:, t0], x[:, t1], w[None, :, None, None])
            if c is not None:
                c = torch.lerp(c[:, t0], c[:, t1], w[None, :, None])
            length = self.num_frames
            if x.shape[0] < self.max_persons:  # fixed-size items: absent persons are NaN (conf 0)
                pad = self.max_persons - x.shape[0]
                x = torch.cat([x, torch.full((pad, *x.shape[1:]), float("nan"))])
                if c is not None:
                    c = torch.cat([c, torch.zeros((pad, *c.shape[1:]))])
        if self.modality != "joint":
            x = apply_stream(x[None], self.spec, self.modality, torch.tensor([length]))[0]
        if self.transform is not None:
            x = self.transform(x, g)
        item: dict[str, Any] = {"joints": x, "length": length, "label": int(self.store.labels[i]), "index": i}
        if c is not None:
            item["confidence"] = c
        return item


def pad_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of different lengths/person counts: NaN padding to the largest (M, T)."""
    m = max(it["joints"].shape[0] for it in items)
    t = max(it["joints"].shape[1] for it in items)
    v, c = items[0]["joints"].shape[2:]
    joints = torch.full((len(items), m, t, v, c), float("nan"))
    conf = torch.zeros((len(items), m, t, v)) if "confidence" in items[0] else None
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
