"""evaluation/features.py pinned where the encoder's own options must reach the features (issue 36, third round):
the persons kept (``max_persons``) in the 2D range and in augmented copies, the encoder's estimate options in the
2D range, and the store's format spec in augmentations that use joint names (a flip)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.data.augment import AugmentConfig, Compose, RandomFlip
from s2i.encode import S2IConfig
from s2i.encode.value_range import estimate_value_range
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.features import (
    augmented_features,
    encoder_for_store,
    extract_features,
    load_checkpoint,
    to_image_plane,
)
from s2i.skeleton import collate_sequences
from s2i.store import SkeletonStore, StoreWriter
from s2i.testing.synthetic import synthetic_ntu

VIT = {"depth": 1, "embed_dim": 16, "num_heads": 2}
#: persons averaged (so a third person would move every value), no centring, torso scaling: each differs from
#: S2IConfig()'s defaults, and each changes the estimated range
CONFIG = S2IConfig(height=16, width=16, persons="mean", max_persons=2, center=False, scale=True)


@pytest.fixture(scope="module")
def three_persons(tmp_path_factory):
    """Six ntu25 sequences of three persons each (the persons 0.8 m apart), one exported random encoder of
    CONFIG, loaded, and the store's 2D encoder (orthographic view of the xsub training part)."""
    tmp = tmp_path_factory.mktemp("three-persons")
    x = synthetic_ntu(6, 14, 3, seed=7)
    with StoreWriter(tmp / "st", "ntu25", 3, 25) as w:
        for i in range(6):
            w.append(SkeletonSequence(x[i][:, : 10 + i], "ntu25", meta={"label": i % 2}))
        w.finalize({"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}}, {"dataset": "synthetic"}, {})
    store = SkeletonStore(tmp / "st")
    ckpt = load_checkpoint(export_random_encoder(tmp / "enc", [store], CONFIG, patch_size=8, backbone_kwargs=VIT))
    return store, ckpt


def _range_by_hand(store, cfg, persons):
    """The training part's sequences (all 4: fewer than the 256 sampled), ``persons`` kept, seen as 2D and
    estimated with ``cfg``, rounded to 6 decimals like the 2D range."""
    batch = collate_sequences([store[i] for i in range(4)], max_persons=persons)
    lo, hi = estimate_value_range(to_image_plane(torch.as_tensor(np.asarray(batch.joints))), store.format_spec, cfg,
                                  lengths=batch.lengths)
    return [round(v, 6) for v in lo] + [round(v, 6) for v in hi]


def test_the_2d_range_keeps_the_encoders_persons_and_uses_its_estimate_options(three_persons):
    store, ckpt = three_persons
    enc = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
    assert enc.config.persons == "mean" and enc.config.max_persons == 2 and not enc.config.center
    cfg = S2IConfig(**{**enc.config.model_dump(), "range_lo": None, "range_hi": None})
    got = [*enc.value_range[0], *enc.value_range[1]]
    want = _range_by_hand(store, cfg, 2)
    assert got == pytest.approx(want, abs=1e-7)
    # what the test tells apart: all three persons averaged, and the default options (persons auto -> stack,
    # centred, not scaled) give other ranges
    assert _range_by_hand(store, cfg, 3) != pytest.approx(want, abs=1e-3)
    assert _range_by_hand(store, None, 2) != pytest.approx(want, abs=1e-3)


def test_augmented_copies_keep_the_asked_persons(three_persons):
    """``max_persons=1`` given to augmented_features reaches the copies' extraction: the copy is the first person
    alone (with the same draws), not the mean of the encoder's two."""
    store, ckpt = three_persons
    enc = encoder_for_store(ckpt, store, "xsub")
    ids = np.array([1, 4])
    aug = AugmentConfig(rotate=20)
    copies, _ = augmented_features(ckpt, enc, store, "xsub", ids, aug, None, 1, seed=3, max_persons=1,
                                   cache_dir=None, progress=False)
    from s2i.data.augment import build_augment

    kw = {"progress": False, "augment": build_augment(aug, enc.spec), "draw": (3, 0)}
    one = extract_features(ckpt.model, enc, store, ids, max_persons=1, **kw)
    two = extract_features(ckpt.model, enc, store, ids, max_persons=2, **kw)
    assert copies.shape == (1, 2, 16)
    torch.testing.assert_close(copies[0], one, rtol=0, atol=0)
    assert not torch.allclose(one, two, atol=1e-4)  # the persons kept change the features


def test_a_flipped_copy_mirrors_with_the_stores_format(three_persons):
    """A flip (p = 1) in augmented copies swaps the store format's left and right joints: the copy equals the
    extraction with ntu25's RandomFlip, and differs from the clean features."""
    store, ckpt = three_persons
    enc = encoder_for_store(ckpt, store, "xsub")
    ids = np.array([0, 5, 2])
    copies, _ = augmented_features(ckpt, enc, store, "xsub", ids, AugmentConfig(flip=1.0), None, 1, seed=0,
                                   cache_dir=None, progress=False)
    flip = Compose([RandomFlip("ntu25", 1.0)])
    want = extract_features(ckpt.model, enc, store, ids, progress=False, augment=flip, draw=(0, 0))
    torch.testing.assert_close(copies[0], want, rtol=0, atol=0)
    clean = extract_features(ckpt.model, enc, store, ids, progress=False)
    assert not torch.allclose(want, clean, atol=1e-4)


def test_the_2d_range_of_a_large_store_is_estimated_on_256_training_sequences_drawn_with_seed_0(three_persons,
                                                                                                  tmp_path):
    """More than 256 training sequences: the 2D range is estimated on 256 of them, drawn without replacement by
    NumPy's generator seeded 0 and taken in store order (the same range on every run)."""
    _, ckpt = three_persons
    x = synthetic_ntu(300, 3, 1, seed=11)
    with StoreWriter(tmp_path / "big", "ntu25", 3, 25) as w:
        for i in range(300):
            w.append(SkeletonSequence(x[i] * (1.0 + i / 300), "ntu25", meta={"label": i % 2}))
        w.finalize({"xsub": {"train": list(range(290)), "test": list(range(290, 300))}}, {"dataset": "big"}, {})
    store = SkeletonStore(tmp_path / "big")
    enc = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
    cfg = S2IConfig(**{**enc.config.model_dump(), "range_lo": None, "range_hi": None})

    def by_hand(size, seed):
        pick = np.sort(np.random.default_rng(seed).choice(np.arange(290), size=size, replace=False))
        batch = collate_sequences([store[int(i)] for i in pick], max_persons=cfg.max_persons)
        lo, hi = estimate_value_range(to_image_plane(torch.as_tensor(np.asarray(batch.joints))), store.format_spec,
                                      cfg, lengths=batch.lengths)
        return [round(v, 6) for v in lo] + [round(v, 6) for v in hi]

    want = by_hand(256, 0)
    assert [*enc.value_range[0], *enc.value_range[1]] == pytest.approx(want, abs=1e-7)
    assert encoder_for_store(ckpt, store, "xsub", to_2d="orthographic").value_range == enc.value_range
    for other in (by_hand(257, 0), by_hand(256, 1)):  # what the test tells apart
        assert other != pytest.approx(want, abs=1e-6)


def test_a_checkpoint_description_without_the_optional_fields_gives_their_empty_defaults():
    from s2i.evaluation.features import LoadedCheckpoint

    meta = {"backbone": "vit_tiny_patch16_224", "img_size": [16, 32], "patch_size": 8}
    ck = LoadedCheckpoint(None, "/runs/enc", "sha", "pretrained", meta)  # type: ignore[arg-type]
    assert ck.describe() == {"path": "/runs/enc", "hash": "sha", "init": "pretrained",
                             "backbone": "vit_tiny_patch16_224", "backbone_kwargs": {}, "img_size": [16, 32],
                             "patch_size": 8, "formats": [], "info": {}}
