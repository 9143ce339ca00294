"""evaluation/features.py pinned on values (issue 36, mutation round 2): features equal the exported model run by
hand on the encoder's images, in the asked order and any batching; the checkpoint's identity and description;
the cache folder, its entries' checks (another key, other sequences) and info; the 2D range's sample."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.data.augment import AugmentConfig
from s2i.encode import S2IConfig
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.features import (
    augmented_features,
    block_tokens,
    default_cache_dir,
    encoder_for_store,
    extract_features,
    load_checkpoint,
    split_features,
    to_image_plane,
)
from s2i.evaluation.results import file_sha256
from s2i.models import export_files
from s2i.testing.synthetic import synthetic_ntu

VIT = {"depth": 2, "embed_dim": 16, "num_heads": 2}


@pytest.fixture()
def setup(make_store, tmp_path):
    x = synthetic_ntu(7, 18, 1, seed=4)
    store = make_store([SkeletonSequence(x[i][:, : 12 + i], "ntu25", meta={"label": i % 3}) for i in range(7)],
                       {"xsub": {"train": [0, 1, 2, 3, 4], "test": [5, 6]}, "heldout": {"test": [0, 1, 2, 3, 4, 5, 6]}})
    enc = export_random_encoder(tmp_path / "enc", [store], S2IConfig(height=16, width=16, persons="first"),
                                patch_size=8, backbone_kwargs=VIT, seed=0)
    ckpt = load_checkpoint(enc)
    return store, enc, ckpt, encoder_for_store(ckpt, store, "xsub")


def _by_hand(ckpt, encoder, store, ids, pooling="mean"):
    """One sequence at a time: the encoder's image, the model's input normalisation, forward_features, pooled."""
    out = []
    with torch.no_grad():
        for i in ids:
            joints = torch.from_numpy(store.joints(int(i)))[None]
            img = encoder(joints, torch.tensor([joints.shape[2]]))
            tokens = ckpt.model.backbone.forward_features(ckpt.model.normalize(img))
            out.append(tokens[:, 0] if pooling == "cls" else tokens[:, 1:].mean(1))
    return torch.cat(out)


def test_features_are_the_model_run_by_hand_in_the_asked_order_whatever_the_batch(setup):
    store, _, ckpt, e = setup
    ids = np.array([6, 0, 3, 1, 5])
    for pooling in ("mean", "cls"):
        expected = _by_hand(ckpt, e, store, ids, pooling)
        for batch in (2, 64):
            got = extract_features(ckpt.model, e, store, ids, pooling, batch_size=batch, progress=False)
            assert got.shape == (5, 16) and got.dtype == torch.float32
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    two = extract_features(ckpt.model, e, store, ids, batch_size=3, progress=False, blocks=2)
    img = e(*_padded(store, ids))
    with torch.no_grad():
        toks = block_tokens(ckpt.model.backbone, ckpt.model.normalize(img), 2)
    torch.testing.assert_close(two, torch.cat([t[:, 1:].mean(1) for t in toks], 1), rtol=1e-4, atol=1e-5)


def _padded(store, ids):
    from s2i.data.dataset import pad_collate

    batch = pad_collate([{"joints": torch.from_numpy(store.joints(int(i))), "length": store.joints(int(i)).shape[1],
                          "label": 0, "index": int(i)} for i in ids])
    return batch["joints"], batch["length"]


def test_no_sequences_give_an_empty_matrix_of_the_feature_width(setup):
    store, _, ckpt, e = setup
    empty = np.zeros(0, dtype=np.int64)
    assert extract_features(ckpt.model, e, store, empty, progress=False).shape == (0, 16)
    assert extract_features(ckpt.model, e, store, empty, progress=False, blocks=2).shape == (0, 32)


def test_split_features_labels_ids_and_cache_info(setup, tmp_path):
    store, _, ckpt, e = setup
    feats, labels, info = split_features(ckpt, e, store, "xsub", "test", progress=False)
    assert labels.dtype == torch.int64 and labels.tolist() == [5 % 3, 6 % 3]
    assert info == {"key": info["key"], "cached": False, "path": None} and len(info["key"]) == 32
    torch.testing.assert_close(feats, _by_hand(ckpt, e, store, [5, 6]), rtol=1e-4, atol=1e-5)
    cache = tmp_path / "cache"
    f1, _, i1 = split_features(ckpt, e, store, "xsub", None, ids=[4, 1], cache_dir=cache, progress=False)
    assert i1 == {"key": i1["key"], "cached": False, "path": str(cache / f"{i1['key']}.safetensors")}
    f2, l2, i2 = split_features(ckpt, e, store, "xsub", None, ids=[4, 1], cache_dir=cache, progress=False)
    assert i2 == {**i1, "cached": True} and torch.equal(f1, f2) and l2.tolist() == [1, 1]


def test_an_entry_of_another_key_or_other_sequences_is_recomputed_with_its_reason(setup, tmp_path):
    store, _, ckpt, e = setup
    cache = tmp_path / "cache"
    fa, _, ia = split_features(ckpt, e, store, "xsub", "test", cache_dir=cache, progress=False)
    fb, _, ib = split_features(ckpt, e, store, "xsub", "train", cache_dir=cache, progress=False)
    shutil.copy(ia["path"], ib["path"])  # the test split's entry under the train split's name
    with pytest.warns(UserWarning) as w:
        again, _, info = split_features(ckpt, e, store, "xsub", "train", cache_dir=cache, progress=False)
    assert not info["cached"] and torch.equal(again, fb)
    assert str(w[0].message) == (f"damaged feature cache entry {ib['path']} (ValueError: written for another key);"
                                 " recomputing it")
    from safetensors.torch import save_file

    key = Path(ib["path"]).stem  # the right key, but the features of other sequences
    save_file({"features": fa, "ids": torch.tensor([5, 6])}, ib["path"], metadata={"key": key})
    with pytest.warns(UserWarning, match=r"\(ValueError: written for other sequences\); recomputing it$"):
        again, _, info = split_features(ckpt, e, store, "xsub", "train", cache_dir=cache, progress=False)
    assert not info["cached"] and torch.equal(again, fb)
    save_file({"features": fb[:3], "ids": torch.tensor([0, 1, 2, 3, 4])}, ib["path"], metadata={"key": key})
    with pytest.warns(UserWarning, match="written for other sequences"):  # the ids right, too few rows
        split_features(ckpt, e, store, "xsub", "train", cache_dir=cache, progress=False)


def test_default_cache_dir_follows_s2i_cache_else_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("S2I_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "features"
    monkeypatch.delenv("S2I_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "s2i" / "features"


def test_the_checkpoint_identity_and_description(setup):
    _, enc, ckpt, _ = setup
    assert ckpt.init == "pretrained" and ckpt.path == str(enc) and ckpt.hash == file_sha256(export_files(enc)[1])
    meta = json.loads((enc / "config.json").read_text())
    assert ckpt.describe() == {"path": str(enc), "hash": ckpt.hash, "init": "pretrained", "backbone": meta["backbone"],
                               "backbone_kwargs": meta["backbone_kwargs"], "img_size": meta["img_size"],
                               "patch_size": 8, "formats": ["ntu25"], "info": meta.get("info", {})}
    rnd = load_checkpoint(enc, "random", init_seed=3)
    digest = hashlib.sha256(json.dumps(rnd.meta, sort_keys=True).encode()).hexdigest()
    assert rnd.hash == f"random(seed=3):sha256:{digest}" and rnd.init == "random"
    torch.manual_seed(3)
    again = load_checkpoint(enc, "random", init_seed=3)
    for p, q in zip(rnd.model.parameters(), again.model.parameters()):
        assert torch.equal(p, q)  # the seed alone draws the weights, whatever the global state
    other = load_checkpoint(enc, "random", init_seed=4)
    assert not torch.equal(other.model.backbone.patch_embed.proj.weight, rnd.model.backbone.patch_embed.proj.weight)
    with pytest.raises(ValueError) as err:
        load_checkpoint(enc, "scratch")
    assert str(err.value) == "init must be 'pretrained' or 'random', got 'scratch'"


def test_a_joint_at_the_minimum_depth_is_missing_in_perspective():
    from s2i.evaluation.features import MIN_DEPTH

    x = torch.tensor([[MIN_DEPTH, MIN_DEPTH, MIN_DEPTH], [2 * MIN_DEPTH, 4 * MIN_DEPTH, 2 * MIN_DEPTH]])
    p = to_image_plane(x, "perspective")
    assert torch.isnan(p[0]).all() and p[1].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError) as err:
        to_image_plane(x, "fisheye")
    assert str(err.value) == "projection must be 'orthographic' or 'perspective', got 'fisheye'"


def test_augmented_copies_report_their_keys_and_whether_all_were_cached(setup, tmp_path):
    store, _, ckpt, e = setup
    ids = np.array([0, 2])
    kw = {"cache_dir": tmp_path / "c", "progress": False}
    aug = AugmentConfig(rotate=10)
    second, i1 = augmented_features(ckpt, e, store, "xsub", ids, aug, None, 1, seed=0, first_draw=1, **kw)
    assert i1["copies"] == 1 and not i1["cached"]
    two, i2 = augmented_features(ckpt, e, store, "xsub", ids, aug, None, 2, seed=0, **kw)
    assert i2["copies"] == 2 and i2["keys"][1] == i1["keys"][0] and not i2["cached"]  # copy 0 was new
    clean = extract_features(ckpt.model, e, store, ids, progress=False)
    assert not torch.allclose(two[0], clean, atol=1e-4)  # the augmentation alone (no crop) changes the features
    assert torch.equal(two[1], second[0]) and two.shape == (2, 2, 16)
    _, i3 = augmented_features(ckpt, e, store, "xsub", ids, aug, None, 2, seed=0, **kw)
    assert i3 == {"keys": i2["keys"], "cached": True, "copies": 2}
    first, i4 = augmented_features(ckpt, e, store, "xsub", ids, aug, None, 1, seed=0, **kw)
    assert i4["keys"] == i2["keys"][:1] and i4["cached"] and torch.equal(first[0], two[0])


def test_each_extraction_option_has_its_own_augmented_copy_key(setup, tmp_path):
    """An augmented copy's cache key holds every option a clean feature's key holds (split, subset, pooling,
    persons, 2D view, blocks), so no option is served another's cached copy."""
    store, _, ckpt, e = setup
    ids = np.array([1, 3])
    kw = {"cache_dir": tmp_path / "c", "progress": False}
    aug = AugmentConfig(rotate=10)
    base_f, base = augmented_features(ckpt, e, store, "xsub", ids, aug, None, 1, seed=0, **kw)
    changes = {"split": {"split": "other"}, "subset": {"subset": "test"}, "pooling": {"pooling": "cls"},
               "max_persons": {"max_persons": 1}, "to_2d": {"to_2d": "orthographic"}, "blocks": {"blocks": 2}}
    keys = {base["keys"][0]}
    for name, change in changes.items():
        args = {"split": "xsub", **change}
        split = args.pop("split")
        f, info = augmented_features(ckpt, e, store, split, ids, aug, None, 1, seed=0, **args, **kw)
        assert not info["cached"] and info["keys"][0] not in keys, name
        keys.add(info["keys"][0])
        if name in ("pooling", "to_2d", "blocks"):
            assert f.shape != base_f.shape or not torch.allclose(f, base_f), name


def test_the_2d_range_of_a_split_without_a_training_part_is_estimated_on_every_sequence(setup):
    store, _, ckpt, _ = setup
    everything = encoder_for_store(ckpt, store, None, to_2d="orthographic").value_range
    train = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic").value_range
    assert encoder_for_store(ckpt, store, "heldout", to_2d="orthographic").value_range == everything != train


def test_a_crop_alone_makes_a_copy_of_a_random_window(setup, tmp_path):
    store, _, ckpt, e = setup
    ids = np.array([0, 2])
    clean = extract_features(ckpt.model, e, store, ids, progress=False)
    views, _ = augmented_features(ckpt, e, store, "xsub", ids, AugmentConfig(), (0.4, 0.5), 1, seed=0,
                                  cache_dir=None, progress=False)
    assert not torch.allclose(views[0], clean, atol=1e-4)  # a window of 40-50 % of the frames, not all of them


def test_the_2d_range_is_estimated_on_the_training_sequences_with_their_lengths(setup):
    """The 2D range: the training split's sequences (all 5: fewer than the 256 sampled), projected, estimated with
    their true lengths (padded frames left out) and the encoder's options, rounded to 6 decimals."""
    from s2i.encode.value_range import estimate_value_range
    from s2i.skeleton import collate_sequences

    store, _, ckpt, _ = setup
    got = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
    cfg = S2IConfig(**{**got.config.model_dump(), "range_lo": None, "range_hi": None})
    batch = collate_sequences([store[i] for i in range(5)], max_persons=cfg.max_persons)
    lo, hi = estimate_value_range(to_image_plane(torch.as_tensor(np.asarray(batch.joints))), store.format_spec, cfg,
                                  lengths=batch.lengths)
    want = [round(v, 6) for v in lo] + [round(v, 6) for v in hi]
    assert [*got.value_range[0], *got.value_range[1]] == pytest.approx(want, abs=1e-7)  # kept in float32


@pytest.mark.parametrize("kwargs", [{}, {"class_token": False, "global_pool": "avg"}, {"reg_tokens": 2}])
def test_block_tokens_are_the_residual_stream_of_the_last_blocks_and_the_final_norm_on_the_last(kwargs):
    """block_tokens (timm's forward_intermediates) equals running the blocks by hand: prefix tokens first, the
    earlier blocks' residual stream as it is, the final norm on the last block only."""
    import timm

    from s2i.evaluation.features import block_tokens
    from s2i.models.backbone import embed_tokens

    torch.manual_seed(0)
    bb = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=32, patch_size=8,
                           depth=4, **kwargs).eval()
    x = torch.randn(3, 3, 32, 32)
    h, by_hand = bb.norm_pre(embed_tokens(bb, x)), []
    for blk in bb.blocks:
        h = blk(h)
        by_hand.append(h)
    by_hand[-1] = bb.norm(by_hand[-1])
    for n in (2, 3):
        got = block_tokens(bb, x, n)
        assert len(got) == n and all(torch.equal(a, b) for a, b in zip(got, by_hand[-n:]))
    assert torch.equal(block_tokens(bb, x, 1)[0], by_hand[-1])
