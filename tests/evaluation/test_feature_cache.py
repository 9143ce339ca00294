"""The feature cache: keyed on every input that changes a feature, damaged entries recomputed, write
failures never fatal (issue 34, items 7 and 13)."""

from __future__ import annotations

import errno
import json
from contextlib import contextmanager

import pytest
import torch

from s2i import SkeletonSequence
from s2i.encode import S2IConfig
from s2i.evaluation import features as features_mod
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.features import encoder_for_store, load_checkpoint, split_features
from s2i.testing.synthetic import synthetic_ntu

from helpers import TINY_VIT


@pytest.fixture()
def setup(make_store, tmp_path):
    """(store, exported folder, cache folder): a 6-sequence NTU store and a random tiny ViT for it."""
    x = synthetic_ntu(6, 20, 1, seed=3)
    store = make_store([SkeletonSequence(x[i], "ntu25", meta={"label": i % 2}) for i in range(6)],
                       {"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}})
    enc = export_random_encoder(tmp_path / "enc", [store], S2IConfig(height=16, width=16, persons="first"),
                                patch_size=8, backbone_kwargs=TINY_VIT, seed=0)
    return store, enc, tmp_path / "cache"


def _features(folder, store, cache, init="pretrained", init_seed=0):
    ckpt = load_checkpoint(folder, init, init_seed)
    return split_features(ckpt, encoder_for_store(ckpt, store, "xsub"), store, "xsub", "test", cache_dir=cache,
                          progress=False)


def _edit_meta(folder, **changes):
    meta = json.loads((folder / "config.json").read_text())
    meta.update(changes)
    (folder / "config.json").write_text(json.dumps(meta))


def test_the_backbone_normalisation_is_part_of_the_cache_key(setup):
    store, enc, cache = setup
    f1, _, i1 = _features(enc, store, cache)
    assert not i1["cached"]
    _edit_meta(enc, mean=[0.1, 0.2, 0.3], std=[0.5, 0.5, 0.5])  # same weights file, other input normalisation
    f2, _, i2 = _features(enc, store, cache)
    assert not i2["cached"] and i2["key"] != i1["key"]
    assert not torch.allclose(f1, f2)
    again, _, i3 = _features(enc, store, cache)
    assert i3["cached"] and torch.equal(again, f2)


def test_any_field_of_the_encoder_description_changes_the_key(setup):
    store, enc, cache = setup
    _, _, i1 = _features(enc, store, cache)
    _edit_meta(enc, backbone_kwargs={**TINY_VIT, "act_layer": "gelu_tanh"})  # no new tensors: same weights file
    f2, _, i2 = _features(enc, store, cache)
    assert i2["key"] != i1["key"] and not i2["cached"]
    _edit_meta(enc, a_future_field=1)  # a field this s2i does not know of yet
    _, _, i3 = _features(enc, store, cache)
    assert i3["key"] not in (i1["key"], i2["key"]) and not i3["cached"]


def test_random_init_features_are_keyed_on_their_seed(setup):
    store, enc, cache = setup
    f0, _, i0 = _features(enc, store, cache, "random", 0)
    f1, _, i1 = _features(enc, store, cache, "random", 1)
    assert i0["key"] != i1["key"] and not i1["cached"] and not torch.allclose(f0, f1)
    again, _, i2 = _features(enc, store, cache, "random", 0)
    assert i2["cached"] and torch.equal(again, f0)


@pytest.mark.parametrize("damage", [b"", b"\x80\x04garbage" * 7, bytes(range(256)) * 3])
def test_a_damaged_cache_entry_is_recomputed_with_a_warning(setup, damage):
    store, enc, cache = setup
    f1, _, i1 = _features(enc, store, cache)
    with open(i1["path"], "wb") as fh:
        fh.write(damage)
    with pytest.warns(UserWarning, match="damaged feature cache entry"):
        f2, _, i2 = _features(enc, store, cache)
    assert not i2["cached"] and torch.equal(f1, f2)
    again, _, i3 = _features(enc, store, cache)  # rewritten whole
    assert i3["cached"] and torch.equal(again, f1)


def test_a_failing_cache_write_warns_and_the_run_goes_on(setup, monkeypatch):
    store, enc, cache = setup

    @contextmanager
    def full_disk(target, suffix=""):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))
        yield  # pragma: no cover

    monkeypatch.setattr(features_mod, "atomic_path", full_disk)
    with pytest.warns(UserWarning, match="No space left on device"):
        f, _, info = _features(enc, store, cache)
    assert f.shape == (2, TINY_VIT["embed_dim"]) and not info["cached"]
    monkeypatch.undo()
    blocked = cache.parent / "a_file"
    blocked.write_text("not a folder")
    with pytest.warns(UserWarning, match="feature cache"):
        g, _, _ = _features(enc, store, blocked / "cache")  # the cache folder cannot be made
    assert torch.equal(f, g)
