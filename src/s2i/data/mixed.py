"""Several stores in one training stream, batches grouped by skeleton format, sampling as a function of
(seed, position in the stream) so a run resumed at any step sees exactly the data it would have seen.

- :class:`MixedDataset` holds one :class:`~s2i.data.SkeletonDataset` per store; an item key is
  ``(store, position in that dataset, stream position)``; the stream position seeds the crop and
  augmentation of the item (``set_epoch``), so the same draw always gives the same sample.
- :class:`StepBatchSampler` cuts the stream into global batches of ``world_size x batch_size`` keys; rank
  ``r`` takes its slice. The stream is a sequence of virtual epochs, each a seeded permutation of every
  item (or, with per-store ``weights``, a seeded weighted draw of stores with each store's items in a
  seeded order). It starts at any batch number, which is how a resumed run skips what it consumed.
- :func:`collate_by_format` turns a batch of items into ``{format name: padded sub-batch}`` plus the
  batch number, so the model can make the images of each format with that format's encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from .dataset import SkeletonDataset, pad_collate

__all__ = ["MixedDataset", "StepBatchSampler", "collate_by_format", "stream_keys"]

Key = tuple[int, int, int]  # (store, position in its dataset, stream position)


class MixedDataset(torch.utils.data.Dataset):
    """Items of several datasets, addressed by :data:`Key` (see the module docstring)."""

    def __init__(self, datasets: Sequence[SkeletonDataset]) -> None:
        if not datasets:
            raise ValueError("MixedDataset needs at least one dataset")
        self.datasets = list(datasets)
        self.sizes = [len(d) for d in self.datasets]
        if any(s == 0 for s in self.sizes):
            empty = [str(d.store.path) for d in self.datasets if len(d) == 0]
            raise ValueError(f"no training sequences in {', '.join(empty)}")

    def __len__(self) -> int:
        return sum(self.sizes)

    def format_of(self, source: int) -> str:
        return self.datasets[source].spec.name

    def __getitem__(self, key: Key) -> dict[str, Any]:
        source, k, position = key
        ds = self.datasets[source]
        ds.set_epoch(position)  # crop/augmentation seeded by (seed, stream position, sequence id)
        item = ds[k]
        item["source"], item["position"] = source, position
        return item


def _generator(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(hash(tuple(parts)) & 0x7FFF_FFFF_FFFF)


def stream_keys(sizes: Sequence[int], epoch: int, seed: int,
                weights: Sequence[float] | None = None) -> list[tuple[int, int]]:
    """(store, position) pairs of virtual epoch ``epoch``: a function of (sizes, epoch, seed, weights).

    Without weights, a permutation of every item of every store. With per-store weights, ``sum(sizes)``
    draws: stores drawn with probability proportional to their weight, each store's items taken in a
    seeded order (cycled when a store is drawn more often than it has items).
    """
    total = sum(sizes)
    g = _generator(seed, epoch, 0x5EED)
    offsets = [0]
    for s in sizes[:-1]:
        offsets.append(offsets[-1] + s)
    if weights is None:
        flat = torch.randperm(total, generator=g).tolist()
        bounds = torch.tensor(offsets[1:])
        stores = torch.bucketize(torch.tensor(flat), bounds, right=True).tolist()
        return [(s, i - offsets[s]) for s, i in zip(stores, flat)]
    w = torch.tensor([float(x) for x in weights], dtype=torch.float64)
    stores = torch.multinomial(w, total, replacement=True, generator=g).tolist()
    orders = [torch.randperm(n, generator=g).tolist() for n in sizes]
    seen = [0] * len(sizes)
    out = []
    for s in stores:
        out.append((s, orders[s][seen[s] % sizes[s]]))
        seen[s] += 1
    return out


class StepBatchSampler(torch.utils.data.Sampler[list[Key]]):
    """Batches of :data:`Key` for one rank, from global batch ``start()`` to ``num_batches``.

    ``start`` is a callable read when iteration begins (e.g. the number of batches a restored trainer
    already consumed); ``len()`` is always ``num_batches`` so progress counts stay those of the full run.
    """

    def __init__(self, sizes: Sequence[int], batch_size: int, num_batches: int, seed: int = 0,
                 weights: Sequence[float] | None = None, rank: int = 0, world_size: int = 1,
                 start: Callable[[], int] | None = None) -> None:
        if weights is not None and len(weights) != len(sizes):
            raise ValueError(f"{len(weights)} sampling weights for {len(sizes)} stores")
        if weights is not None and (min(weights) < 0 or sum(weights) <= 0):
            raise ValueError(f"sampling weights must be >= 0 with a positive sum, got {list(weights)}")
        self.sizes, self.batch_size, self.num_batches = list(sizes), batch_size, num_batches
        self.seed, self.weights = seed, (list(weights) if weights is not None else None)
        self.rank, self.world_size = rank, world_size
        self.start = start or (lambda: 0)
        self._epoch_cache: dict[int, list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        return self.num_batches

    def _key(self, position: int) -> Key:
        total = sum(self.sizes)
        epoch, offset = divmod(position, total)
        if epoch not in self._epoch_cache:
            self._epoch_cache = {epoch: stream_keys(self.sizes, epoch, self.seed, self.weights)}
        source, k = self._epoch_cache[epoch][offset]
        return source, k, position

    def batch(self, number: int) -> list[Key]:
        """Keys of this rank's share of global batch ``number``."""
        first = (number * self.world_size + self.rank) * self.batch_size
        return [self._key(p) for p in range(first, first + self.batch_size)]

    def __iter__(self) -> Iterator[list[Key]]:
        for b in range(int(self.start()), self.num_batches):
            yield self.batch(b)


def collate_by_format(items: list[dict[str, Any]], formats: Sequence[str],
                      batch_size: int) -> dict[str, Any]:
    """Items -> {"formats": {format: padded sub-batch (:func:`pad_collate`) + "source"}, "batch": number}.

    ``formats[s]`` is the format of store ``s``; sub-batches follow the first appearance of each format
    in ``formats`` (a fixed order, so the concatenated images are in the same order on every run).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for fmt in dict.fromkeys(formats):
        sel = [it for it in items if formats[it["source"]] == fmt]
        if sel:
            groups[fmt] = sel
    out: dict[str, Any] = {}
    for fmt, sel in groups.items():
        sub = pad_collate(sel)
        sub["source"] = torch.tensor([it["source"] for it in sel])
        sub["position"] = torch.tensor([it["position"] for it in sel])
        out[fmt] = sub
    number = min(it["position"] for it in items) // max(batch_size, 1)
    return {"formats": out, "batch": number}
