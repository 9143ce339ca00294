"""The feature cache serves a key only for the features it was made from (its robustness:
test_feature_cache.py), seeds change what they claim to, and evaluation value ranges come from the evaluation
store's training split (issue 36).

Each cache case computes features of a base set-up into a cache folder, then of a set-up that differs in one
input, with the same folder: the second must not be read from the cache and must equal the same set-up
computed without any cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.encode import S2IConfig, dataset_value_range, estimate_value_range
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.features import (
    _two_d_range,
    encoder_for_store,
    load_checkpoint,
    split_features,
    to_image_plane,
)
from s2i.skeleton import collate_sequences
from s2i.testing.synthetic import synthetic_ntu

from helpers import TINY_VIT

CFG = S2IConfig(height=16, width=16, persons="first")
VIT = {**TINY_VIT, "depth": 2}  # two blocks: feature_blocks=2 is possible


@pytest.fixture()
def setup(make_store, tmp_path):
    """An NTU store (6 training, 2 test sequences 10x larger) and a random tiny ViT exported for it."""
    x = synthetic_ntu(8, 20, 1, seed=4)
    seqs = [SkeletonSequence(x[i] * (10.0 if i >= 6 else 1.0), "ntu25", meta={"label": i % 2}) for i in range(8)]
    store = make_store(seqs, {"xsub": {"train": [0, 1, 2, 3, 4, 5], "test": [6, 7]}}, name="ntu")
    enc = export_random_encoder(tmp_path / "enc", [store], CFG, patch_size=8, backbone_kwargs=VIT, seed=0)
    return store, enc


def _feats(ckpt, store, cache, stream="joint", subset="test", **kw):
    to_2d = kw.pop("to_2d", None)
    enc = kw.pop("encoder", None) or encoder_for_store(ckpt, store, "xsub", stream, to_2d)
    return split_features(ckpt, enc, store, "xsub", subset, to_2d=to_2d, cache_dir=cache, progress=False, **kw)


@pytest.mark.parametrize("change", ["stream", "pooling", "blocks", "subset", "to_2d", "projection", "drop_depth",
                                    "max_persons", "encoder_range"])
def test_every_option_that_changes_features_changes_the_cache_key(change, setup, tmp_path):
    store, folder = setup
    ckpt = load_checkpoint(folder)
    cache = tmp_path / "cache"
    base = {"stream": "joint", "subset": "test"}
    f0, _, i0 = _feats(ckpt, store, cache, **base)
    assert not i0["cached"] and _feats(ckpt, store, cache, **base)[2]["cached"]  # the same set-up is served
    variant: dict = dict(base)
    if change == "stream":
        variant["stream"] = "bone"
    elif change == "pooling":
        variant["pooling"] = "cls"
    elif change == "blocks":
        variant["blocks"] = 2
    elif change == "subset":
        variant["subset"] = "train"
    elif change == "to_2d":
        variant["to_2d"] = "orthographic"
    elif change == "projection":  # one encoder for both views: only the projection differs
        flat = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
        _feats(ckpt, store, cache, to_2d="orthographic", encoder=flat)
        variant.update(to_2d="perspective", encoder=flat)
    elif change == "drop_depth":  # one encoder, given the 2-D view and then the 3-D joints
        flat = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
        _feats(ckpt, store, cache, to_2d="orthographic", encoder=flat)
        variant.update(encoder=flat)
    elif change == "max_persons":
        variant["max_persons"] = 2
    elif change == "encoder_range":
        e = encoder_for_store(ckpt, store, "xsub")
        lo, hi = e.value_range
        e.set_value_range([v * 2 for v in lo], [v * 2 for v in hi])
        variant["encoder"] = e
    f1, _, i1 = _feats(ckpt, store, cache, **variant)
    assert not i1["cached"], change
    f_ref, _, _ = _feats(ckpt, store, None, **variant)
    torch.testing.assert_close(f1, f_ref)


def test_other_weights_and_other_store_content_change_the_key(setup, make_store, tmp_path):
    store, folder = setup
    cache = tmp_path / "cache"
    ckpt = load_checkpoint(folder)
    f0, _, _ = _feats(ckpt, store, cache)
    other = load_checkpoint(export_random_encoder(tmp_path / "enc1", [store], CFG, patch_size=8,
                                                  backbone_kwargs=VIT, seed=1))
    f1, _, i1 = _feats(other, store, cache)
    assert not i1["cached"] and not torch.allclose(f0, f1)
    torch.testing.assert_close(f1, _feats(other, store, None)[0])
    x = synthetic_ntu(8, 20, 1, seed=99)  # same ids, same splits, other motion
    moved = make_store([SkeletonSequence(x[i], "ntu25", meta={"label": i % 2}) for i in range(8)],
                       {"xsub": {"train": [0, 1, 2, 3, 4, 5], "test": [6, 7]}}, name="other")
    enc = encoder_for_store(ckpt, store, "xsub")  # the same encoder: only the store differs
    f2, _, i2 = split_features(ckpt, enc, moved, "xsub", "test", cache_dir=cache, progress=False)
    assert not i2["cached"]
    torch.testing.assert_close(f2, split_features(ckpt, enc, moved, "xsub", "test", progress=False)[0])


def test_a_second_random_init_from_the_same_folder_is_not_served_the_first_ones_features(setup, tmp_path):
    """init=random with init_seed 0 and 1 from one exported folder: two models, two keys, two feature sets; each
    seed's own features come back from the cache."""
    store, folder = setup
    cache = tmp_path / "cache"
    r0, r1 = (load_checkpoint(folder, "random", s) for s in (0, 1))
    f0, _, i0 = _feats(r0, store, cache)
    f1, _, i1 = _feats(r1, store, cache)
    assert not i1["cached"] and not torch.allclose(f0, f1)
    torch.testing.assert_close(f1, _feats(r1, store, None)[0])
    again = load_checkpoint(folder, "random", 1)
    f1b, _, i1b = _feats(again, store, cache)
    assert i1b["cached"] and torch.equal(f1b, f1)


def test_the_models_input_normalisation_is_part_of_the_key(setup, tmp_path):
    """Two exports with the same weights and encoders but another mean/std make other features."""
    store, folder = setup
    cache = tmp_path / "cache"
    ckpt = load_checkpoint(folder)
    f0, _, _ = _feats(ckpt, store, cache)
    meta = json.loads((folder / "config.json").read_text())
    other = tmp_path / "enc-std"
    other.mkdir()
    (other / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    (other / "config.json").write_text(json.dumps({**meta, "mean": [0.2, 0.3, 0.4], "std": [0.1, 0.2, 0.3]}))
    ck2 = load_checkpoint(other)
    f1, _, i1 = _feats(ck2, store, cache)
    ref = _feats(ck2, store, None)[0]
    assert not torch.allclose(ref, f0)
    assert not i1["cached"]
    torch.testing.assert_close(f1, ref)


# --- seeds --------------------------------------------------------------------------------------------------
def test_random_baselines_use_the_seed_they_record_and_nothing_else_changes(setup, tmp_path):
    """export_random_encoder(seed) and load_checkpoint(init='random', init_seed): the seed decides the weights
    (same seed, same weights; another seed, other weights) and is recorded; the S2I encoders and their value
    ranges do not depend on it."""
    from safetensors.torch import load_file

    store, folder = setup
    a = export_random_encoder(tmp_path / "a", [store], CFG, patch_size=8, backbone_kwargs=VIT, seed=3)
    b = export_random_encoder(tmp_path / "b", [store], CFG, patch_size=8, backbone_kwargs=VIT, seed=3)
    c = export_random_encoder(tmp_path / "c", [store], CFG, patch_size=8, backbone_kwargs=VIT, seed=4)
    wa, wb, wc = (load_file(str(f / "model.safetensors")) for f in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not torch.equal(wa["blocks.0.attn.qkv.weight"], wc["blocks.0.attn.qkv.weight"])
    ma, mc = (json.loads((f / "config.json").read_text()) for f in (a, c))
    assert ma["info"]["seed"] == 3 and mc["info"]["seed"] == 4
    from s2i.evaluation.results import file_sha256

    ha, hb, hc = (load_checkpoint(f).hash for f in (a, b, c))  # the hash results.json names: the weights file's
    assert ha == file_sha256(a / "model.safetensors") == hb != hc == file_sha256(c / "model.safetensors")
    assert ma["formats"] == mc["formats"]
    r = {s: load_checkpoint(folder, "random", s) for s in (5, 6)}
    r5b = load_checkpoint(folder, "random", 5)
    sd = {s: c.model.backbone.state_dict() for s, c in r.items()}
    assert all(torch.equal(sd[5][k], r5b.model.backbone.state_dict()[k]) for k in sd[5])
    assert not torch.equal(sd[5]["blocks.0.attn.qkv.weight"], sd[6]["blocks.0.attn.qkv.weight"])
    assert r[5].hash.startswith("random(seed=5)") and r[6].hash.startswith("random(seed=6)")
    assert r[5].hash == r5b.hash != r[6].hash
    assert r[5].model.encoder("ntu25").describe() == load_checkpoint(folder).model.encoder("ntu25").describe()


def _close(a, b) -> bool:
    """Two (lo, hi) ranges equal up to float32 rounding."""
    return all(list(x) == pytest.approx(list(y), rel=1e-6, abs=1e-6) for x, y in zip(a, b))


# --- value ranges -------------------------------------------------------------------------------------------
def test_evaluation_value_ranges_are_the_training_splits(setup, make_store, tmp_path):
    """The random baseline's range, a new stream's range and the 2-D view's range are estimated on the store's
    training sequences only (the test ones are 10x larger and would widen every one of them)."""
    store, folder = setup
    ckpt = load_checkpoint(folder)
    own = ckpt.model.encoder("ntu25").value_range
    assert _close(own, dataset_value_range(store, "xsub", CFG))
    assert not _close(own, dataset_value_range(store, None, CFG))
    bone = encoder_for_store(ckpt, store, "xsub", "bone")
    bcfg = S2IConfig(**{**CFG.model_dump(), "stream": "bone"})
    assert _close(bone.value_range, dataset_value_range(store, "xsub", bcfg))
    assert not _close(bone.value_range, dataset_value_range(store, None, bcfg))
    flat = encoder_for_store(ckpt, store, "xsub", to_2d="orthographic")
    batch = collate_sequences([store[i] for i in range(6)], max_persons=CFG.max_persons)
    lo, hi = estimate_value_range(to_image_plane(torch.as_tensor(np.asarray(batch.joints))), store.format_spec,
                                  flat.config, lengths=batch.lengths)
    expected = ([round(v, 6) for v in lo], [round(v, 6) for v in hi])
    assert _close(flat.value_range, expected)
    assert not _close(_two_d_range(store, None, flat.config), expected)  # with the test part: wider
