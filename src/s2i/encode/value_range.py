"""Data-set-level value ranges (S2I.md 5): estimated from training data, keyed by the options that change values.

The range maps normalised stream values to [0, 1]. It depends on every option that changes those values
(stream, centring, rotation, scaling, person policy), so a range is stored under :func:`value_range_key`
of the config; :func:`dataset_value_range` looks one up in a prepared store, or computes it from the
split's training sequences and caches it there, so ``--scale`` never silently uses an unscaled range.
A sequence with broken coordinates (a value far beyond every other sequence's extent, or not finite) is
left out of the estimate and reported; a range that is still not finite is refused, never used.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..formats import FormatSpec
from .config import S2IConfig
from .encoder import S2IEncoder, _as_tensor
from .persons import batch_has_two_person, resolve_persons, store_has_two_person

if TYPE_CHECKING:
    from ..store import SkeletonStore

__all__ = ["STREAMS", "RangeEstimate", "check_value_range", "dataset_value_range", "estimate_value_range",
           "precompute_value_ranges", "value_range_estimate", "value_range_key"]

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


#: a sequence whose values reach further from the data's median than this many times the typical sequence's
#: extent is an outlier (a broken coordinate such as 1e30 on the centre joint shifts a whole sequence); real
#: data sets reach at most 17x (NW-UCLA, bone-motion stream), so normal data never loses a sequence
OUTLIER_FACTOR = 100.0
#: a range bound beyond this (in normalised units) is refused as absurd rather than used
MAX_RANGE = 1e9


@dataclass
class RangeEstimate:
    """A value range and what was left out of it: the batch positions of the outlier sequences and how many
    of their values lay beyond the outlier bound (or were not finite)."""

    lo: list[float]
    hi: list[float]
    sequences: int
    outliers: list[int] = field(default_factory=list)
    outlier_values: int = 0
    largest: float = 0.0  # the largest |value - median| of an outlier sequence (inf: a non-finite value)

    def describe(self, ids: Any = None) -> str:
        """One line saying which sequences were left out (``ids``: their names, by batch position)."""
        named = [int(ids[i]) for i in self.outliers] if ids is not None else self.outliers
        shown = ", ".join(map(str, named[:10])) + (" ..." if len(named) > 10 else "")
        values = f"{self.outlier_values} value{'s' if self.outlier_values != 1 else ''}"
        return (f"{len(self.outliers)} of {self.sequences} sequences ({shown}) left out of the value range:"
                f" {values} up to {self.largest:.3g} from the median, beyond {OUTLIER_FACTOR:g}x the typical"
                " sequence's extent (or not finite)")


def check_value_range(lo: Any, hi: Any, where: str) -> None:
    """Refuse a range with a non-finite or absurd bound (ValueError naming ``where``): mapped to [0, 1] by it,
    every image would be flat."""
    bounds = np.asarray([*lo, *hi], dtype=np.float64)
    if not np.isfinite(bounds).all() or np.abs(bounds).max(initial=0.0) > MAX_RANGE:
        raise ValueError(f"{where}: value range lo={list(lo)} hi={list(hi)} is not finite or beyond +-{MAX_RANGE:g};"
                         " the data holds broken coordinates (run `s2i inspect` on the store)")


def _outlier_sequences(flat: torch.Tensor, seq: torch.Tensor, n: int, sample: torch.Tensor | None
                       ) -> tuple[torch.Tensor, int, float]:
    """(bad (n,) bool, values beyond the bound, largest deviation of a bad sequence) of values ``flat`` (K, C)
    of sequences ``seq`` (K,): a sequence is bad when a value is not finite or lies further from the median
    than OUTLIER_FACTOR x the median over sequences of each sequence's largest deviation."""
    finite = torch.isfinite(flat).all(1)
    ref = flat[finite] if sample is None else flat[sample][finite[sample]]
    if ref.shape[0] == 0:
        return torch.ones(n, dtype=torch.bool), int(flat.shape[0]), float("inf")
    dev = (flat - ref.median(dim=0).values).abs()
    dev[~torch.isfinite(dev)] = float("inf")
    index = seq[:, None].expand_as(dev)
    extent = torch.zeros(n, flat.shape[1], dtype=dev.dtype).scatter_reduce(0, index, dev, "amax", include_self=False)
    counts = torch.zeros(n, dtype=torch.long).scatter_add(0, seq, torch.ones_like(seq))
    typical = extent[counts > 0].median(dim=0).values
    finite_typical = typical[torch.isfinite(typical)]
    floor = 0.01 * float(finite_typical.max()) if finite_typical.numel() else 0.0
    bound = OUTLIER_FACTOR * typical.clamp_min(max(floor, 1e-12))
    beyond = dev > bound
    bad = torch.zeros(n, dtype=torch.bool).index_put_((seq,), beyond.any(1), accumulate=True)
    largest = float(extent[bad].max()) if bad.any() else 0.0
    return bad, int(beyond.sum()), largest


def value_range_estimate(joints: np.ndarray | torch.Tensor, fmt: str | FormatSpec, config: S2IConfig | None = None,
                         lengths: Any = None, confidence: Any = None,
                         percentiles: tuple[float, float] = (1.0, 99.0), max_samples: int = 2_000_000,
                         seed: int = 0, **options: Any) -> RangeEstimate:
    """Robust per-channel (low, high) percentiles of the normalised stream values of a batch, with the outlier
    sequences left out (see :class:`RangeEstimate`); a range that is still not finite is refused."""
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
    seq = torch.arange(vals.shape[0])[:, None, None, None].expand(vals.shape[:-1])[inside]
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(flat.shape[0], generator=g)[:max_samples] if flat.shape[0] > max_samples else None
    bad, beyond, largest = _outlier_sequences(flat, seq, int(vals.shape[0]), pick)
    if bad.any():
        flat = flat[~bad[seq]]
        if flat.shape[0] > max_samples:
            pick = torch.randperm(flat.shape[0], generator=torch.Generator().manual_seed(seed))[:max_samples]
        else:
            pick = None
    if pick is not None:
        flat = flat[pick]
    if flat.shape[0] == 0:
        raise ValueError("no finite stream values to estimate a value range from")
    q = torch.tensor([percentiles[0] / 100.0, percentiles[1] / 100.0], dtype=torch.float64)
    qs = torch.quantile(flat.double(), q, dim=0)
    lo, hi = qs[0].tolist(), qs[1].tolist()
    hi = [h if h > low else low + 1e-3 for low, h in zip(lo, hi)]
    return RangeEstimate(lo, hi, int(vals.shape[0]), torch.nonzero(bad).flatten().tolist(), beyond, largest)


def estimate_value_range(joints: np.ndarray | torch.Tensor, fmt: str | FormatSpec,
                         config: S2IConfig | None = None, lengths: Any = None, confidence: Any = None,
                         percentiles: tuple[float, float] = (1.0, 99.0), max_samples: int = 2_000_000,
                         seed: int = 0, **options: Any) -> tuple[list[float], list[float]]:
    """Robust per-channel (low, high) percentiles of the normalised stream values of a batch.

    This is the data-set-level range of S2I.md 5: compute it on the training split, store it with the
    prepared data, and pass it as range_lo/range_hi (or set_value_range) when encoding. Outlier sequences
    are left out with a warning (:func:`value_range_estimate`); a non-finite range is refused.
    """
    est = value_range_estimate(joints, fmt, config, lengths, confidence, percentiles, max_samples, seed, **options)
    if est.outliers:
        warnings.warn(est.describe(), stacklevel=2)
    check_value_range(est.lo, est.hi, "the given sequences")
    return est.lo, est.hi


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
    est = value_range_estimate(batch.joints, store.format_spec, config, lengths=batch.lengths,
                               confidence=batch.confidence)
    if est.outliers:
        warnings.warn(f"{store.path}: {est.describe(pick)}", stacklevel=3)
    check_value_range(est.lo, est.hi, f"{store.path} ({value_range_key(config)})")
    return [round(x, 6) for x in est.lo], [round(x, 6) for x in est.hi]


def _usable(entry: Any) -> bool:
    """A stored or cached range with finite, sane bounds (one written before outliers were left out may not
    be: it is recomputed, never used)."""
    try:
        check_value_range(entry["lo"], entry["hi"], "cached")
    except (ValueError, TypeError, KeyError):
        return False
    return True


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
    if hit is not None and _usable(hit):
        return list(hit["lo"]), list(hit["hi"])
    cache_path = store.path / CACHE_FILE
    cache: dict[str, Any] = {}
    if cache_path.exists():
        try:
            cache = json.loads(cache_path.read_text())
        except ValueError:
            cache = {}  # a damaged cache is recomputed, never trusted
        hit = cache.get(name, {}).get(key) if isinstance(cache, dict) and isinstance(cache.get(name), dict) else None
        if isinstance(hit, dict) and hit.get("sample") == [sample, seed] and _usable(hit):
            return list(hit["lo"]), list(hit["hi"])
    cache = cache if isinstance(cache, dict) else {}
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
