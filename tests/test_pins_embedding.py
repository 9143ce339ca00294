"""embedding.py pinned on values (issue 36, mutation round 2): the extractor's description, tokens and images
against the exported model by hand, array inputs with their own lengths, and every input error in full."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import s2i
from s2i.embedding import SkeletonFeatureExtractor
from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import load_exported
from s2i.skeleton import SkeletonSequence
from s2i.testing.synthetic import synthetic_ntu

from helpers import export_tiny_ntu25

CFG = S2IConfig(height=16, width=16, persons="first")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return export_tiny_ntu25(tmp_path_factory.mktemp("run") / "encoder", CFG)


def test_the_extractor_describes_itself(folder):
    model = s2i.load_encoder(folder, device="cpu", batch_size=3)
    assert repr(model) == ("SkeletonFeatureExtractor(vit_tiny_patch16_224, image (16, 16), formats ['ntu25'], dim 48,"
                           " device cpu)")
    assert (model.formats, model.embed_dim, model.grid, model.batch_size, model.pooling) == (
        ["ntu25"], 48, (2, 2), 3, "mean")
    default = s2i.load_encoder(folder)
    assert default.batch_size == 64 and default.pooling == "mean"
    assert default.device == torch.device("cuda" if torch.cuda.is_available() else "cpu")  # "auto"
    assert not default.model.training
    assert not SkeletonFeatureExtractor(load_exported(folder).train(), device="cpu").model.training  # eval mode
    bare = SkeletonFeatureExtractor(load_exported(folder))  # the class's own defaults
    assert (bare.device, bare.batch_size, bare.pooling) == (default.device, 64, "mean")
    with pytest.raises(ValueError) as e:
        s2i.load_encoder(folder, pooling="max")
    assert str(e.value) == "pooling must be 'mean' or 'cls', got 'max'"


def test_tokens_and_images_are_the_model_by_hand(folder):
    model = s2i.load_encoder(folder, device="cpu", batch_size=1)
    seqs = [SkeletonSequence(synthetic_ntu(1, t, 1, seed=t)[0], "ntu25") for t in (12, 20)]
    imgs = model.images(seqs)
    enc = S2IEncoder("ntu25", CFG, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    with torch.no_grad():
        ref = torch.cat([enc(torch.from_numpy(s.joints)[None], torch.tensor([s.num_frames])) for s in seqs])
        tok = model.model.backbone.forward_features(model.model.normalize(ref))
    assert imgs.dtype == np.float32 and imgs.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(imgs, ref.numpy(), atol=1e-6)
    got = model.tokens(seqs)
    assert got.shape == (2, 4, 48)
    np.testing.assert_allclose(got, tok[:, 1:].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.embed(seqs), tok[:, 1:].mean(1).numpy(), rtol=1e-4, atol=1e-5)


def test_arrays_take_their_own_lengths(folder):
    model = s2i.load_encoder(folder, device="cpu")
    x = synthetic_ntu(2, 24, 1, seed=3)
    got = model.embed(x, format="ntu25", lengths=[10, 24])
    cut = model.embed([SkeletonSequence(x[0][:, :10], "ntu25"), SkeletonSequence(x[1], "ntu25")])
    np.testing.assert_allclose(got, cut, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.embed(torch.from_numpy(x), format="ntu25"), model.embed(x, format="ntu25"),
                               rtol=1e-6)  # a tensor like its array
    np.testing.assert_allclose(model.embed(x.astype(np.float64), format="ntu25"), model.embed(x, format="ntu25"),
                               rtol=1e-6)


def test_input_errors_say_what_was_expected(folder):
    model = s2i.load_encoder(folder, device="cpu")
    with pytest.raises(ValueError) as e:
        model.embed(np.zeros((2, 3), np.float32), format="ntu25")
    assert str(e.value) == "joint array must be (N, M, T, V, C) or (M, T, V, C), got shape (2, 3)"
    with pytest.raises(ValueError) as e:
        model.embed(np.zeros((1, 10, 25, 3), np.float32))
    assert str(e.value) == "a joint array needs format= (a built-in format name or a spec file)"
    with pytest.raises(ValueError) as e:
        model.embed([])
    assert str(e.value) == "no sequences given"
    with pytest.raises(ValueError) as e:
        model.encoder_for("coco17")
    assert str(e.value) == "format 'coco17' is new to this model: give value_range=(lo, hi)"


def test_a_new_format_warns_with_its_count_or_uses_the_given_range(folder):
    model = s2i.load_encoder(folder, device="cpu")
    rng = np.random.default_rng(1)
    coco = [SkeletonSequence(rng.normal(size=(1, 14, 17, 2)).astype(np.float32), "coco17") for _ in range(3)]
    with pytest.warns(UserWarning) as w:
        model.embed(coco)
    assert str(w[0].message) == ("format 'coco17' was not seen in pretraining (formats ['ntu25']): its value range is"
                                 " estimated from the 3 sequence(s) given; pass value_range=(lo, hi) from training"
                                 " data for batch-independent features")
    enc = model.encoder_for("coco17", value_range=([-1, -2, 0], [1, 2, 1]))
    assert enc.value_range == ([-1.0, -2.0, 0.0], [1.0, 2.0, 1.0])
    assert enc.config.model_dump() == {**CFG.model_dump(), "range_lo": None, "range_hi": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.encoder_for("ntu25") is model.model.encoder("ntu25")  # its own encoder, as trained


def test_tokens_and_images_pass_format_lengths_and_range_on(folder):
    model = s2i.load_encoder(folder, device="cpu")
    x = synthetic_ntu(2, 24, 1, seed=5)
    wide = ([-3.0, -2.0, -4.0], [3.0, 2.5, 4.0])
    seqs = [SkeletonSequence(x[0][:, :10], "ntu25"), SkeletonSequence(x[1], "ntu25")]
    np.testing.assert_allclose(model.images(x, format="ntu25", lengths=[10, 24], value_range=wide),
                               model.images(seqs, value_range=wide), atol=1e-6)
    np.testing.assert_allclose(model.tokens(x, format="ntu25", lengths=[10, 24], value_range=wide),
                               model.tokens(seqs, value_range=wide), rtol=1e-4, atol=1e-5)
    assert not np.allclose(model.tokens(seqs, value_range=wide), model.tokens(seqs), atol=1e-4)
