"""Cross-format encoders for an evaluation store, token pooling, and the feature cache key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.data.augment import AugmentConfig
from s2i.encode import S2IConfig, dataset_value_range
from s2i.evaluation.baseline import export_random_encoder
from s2i.evaluation.features import (
    MIN_DEPTH,
    augmented_features,
    block_tokens,
    encoder_for_store,
    load_checkpoint,
    pool_tokens,
    split_features,
    to_image_plane,
)
from s2i.testing.synthetic import synthetic_ntu


@pytest.fixture()
def stores(make_store):
    x = synthetic_ntu(6, 20, 1, seed=2)
    ntu = make_store([SkeletonSequence(x[i], "ntu25", meta={"label": i % 2}) for i in range(6)],
                     {"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}}, name="ntu")
    k1 = make_store([SkeletonSequence(x[i][:, :, :20] * 1.5, "kinect_v1", meta={"label": i % 2}) for i in range(6)],
                    {"xview": {"train": [0, 1, 2, 3], "test": [4, 5]}}, name="k1")
    return ntu, k1


@pytest.fixture()
def tiny(stores, tmp_path):
    """(store, checkpoint, encoder, cache kwargs): a 2-block random ViT exported for the NTU store."""
    ntu, _ = stores
    enc = export_random_encoder(tmp_path / "enc", [ntu], S2IConfig(height=16, width=16, persons="first"),
                                patch_size=8, backbone_kwargs={"depth": 2, "embed_dim": 48, "num_heads": 2})
    ckpt = load_checkpoint(enc)
    return ntu, ckpt, encoder_for_store(ckpt, ntu, "xsub"), {"cache_dir": tmp_path / "c", "progress": False}


def test_cross_format_encoder_takes_the_checkpoints_config_and_the_stores_format_and_range(stores, tmp_path):
    ntu, k1 = stores
    cfg = S2IConfig(height=16, width=16, persons="first", layout="parts")
    enc = export_random_encoder(tmp_path / "enc", [ntu], cfg, patch_size=8, backbone_kwargs={"depth": 1})
    ckpt = load_checkpoint(enc)
    same = encoder_for_store(ckpt, ntu, "xsub")
    assert same.describe() == ckpt.model.encoder("ntu25").describe()  # the exported encoder itself
    other = encoder_for_store(ckpt, k1, "xview", stream="bone")
    assert other.spec.name == "kinect_v1" and other.config.stream == "bone"
    assert other.config.model_dump(exclude={"stream", "range_lo", "range_hi"}) == \
        cfg.model_dump(exclude={"stream", "range_lo", "range_hi"})
    lo, hi = dataset_value_range(k1, "xview", other.config)
    assert other.value_range == (pytest.approx(lo), pytest.approx(hi))  # the evaluation store's training split
    flat = encoder_for_store(ckpt, ntu, "xsub", to_2d="orthographic")
    f, labels, info = split_features(ckpt, flat, ntu, "xsub", "test", to_2d="orthographic", cache_dir=tmp_path / "c",
                                     progress=False)
    assert f.shape == (2, 192) and labels.tolist() == [0, 1] and not info["cached"]
    f3, _, info3 = split_features(ckpt, same, ntu, "xsub", "test", cache_dir=tmp_path / "c", progress=False)
    assert info3["key"] != info["key"] and not torch.allclose(f, f3)  # 2D is another key, other features
    again, _, info2 = split_features(ckpt, flat, ntu, "xsub", "test", to_2d="orthographic", cache_dir=tmp_path / "c",
                                     progress=False)
    assert info2["cached"] and torch.equal(again, f)


def test_to_image_plane_orthographic_and_perspective():
    x = torch.tensor([[[1.0, -2.0, 4.0], [0.5, 0.5, MIN_DEPTH / 2], [1.0, 1.0, -3.0], [1.0, 1.0, float("nan")],
                       [float("nan"), 0.0, 2.0]]])
    torch.testing.assert_close(to_image_plane(x), x[..., :2], equal_nan=True, rtol=0, atol=0)
    p = to_image_plane(x, "perspective")
    assert p.shape == (1, 5, 2) and p[0, 0].tolist() == [0.25, -0.5]  # (x/z, y/z)
    assert torch.isnan(p[0, 1:4]).all()  # at or behind the camera plane, or no depth: missing
    assert torch.isnan(p[0, 4, 0]) and p[0, 4, 1] == 0.0  # a missing x stays missing, y is still projected
    with pytest.raises(ValueError, match="projection must be"):
        to_image_plane(x, "fisheye")


def test_perspective_2d_is_its_own_encoder_range_and_cache_key(stores, tmp_path):
    ntu, _ = stores
    assert min(np.nanmin(ntu.joints(i)[..., 2]) for i in range(len(ntu))) > 0.5  # camera space: z is depth
    enc = export_random_encoder(tmp_path / "enc", [ntu], S2IConfig(height=16, width=16, persons="first"),
                                patch_size=8, backbone_kwargs={"depth": 1})
    ckpt = load_checkpoint(enc)
    ortho = encoder_for_store(ckpt, ntu, "xsub", to_2d="orthographic")
    persp = encoder_for_store(ckpt, ntu, "xsub", to_2d="perspective")
    assert ortho.value_range != persp.value_range  # each range estimated on its own 2D view
    kw = {"cache_dir": tmp_path / "c", "progress": False}
    fo, _, io = split_features(ckpt, ortho, ntu, "xsub", "test", to_2d="orthographic", **kw)
    fp, _, ip = split_features(ckpt, persp, ntu, "xsub", "test", to_2d="perspective", **kw)
    assert io["key"] != ip["key"] and torch.isfinite(fp).all() and not torch.allclose(fo, fp)


def test_pool_tokens():
    t = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    assert torch.equal(pool_tokens(t, "cls", 1), t[:, 0])
    assert torch.equal(pool_tokens(t, "mean", 1), t[:, 1:].mean(1))
    with pytest.raises(ValueError, match="class token"):
        pool_tokens(t, "cls", 0)
    assert np.isfinite(pool_tokens(t, "mean", 0).numpy()).all()


def test_block_tokens_are_the_residual_stream_and_the_last_is_forward_features(stores, tmp_path):
    ntu, _ = stores
    enc = export_random_encoder(tmp_path / "enc", [ntu], S2IConfig(height=16, width=16, persons="first"),
                                patch_size=8, backbone_kwargs={"depth": 3, "embed_dim": 48, "num_heads": 2})
    bb = load_checkpoint(enc).model.backbone.eval()
    img = torch.randn(2, 3, 16, 16)
    seen: list[torch.Tensor] = []
    hooks = [blk.register_forward_hook(lambda _m, _i, out: seen.append(out)) for blk in bb.blocks]
    with torch.no_grad():
        final = bb.forward_features(img)
        seen.clear()
        three = block_tokens(bb, img, 3)
    for h in hooks:
        h.remove()
    assert len(three) == 3 and torch.equal(block_tokens(bb, img, 1)[0], final)
    torch.testing.assert_close(three[-1], final)  # the last block through the final norm
    torch.testing.assert_close(three[0], seen[0])  # earlier blocks: their output as it is, not normed
    torch.testing.assert_close(three[1], seen[1])
    assert not torch.allclose(three[1], bb.norm(seen[1]))
    with pytest.raises(ValueError, match="between 1 and the backbone's depth 3"):
        block_tokens(bb, img, 4)


def test_feature_blocks_concatenate_and_have_their_own_cache_key(tiny):
    ntu, ckpt, e, kw = tiny
    one, _, i1 = split_features(ckpt, e, ntu, "xsub", "test", **kw)
    two, _, i2 = split_features(ckpt, e, ntu, "xsub", "test", blocks=2, **kw)
    assert one.shape == (2, 48) and two.shape == (2, 96) and i1["key"] != i2["key"]
    torch.testing.assert_close(two[:, 48:], one)  # the last block's pooled tokens come last
    assert not torch.allclose(two[:, :48], one)


def test_augmented_copies_differ_from_the_clean_features_and_from_each_other_and_are_cached(tiny):
    ntu, ckpt, e, kw = tiny
    ids = ntu.split_ids("xsub", "train")
    clean, _, ci = split_features(ckpt, e, ntu, "xsub", "train", ids, **kw)
    aug = AugmentConfig(rotate=20, shear=0.2)
    views, info = augmented_features(ckpt, e, ntu, "xsub", ids, aug, (0.5, 0.9), 3, seed=0, **kw)
    assert views.shape == (3, len(ids), 48) and info["copies"] == 3 and not info["cached"]
    assert len(set(info["keys"])) == 3 and ci["key"] not in info["keys"]
    for c in range(3):
        assert not torch.allclose(views[c], clean, atol=1e-3)  # augmented: not the clean features
    assert not torch.allclose(views[0], views[1], atol=1e-3)  # each copy its own draw
    again, info2 = augmented_features(ckpt, e, ntu, "xsub", ids, aug, (0.5, 0.9), 3, seed=0, **kw)
    assert info2["cached"] and info2["keys"] == info["keys"] and torch.equal(again, views)
    fresh, _ = augmented_features(ckpt, e, ntu, "xsub", ids, aug, (0.5, 0.9), 3, seed=0, cache_dir=None,
                                  progress=False)
    torch.testing.assert_close(fresh, views)  # the draws are a function of (seed, copy): recomputed, the same
    other, info3 = augmented_features(ckpt, e, ntu, "xsub", ids, aug, (0.5, 0.9), 1, seed=1, **kw)
    assert info3["keys"][0] not in info["keys"] and not torch.allclose(other[0], views[0], atol=1e-3)
