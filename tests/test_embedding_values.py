"""The feature API's ``value_range=`` is the range the images are made with, for a format the model was trained
on as well as for a new one (issue 36); CLS pooling is the class token."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import s2i
from s2i.encode import S2IConfig, S2IEncoder
from s2i.skeleton import SkeletonSequence
from s2i.testing.synthetic import synthetic_ntu

from helpers import export_tiny_ntu25

CFG = S2IConfig(height=16, width=16, persons="first")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return export_tiny_ntu25(tmp_path_factory.mktemp("run") / "encoder", CFG)


def test_value_range_is_used_for_a_trained_format_too(folder):
    """embed/images(value_range=R) on the model's own format: the images of an encoder with range R and the
    model's options, and their pooled features; without it: the model's own range."""
    model = s2i.load_encoder(folder, device="cpu")
    seqs = [SkeletonSequence(synthetic_ntu(1, 30, 1, seed=i)[0], "ntu25") for i in range(2)]
    joints = torch.from_numpy(np.stack([s.joints for s in seqs]))
    lengths = torch.tensor([30, 30])
    wide = ([-3.0, -2.0, -4.0], [3.0, 2.5, 4.0])
    ref_enc = S2IEncoder("ntu25", CFG, range_lo=wide[0], range_hi=wide[1])
    own_enc = S2IEncoder("ntu25", CFG, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    with torch.no_grad():
        ref_img, own_img = ref_enc(joints, lengths), own_enc(joints, lengths)
    np.testing.assert_allclose(model.images(seqs, value_range=wide), ref_img.numpy(), atol=1e-6)
    np.testing.assert_allclose(model.images(seqs), own_img.numpy(), atol=1e-6)
    assert not np.allclose(ref_img.numpy(), own_img.numpy(), atol=1e-3)
    m = model.model
    with torch.no_grad():
        tok = m.backbone.forward_features(m.normalize(ref_img))
    np.testing.assert_allclose(model.embed(seqs, value_range=wide), tok[:, 1:].mean(1).numpy(), rtol=1e-4, atol=1e-5)
    cls = s2i.load_encoder(folder, device="cpu", pooling="cls")
    np.testing.assert_allclose(cls.embed(seqs, value_range=wide), tok[:, 0].numpy(), rtol=1e-4, atol=1e-5)
