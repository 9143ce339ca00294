"""The feature API (``s2i.load_encoder``, ``.embed``/``.tokens``/``.images``, ``s2i.encode``) gives the numbers
the exported model gives, in input order, for any mix of formats, batch sizes and input kinds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import s2i
from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import create_backbone, export_encoder, load_exported
from s2i.skeleton import SkeletonSequence
from s2i.testing.synthetic import synthetic_ntu
from s2i.testing.writers import write_ntu

CFG = S2IConfig(height=32, width=48, persons="first")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=(32, 48), patch_size=8, depth=2)
    encs = [S2IEncoder("ntu25", CFG, range_lo=(-1, -1, -1), range_hi=(1, 1, 1)),
            S2IEncoder("kinect_v1", CFG, range_lo=(-2, -2, -2), range_hi=(2, 2, 2))]
    return export_encoder(tmp_path_factory.mktemp("run") / "encoder", bb, "vit_tiny_patch16_224", encs,
                          backbone_kwargs={"depth": 2})


def _ntu(i: int, t: int) -> SkeletonSequence:
    return SkeletonSequence(synthetic_ntu(1, t, 1, seed=i)[0], "ntu25")


def _kv1(i: int, t: int) -> SkeletonSequence:
    x = synthetic_ntu(1, t, 1, seed=100 + i)[0][:, :, :20] * 1.5
    return SkeletonSequence(x, "kinect_v1")


def _reference(folder, seqs: list[SkeletonSequence], fmt: str) -> np.ndarray:
    """Mean-pooled final-norm patch tokens of each sequence alone, the exported model's own way."""
    m = load_exported(folder)
    out = []
    for s in seqs:
        img = m.images(torch.from_numpy(s.joints)[None], fmt, torch.tensor([s.num_frames]))
        out.append(m.backbone.forward_features(img)[:, 1:].mean(1))
    return torch.cat(out).detach().numpy()


def test_embed_matches_the_exported_model_in_input_order_for_mixed_formats(exported):
    model = s2i.load_encoder(exported.parent, device="cpu", batch_size=2)
    seqs = [_ntu(0, 30), _kv1(0, 50), _ntu(1, 44), _ntu(2, 20), _kv1(1, 33)]
    got = model.embed(seqs)
    assert got.shape == (5, 192) and got.dtype == np.float32
    np.testing.assert_allclose(got[[0, 2, 3]], _reference(exported, [seqs[i] for i in (0, 2, 3)], "ntu25"),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[[1, 4]], _reference(exported, [seqs[1], seqs[4]], "kinect_v1"),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(got[0], got[2])  # different motions, different vectors
    again = s2i.load_encoder(exported / "config.json", device="cpu", batch_size=64).embed(seqs)
    np.testing.assert_allclose(again, got, rtol=1e-4, atol=1e-5)  # batch size and padding do not matter


def test_tokens_are_the_patch_grid_and_pool_to_embed(exported):
    model = s2i.load_encoder(exported, device="cpu")
    seqs = [_ntu(3, 40), _ntu(4, 25)]
    tok = model.tokens(seqs)
    assert model.grid == (4, 6) and tok.shape == (2, 24, 192)
    np.testing.assert_allclose(tok.mean(axis=1), model.embed(seqs), rtol=1e-5, atol=1e-6)
    cls = s2i.load_encoder(exported, device="cpu", pooling="cls").embed(seqs)
    assert not np.allclose(cls, tok.mean(axis=1), atol=1e-3)


def test_arrays_files_and_images(exported, tmp_path):
    model = s2i.load_encoder(exported, device="cpu")
    x = synthetic_ntu(3, 36, 1, seed=7)
    from_array = model.embed(x, format="ntu25")
    from_seqs = model.embed([SkeletonSequence(x[i], "ntu25") for i in range(3)])
    np.testing.assert_allclose(from_array, from_seqs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.embed(x[0], format="ntu25"), from_array[:1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs format="):
        model.embed(x)
    frames = [[("72057594037931101", x[0, 0, t])] for t in range(36)]
    path = write_ntu(tmp_path / "S001C001P001R001A001.skeleton", frames)
    seq = s2i.read(path)
    np.testing.assert_allclose(model.embed(str(path)), model.embed([seq]), rtol=1e-6)
    imgs = model.images([seq])
    assert imgs.shape == (1, 3, 32, 48)
    ref = S2IEncoder("ntu25", CFG, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))(
        torch.from_numpy(seq.joints)[None], torch.tensor([seq.num_frames]))
    np.testing.assert_allclose(imgs, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_a_new_format_uses_the_model_options_and_an_estimated_or_given_range(exported):
    model = s2i.load_encoder(exported, device="cpu")
    rng = np.random.default_rng(0)
    coco = [SkeletonSequence(rng.normal(size=(1, 30, 17, 2)).astype(np.float32), "coco17") for _ in range(4)]
    with pytest.warns(UserWarning, match="not seen in pretraining"):
        est = model.embed(coco)
    assert est.shape == (4, 192)
    enc = model.encoder_for("coco17", value_range=([-1, -1, 0], [1, 1, 1]))
    assert (enc.config.height, enc.config.width, enc.config.persons) == (32, 48, "first")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = model.embed(coco, value_range=([-1, -1, 0], [1, 1, 1]))
    assert not np.allclose(given, est, atol=1e-4)  # the range changes the images, so it is really used


def test_top_level_encode_is_the_encoder_on_sequences():
    seqs = [_ntu(5, 30), _ntu(6, 45)]
    imgs = s2i.encode(seqs, height=32, width=48, persons="first", value_range="fixed")
    ref = S2IEncoder("ntu25", S2IConfig(height=32, width=48, persons="first", value_range="fixed"))
    joints = np.full((2, 1, 45, 25, 3), np.nan, np.float32)
    joints[0, :, :30], joints[1] = seqs[0].joints, seqs[1].joints
    np.testing.assert_allclose(imgs, ref(torch.from_numpy(joints), torch.tensor([30, 45])).numpy(), atol=1e-6)
    one = s2i.encode(seqs[1], height=32, width=48, persons="first", value_range="fixed")
    np.testing.assert_allclose(one, imgs[1], atol=1e-6)
    with pytest.raises(ValueError, match="name the skeleton format"):
        s2i.encode(np.zeros((1, 1, 10, 25, 3), np.float32))
