"""A randomly initialised exported encoder for stores: the random-init baseline without a pretraining run.

``s2i eval ... --set init=random`` re-initialises the architecture of an existing checkpoint; this builds
one from scratch (backbone name + kwargs + S2I config, value ranges from each store's training split), so
protocols can be run and tested before any pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..encode import S2IConfig, S2IEncoder
from ..encode.persons import resolve_persons, store_has_two_person
from ..encode.value_range import dataset_value_range
from ..models import create_backbone, export_encoder
from ..store import SkeletonStore, training_split

__all__ = ["export_random_encoder"]


def export_random_encoder(out: str | Path, stores: Sequence[str | Path | SkeletonStore], config: S2IConfig,
                          backbone: str = "vit_tiny_patch16_224", patch_size: int = 8,
                          backbone_kwargs: dict[str, Any] | None = None, seed: int = 0,
                          split: str | None = None) -> Path:
    """Export a seeded random ``backbone`` for ``config``-sized images with one S2I encoder per store format
    (value range of each store's ``split`` training part; default: its first split with a train part;
    ``persons: auto`` resolved from the stores)."""
    torch.manual_seed(seed)
    kw = dict(backbone_kwargs or {})
    bb, _ = create_backbone(backbone, img_size=(config.height, config.width), patch_size=patch_size, **kw)
    encoders: dict[str, S2IEncoder] = {}
    names = []
    opened = [s if isinstance(s, SkeletonStore) else SkeletonStore(s) for s in stores]
    # persons: auto decided once for all stores, as pretraining does (one image layout)
    config = resolve_persons(config, any(store_has_two_person(st) for st in opened))
    for store in opened:
        names.append(str(store.manifest.get("dataset")))
        sp = split if split is not None else training_split(store, None)
        enc = S2IEncoder(store.format_spec, config)
        if config.value_range == "dataset":
            enc.set_value_range(*dataset_value_range(store, sp, config))
        encoders.setdefault(store.format_spec.name, enc)
    return export_encoder(out, bb, backbone, encoders, backbone_kwargs=kw,
                          info={"init": "random", "seed": seed, "datasets": names})
