"""Frozen features of a store split through an exported encoder (or a randomly initialised one).

The images are made by an S2I encoder of the *evaluation store's* format: the exported encoder's own
when it was trained on that format (and the same stream), else one built from the exported encoder's
:class:`~s2i.encode.S2IConfig` for the store's format spec, with the value range of the store's training
split (cross-format: one backbone, no per-format branches). ``to_2d`` evaluates 3D data as 2D
(image-plane x, y, and a confidence channel of 1 where a joint is present), with a range estimated on that
view: ``to_2d="orthographic"`` keeps (x, y); ``"perspective"`` divides by the depth, (x/z, y/z), what a
2D pose estimator sees on the video of a camera at the origin looking down +z (camera-space data: Kinect,
NTU, PKU-MMD, NW-UCLA).

Features are the backbone's final-norm tokens pooled by token mean (patch tokens) or the CLS token, or
with ``blocks=N`` the pooled tokens of the last N transformer blocks concatenated (a common linear-eval
variant, DINO's among them; see :func:`block_tokens`), computed batched under ``torch.no_grad``, and cached on
disk keyed by every input that changes them (weights hash, the whole exported description with its input
mean/std, the S2I encoder, store content hash, split, subset, ids, pooling, blocks, augmentations and crops):
:func:`split_features` says whether the cache was used. A damaged entry is recomputed and a failing cache
write only warns.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..data.augment import AugmentConfig, Compose, build_augment, seeded_generator
from ..encode import S2IConfig, S2IEncoder
from ..encode.value_range import dataset_value_range, estimate_value_range
from ..models import (
    ExportedEncoder,
    create_backbone,
    export_files,
    export_folder,
    load_exported,
    pool_tokens,
    read_export_meta,
)
from ..models.export import check_numbers
from ..skeleton import collate_sequences
from ..store import SkeletonStore
from .config import Projection

__all__ = ["TEST_DRAW", "LoadedCheckpoint", "Projection", "augmented_features", "block_tokens", "default_cache_dir",
           "encoder_for_store", "extract_features", "load_checkpoint", "pool_tokens", "split_features",
           "to_image_plane"]

#: the draws of test-time crops: (seed, TEST_DRAW + k) for crop k, apart from the training copies' (seed, k)
TEST_DRAW = 0x7E57

#: perspective: a joint closer than this to the camera plane (metres) is missing, not a huge coordinate
MIN_DEPTH = 1e-3


def to_image_plane(joints: torch.Tensor, projection: Projection = "orthographic") -> torch.Tensor:
    """(..., 3) joints -> (..., 2) image-plane coordinates: (x, y), or (x/z, y/z) for ``perspective``
    (a joint with z <= MIN_DEPTH or NaN is NaN: missing, filled by the encoder like any other)."""
    if projection == "orthographic":
        return joints[..., :2].contiguous()
    if projection == "perspective":
        z = joints[..., 2:3]
        return torch.where(z > MIN_DEPTH, joints[..., :2] / z, torch.full_like(z, float("nan")))
    raise ValueError(f"projection must be 'orthographic' or 'perspective', got {projection!r}")


@dataclass
class LoadedCheckpoint:
    """An exported encoder ready to evaluate, with what identifies it in results.json."""

    model: ExportedEncoder
    path: str
    hash: str  # sha256 of the weights file; for init=random: the seed and the description's hash
    init: str  # "pretrained" or "random"
    meta: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "hash": self.hash, "init": self.init, "backbone": self.meta.get("backbone"),
                "backbone_kwargs": self.meta.get("backbone_kwargs", {}), "img_size": self.meta.get("img_size"),
                "patch_size": self.meta.get("patch_size"), "formats": list(self.meta.get("formats", {})),
                "info": self.meta.get("info", {})}


def load_checkpoint(path: str | Path, init: str = "pretrained", init_seed: int = 0,
                    device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Load an exported encoder folder (or a run folder holding ``encoder/``).

    ``init='random'``: the same architecture and S2I encoders with freshly initialised weights (seeded by
    ``init_seed``) — the random-initialisation baseline of every protocol.
    """
    from .results import file_sha256

    folder = export_folder(path)
    meta = read_export_meta(folder)
    if init == "pretrained":
        model = load_exported(folder, device)
        digest = file_sha256(export_files(folder)[1])
    elif init == "random":
        check_numbers({}, meta["mean"], meta["std"], export_files(folder)[0])
        torch.manual_seed(init_seed)
        backbone, _ = create_backbone(meta["backbone"], img_size=tuple(meta["img_size"]),
                                      patch_size=meta["patch_size"], **meta.get("backbone_kwargs", {}))
        encoders = {name: S2IEncoder.from_description(d) for name, d in meta["formats"].items()}
        model = ExportedEncoder(backbone, encoders, meta["mean"], meta["std"], meta).to(device).eval()
        desc = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()
        digest = f"random(seed={init_seed}):sha256:{desc}"
    else:
        raise ValueError(f"init must be 'pretrained' or 'random', got {init!r}")
    return LoadedCheckpoint(model, str(folder), digest, init, meta)


def _two_d_range(store: SkeletonStore, split: str | None, cfg: S2IConfig, projection: Projection = "orthographic",
                 sample: int = 256, seed: int = 0) -> tuple[list[float], list[float]]:
    """Value range of the store's training sequences seen as 2D (``projection``); never test data."""
    ids = store.split_ids(split, "train") if split is not None and "train" in store.splits.get(split, {}) \
        else np.arange(len(store))
    pick = np.sort(np.random.default_rng(seed).choice(ids, size=min(sample, len(ids)), replace=False))
    batch = collate_sequences([store[int(i)] for i in pick], max_persons=cfg.max_persons)
    joints = to_image_plane(torch.as_tensor(np.asarray(batch.joints)), projection)
    lo, hi = estimate_value_range(joints, store.format_spec, cfg, lengths=batch.lengths)
    return [round(x, 6) for x in lo], [round(x, 6) for x in hi]


def encoder_for_store(ckpt: LoadedCheckpoint | ExportedEncoder, store: SkeletonStore, split: str | None,
                      stream: str = "joint", to_2d: Projection | None = None,
                      overrides: dict[str, Any] | None = None) -> S2IEncoder:
    """The S2I encoder that makes the backbone's input for ``store`` (see the module docstring).

    ``to_2d``: the store's 3D joints are seen as 2D by this projection (None: as they are).
    ``overrides``: S2IConfig options replacing the checkpoint's (an ablation; the range is re-estimated).
    """
    model = ckpt.model if isinstance(ckpt, LoadedCheckpoint) else ckpt
    fmt = store.format_spec.name
    if fmt in model.formats and to_2d is None and not overrides:
        own = model.encoder(fmt)
        if own.config.stream == stream and own.value_range is not None:
            return S2IEncoder.from_description(own.describe())
        base = own.config
    elif fmt in model.formats:
        base = model.encoder(fmt).config
    else:
        base = model.encoder(model.formats[0]).config
    cfg = S2IConfig(**{**base.model_dump(), **(overrides or {}), "stream": stream, "range_lo": None, "range_hi": None})
    enc = S2IEncoder(store.format_spec, cfg)
    if cfg.value_range == "dataset":
        lo, hi = (_two_d_range(store, split, cfg, to_2d) if to_2d is not None
                  else dataset_value_range(store, split, cfg))
        enc.set_value_range(lo, hi)
    return enc


def block_tokens(backbone: Any, images: torch.Tensor, blocks: int = 1) -> list[torch.Tensor]:
    """Tokens (N, prefix + L, D) of the last ``blocks`` transformer blocks of a timm ViT, earliest first.

    The last block's pass through the final norm (``forward_features``); earlier blocks' are the residual
    stream as it is: the probe's BatchNorm standardises each feature, and the final norm applied to earlier
    blocks probed 3 points worse on NW-UCLA (docs/results.md).
    """
    if blocks == 1:
        return [backbone.forward_features(images)]
    depth = len(backbone.blocks)
    if not 1 <= blocks <= depth:
        raise ValueError(f"feature blocks must be between 1 and the backbone's depth {depth}, got {blocks}")
    prefix = bool(backbone.num_prefix_tokens)
    taken = backbone.forward_intermediates(images, indices=blocks, return_prefix_tokens=prefix, norm=False,
                                           output_fmt="NLC", intermediates_only=True)
    out = [torch.cat([t[1], t[0]], dim=1) if prefix else t for t in taken]  # (patches, prefix) -> prefix first
    out[-1] = backbone.norm(out[-1])
    return out


def _batches(store: SkeletonStore, ids: np.ndarray, batch_size: int, max_persons: int,
             to_2d: Projection | None = None, crop: tuple[float, float] | None = None,
             draw: tuple[int, int] = (0, 0)) -> Any:
    """Padded batches of the sequences ``ids``, whole or (``crop``) a random window drawn from (draw, id)."""
    from ..data.dataset import crop_window, pad_collate
    from ..encode.persons import take_persons

    for s in range(0, len(ids), batch_size):
        items = []
        for i in ids[s:s + batch_size]:
            x = torch.from_numpy(store.joints(int(i)))
            g = torch.Generator().manual_seed(hash((*draw, int(i), 0xC709)) & 0x7FFF_FFFF) if crop else None
            start, stop = crop_window(x.shape[1], crop, g)
            item: dict[str, Any] = {"joints": take_persons(x[:, start:stop], max_persons), "length": stop - start,
                                    "label": int(store.labels[int(i)]), "index": int(i)}
            conf = store.confidence(int(i))
            if conf is not None:
                item["confidence"] = take_persons(torch.from_numpy(conf[:, start:stop]), max_persons, fill=0.0)
            items.append(item)
        batch = pad_collate(items)
        if to_2d is not None and batch["joints"].shape[-1] == 3:
            batch["joints"] = to_image_plane(batch["joints"], to_2d)
        yield batch


@torch.no_grad()
def extract_features(model: ExportedEncoder, encoder: S2IEncoder, store: SkeletonStore, ids: np.ndarray,
                     pooling: str = "mean", batch_size: int = 64, max_persons: int | None = None,
                     to_2d: Projection | None = None, device: str | torch.device = "cpu",
                     progress: bool = True, blocks: int = 1, augment: Compose | None = None,
                     crop: tuple[float, float] | None = None, draw: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """(len(ids), blocks * D) pooled features of the store's sequences ``ids``, in that order, each once
    (``blocks`` > 1: the last blocks' pooled tokens side by side, see :func:`block_tokens`).

    ``augment`` / ``crop``: skeleton augmentations (in the encoder, after view alignment) and a random
    temporal window, drawn as a function of ``draw`` = (seed, copy): one augmented view of each sequence."""
    from ..progress import progress_bar

    model = model.to(device).eval()
    encoder = encoder.to(device)
    prefix = int(getattr(model.backbone, "num_prefix_tokens", 1))
    mp = max_persons or encoder.config.max_persons
    out = []
    bar = progress_bar(total=len(ids), desc="features", unit="seq", disable=not progress, leave=False)
    for b, batch in enumerate(_batches(store, ids, batch_size, mp, to_2d, crop, draw)):
        joints = batch["joints"].to(device)
        conf = batch.get("confidence")
        gen = seeded_generator(*draw, b, 0xA09) if augment is not None else None
        img = encoder(joints, batch["length"].to(device), None if conf is None else conf.to(device),
                      generator=gen, augment=augment)
        tokens = block_tokens(model.backbone, model.normalize(img), blocks)
        out.append(torch.cat([pool_tokens(t, pooling, prefix) for t in tokens], dim=1).float().cpu())
        bar.update(len(joints))
    bar.close()
    dim = int(model.meta.get("embed_dim", 0))
    return torch.cat(out) if out else torch.zeros(0, dim * blocks)


def default_cache_dir() -> Path:
    """``$S2I_CACHE/features``, else ``~/.cache/s2i/features``."""
    root = os.environ.get("S2I_CACHE")
    return Path(root) / "features" if root else Path.home() / ".cache" / "s2i" / "features"


#: bumped whenever the content of a cache entry or the way features are computed changes
CACHE_VERSION = 2


def _cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _read_entry(path: Path, key: str, ids: np.ndarray) -> torch.Tensor | None:
    """The features of a cache entry when it is whole and for these ``ids``; None when absent. A damaged entry
    (unreadable, cut short, another key or other ids) is reported by a warning and recomputed, never trusted."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:  # no pickle: a cache file cannot run code
            if (f.metadata() or {}).get("key") != key:
                raise ValueError("written for another key")
            feats, got = f.get_tensor("features"), f.get_tensor("ids")
        if not torch.equal(got, torch.from_numpy(ids)) or feats.shape[0] != len(ids):
            raise ValueError("written for other sequences")
        return feats
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as e:
        warnings.warn(f"damaged feature cache entry {path} ({type(e).__name__}: {e}); recomputing it", stacklevel=4)
        return None


def _write_entry(path: Path, key: str, feats: torch.Tensor, ids: np.ndarray) -> bool:
    """Store an entry atomically; a failing write (read-only folder, full disk) only warns: the cache is an
    optional speed-up, never a reason for a run to fail."""
    from safetensors.torch import save_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"features": feats.contiguous(), "ids": torch.from_numpy(ids).contiguous()}, str(tmp),
                      metadata={"key": key})
    except OSError as e:
        warnings.warn(f"feature cache not written ({path}: {e}); the features are used without caching them",
                      stacklevel=4)
        return False
    return True


def _cached(key_parts: dict[str, Any], ids: np.ndarray, cache_dir: str | Path | None,
            compute: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """Features of ``key_parts`` from ``cache_dir`` (one ``.safetensors`` file per key) when a valid entry is
    there, else ``compute()``, stored for the next run; info = {"key", "cached", "path"}."""
    key = _cache_key(key_parts)
    info: dict[str, Any] = {"key": key, "cached": False, "path": None}
    path = Path(cache_dir) / f"{key}.safetensors" if cache_dir is not None else None
    feats = _read_entry(path, key, ids) if path is not None else None
    if feats is not None:
        info.update(cached=True, path=str(path))
        return feats, info
    feats = compute()
    if path is not None and _write_entry(path, key, feats, ids):
        info["path"] = str(path)
    return feats, info


def _key_parts(ckpt: LoadedCheckpoint, encoder: S2IEncoder, store: SkeletonStore, split: str | None,
               subset: str | None, ids: np.ndarray, pooling: str, max_persons: int | None,
               to_2d: Projection | None, blocks: int) -> dict[str, Any]:
    """Every input that changes a feature: the weights (their hash; for init=random the seed), the whole
    exported description (architecture, input mean/std, S2I encoders, and any field added later), the S2I
    encoder that makes the images, the data (store content, the sequences) and the extraction options."""
    return {"version": CACHE_VERSION, "checkpoint": ckpt.hash, "init": ckpt.init, "model": ckpt.meta,
            "store": store.manifest.get("content_hash"), "split": split, "subset": subset,
            "stream": encoder.config.stream, "pooling": pooling, "to_2d": to_2d, "blocks": blocks,
            "max_persons": max_persons, "encoder": encoder.describe(),
            "ids": hashlib.sha256(ids.tobytes()).hexdigest()}


def split_features(ckpt: LoadedCheckpoint, encoder: S2IEncoder, store: SkeletonStore, split: str | None,
                   subset: str | None, ids: np.ndarray | None = None, pooling: str = "mean",
                   batch_size: int = 64, max_persons: int | None = None, to_2d: Projection | None = None,
                   cache_dir: str | Path | None = None, device: str | torch.device = "cpu",
                   progress: bool = True, blocks: int = 1) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """(features, labels, info) of ``split``/``subset`` (or explicit ``ids``) of ``store``.

    ``cache_dir`` (None: no cache) holds one ``.safetensors`` file per key; ``info`` = {"key", "cached": True when
    the features were read from the cache, "path"}.
    """
    if ids is None:
        ids = store.split_ids(split, subset)
    ids = np.asarray(ids, dtype=np.int64)
    labels = torch.from_numpy(store.labels[ids].astype(np.int64))
    parts = _key_parts(ckpt, encoder, store, split, subset, ids, pooling, max_persons, to_2d, blocks)
    feats, info = _cached(parts, ids, cache_dir, lambda: extract_features(
        ckpt.model, encoder, store, ids, pooling, batch_size, max_persons, to_2d, device, progress, blocks))
    return feats, labels, info


def augmented_features(ckpt: LoadedCheckpoint, encoder: S2IEncoder, store: SkeletonStore, split: str | None,
                       ids: np.ndarray, augment: AugmentConfig, crop: tuple[float, float] | None, copies: int,
                       seed: int, pooling: str = "mean", batch_size: int = 64, max_persons: int | None = None,
                       to_2d: Projection | None = None, cache_dir: str | Path | None = None,
                       device: str | torch.device = "cpu", progress: bool = True, blocks: int = 1,
                       subset: str = "train", first_draw: int = 0) -> tuple[torch.Tensor, dict[str, Any]]:
    """(copies, len(ids), D) features of ``copies`` augmented views of each sequence ``ids``: the augmentations
    and temporal crops of the linear probe's training copies, or (crops alone, ``first_draw=TEST_DRAW``) its
    test-time windows; copy k drawn from (seed, first_draw + k), cached like the rest (info: one cache key per
    copy, and whether every copy was read from the cache)."""
    ids = np.asarray(ids, dtype=np.int64)
    aug = build_augment(augment, encoder.spec)
    out, keys, cached = [], [], True
    for c in range(first_draw, first_draw + copies):
        parts = {**_key_parts(ckpt, encoder, store, split, subset, ids, pooling, max_persons, to_2d, blocks),
                 "augment": augment.model_dump(mode="json"), "crop": crop, "draw": [seed, c]}
        f, i = _cached(parts, ids, cache_dir, lambda c=c: extract_features(
            ckpt.model, encoder, store, ids, pooling, batch_size, max_persons, to_2d, device, progress, blocks,
            aug, crop, (seed, c)))
        out.append(f)
        keys.append(i["key"])
        cached = cached and i["cached"]
    return torch.stack(out), {"keys": keys, "cached": cached, "copies": copies}
