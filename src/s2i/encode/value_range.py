"""Data-set-level value ranges (S2I.md 5): estimated from training data, keyed by the options that change values.

The range maps normalised stream values to [0, 1]. It depends on every option that changes those values
(stream, centring, rotation, scaling, person policy), so a range is stored under :func:`value_range_key`
of the config; :func:`dataset_value_range` looks one up in a prepared store, or computes it from the
split's training sequences and caches it there, so ``--scale`` never silently uses an unscaled range.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..formats import FormatSpec
from .config import S2IConfig
from .encoder import S2IEncoder, _as_tensor
from .persons import batch_has_two_person, resolve_persons, store_has_two_person

if TYPE_CHECKING:
    from ..store import SkeletonStore

__all__ = ["STREAMS", "dataset_value_range", "estimate_value_range", "precompute_value_ranges", "value_range_key"]

STREAMS = ("joint", "bone", "motion", "bone_motion")
#: the side file of a store that caches ranges computed on demand (not part of the content hash)
CACHE_FILE = "value_ranges.json"


def value_range_key(config: S2IConfig) -> str:
    """A stable name for the options that change the values before they are mapped to [0, 1].

    The key names the resolved person policy: resolve ``persons='auto'`` for the data first
    (:func:`s2i.encode.resolve_persons`; :func:`dataset_value_range` does); an unresolved ``auto`` is
    keyed as ``stack``, like an encoder built without data."""
    c = resolve_persons(config, True)
    rotate = "auto" if c.rotate is None else int(c.rotate)
    persons = f"stack{c.max_persons}" if c.persons == "stack" else c.persons
    return f"{c.stream}|center={int(c.center)}|rotate={rotate}|scale={int(c.scale)}|persons={persons}"


def estimate_value_range(joints: np.ndarray | torch.Tensor, fmt: str | FormatSpec,
                         config: S2IConfig | None = None, lengths: Any = None, confidence: Any = None,
                         percentiles: tuple[float, float] = (1.0, 99.0), max_samples: int = 2_000_000,
                         seed: int = 0, **options: Any) -> tuple[list[float], list[float]]:
    """Robust per-channel (low, high) percentiles of the normalised stream values of a batch.

    This is the data-set-level range of S2I.md 5: compute it on the training split, store it with the
    prepared data, and pass it as range_lo/range_hi (or set_value_range) when encoding.
    """
    x = _as_tensor(joints, None, torch.float32)
    assert x is not None
    cfg = config or S2IConfig()
    cfg = S2IConfig(**{**cfg.model_dump(), **options}) if options else cfg
    enc = S2IEncoder(fmt, resolve_persons(cfg, batch_has_two_person(x)))
    ln = _as_tensor(lengths, None, torch.long)
    with torch.no_grad():
        vals, ln = enc.stream_values(x, ln, _as_tensor(confidence, None, torch.float32))
    t = torch.arange(vals.shape[2])
    inside = (t[None, :] < ln[:, None])[:, None, :, None].expand(vals.shape[:-1])
    flat = vals[inside]  # (K, 3)
    if flat.shape[0] > max_samples:
        g = torch.Generator().manual_seed(seed)
        flat = flat[torch.randperm(flat.shape[0], generator=g)[:max_samples]]
    q = torch.tensor([percentiles[0] / 100.0, percentiles[1] / 100.0], dtype=torch.float64)
    qs = torch.quantile(flat.double(), q, dim=0)
    lo, hi = qs[0].tolist(), qs[1].tolist()
    hi = [h if h > low else low + 1e-3 for low, h in zip(lo, hi)]
    return lo, hi


def _training_ids(store: SkeletonStore, split: str | None) -> tuple[str, np.ndarray]:
    """(name, ids) of the sequences a range is estimated from: the split's training part, else all."""
    if split is not None and "train" in store.splits.get(split, {}):
        return split, store.split_ids(split, "train")
    if split is not None and split not in store.splits:
        store.split_ids(split, None)  # raises the store's error naming the available splits
    return "all", np.arange(len(store))


def _estimate_on_store(store: SkeletonStore, ids: np.ndarray, config: S2IConfig, sample: int,
                       seed: int) -> tuple[list[float], list[float]]:
    from ..skeleton import collate_sequences

    if len(ids) == 0:
        raise ValueError(f"{store.path}: no training sequences to estimate a value range from")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(ids, size=min(sample, len(ids)), replace=False))
    batch = collate_sequences([store[int(i)] for i in pick], max_persons=config.max_persons)
    lo, hi = estimate_value_range(batch.joints, store.format_spec, config, lengths=batch.lengths,
                                  confidence=batch.confidence)
    return [round(x, 6) for x in lo], [round(x, 6) for x in hi]


def dataset_value_range(store: SkeletonStore, split: str | None, config: S2IConfig | None = None,
                        sample: int = 256, seed: int = 0) -> tuple[list[float], list[float]]:
    """The (lo, hi) range of ``config``'s values on ``split``'s training sequences of ``store``.

    Looked up in the ranges prepare stored, then in the store's cache; else estimated from a seeded
    sample of at most ``sample`` training sequences (never test data) and cached in the store.
    """
    config = resolve_persons(config, store_has_two_person(store))
    key = value_range_key(config)
    name, ids = _training_ids(store, split)
    stored = (store.manifest.get("stats") or {}).get("value_ranges") or {}
    hit = stored.get(name, {}).get(key)
    cache_path = store.path / CACHE_FILE
    cache: dict[str, Any] = {}
    if hit is None and cache_path.exists():
        try:
            cache = json.loads(cache_path.read_text())
        except ValueError:
            cache = {}  # a damaged cache is recomputed, never trusted
        hit = cache.get(name, {}).get(key)
        if hit is not None and hit.get("sample") != [sample, seed]:
            hit = None
    if hit is not None:
        return list(hit["lo"]), list(hit["hi"])
    lo, hi = _estimate_on_store(store, ids, config, sample, seed)
    cache.setdefault(name, {})[key] = {"lo": lo, "hi": hi, "sample": [sample, seed]}
    with contextlib.suppress(OSError):  # a read-only store still gives the range, it just is not cached
        store.write_json(CACHE_FILE, cache)
    return lo, hi


def precompute_value_ranges(store: SkeletonStore, streams: tuple[str, ...] = STREAMS, sample: int = 256,
                            seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """Ranges of the default options for each stream on each split's training part, keyed like the cache.

    ``prepare`` stores this in the manifest (``stats.value_ranges``), so common configs need no estimate.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    names: list[str | None] = [n for n, parts in store.splits.items() if "train" in parts] or [None]
    for split in names:
        name, ids = _training_ids(store, split)
        if len(ids) == 0:
            continue
        for stream in streams:
            cfg = resolve_persons(S2IConfig(stream=stream), store_has_two_person(store))
            lo, hi = _estimate_on_store(store, ids, cfg, sample, seed)
            out.setdefault(name, {})[value_range_key(cfg)] = {"lo": lo, "hi": hi, "sample": [sample, seed]}
    return out
