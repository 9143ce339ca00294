"""MAE internals whose errors still give a falling loss (issue 36), pinned on hand-made inputs: the encoder is
the exported backbone's own forward (same norms, same token order), the decoder puts every token back at its
patch position, the decoder's position embedding is MAE's 2-D sin-cos, and the loss target follows
``norm_pix_loss``."""

from __future__ import annotations

import math

import pytest
import torch

from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import MAE, create_backbone, export_encoder, load_exported, patchify, sincos_pos_embed_2d

from helpers import TINY_VIT


def _mae(decoder_depth: int = 1, **backbone_kw) -> MAE:
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=16, patch_size=8, **{**TINY_VIT, **backbone_kw})
    m = MAE(bb, decoder_dim=16, decoder_depth=decoder_depth, decoder_heads=2).eval()
    for p in m.parameters():  # away from timm's zero init, so that a skipped term shows
        p.data.add_(0.05 * torch.randn(p.shape))
    return m


@pytest.mark.parametrize("backbone_kw", [{}, {"reg_tokens": 2}, {"class_token": False, "global_pool": "avg"}],
                         ids=["cls", "cls+2reg", "no-prefix"])
def test_encoder_tokens_at_mask_ratio_0_are_the_exported_models_forward_features(backbone_kw, tmp_path):
    """With nothing masked, the MAE encoder's latent (prefix + the visible tokens in the order of the noise)
    is what the exported encoder computes, token for token: the same patch and position embeddings, blocks
    and *final norm* (``norm``, not ``fc_norm``), so pretraining trains the features that evaluation reads."""
    m = _mae(**backbone_kw)
    enc = S2IEncoder("ntu25", S2IConfig(height=16, width=16, persons="first"), range_lo=(-1,) * 3,
                     range_hi=(1,) * 3)
    folder = export_encoder(tmp_path / "enc", m.backbone, "vit_tiny_patch16_224", [enc],
                            backbone_kwargs={**TINY_VIT, **backbone_kw})
    exported = load_exported(folder)
    img = torch.rand(2, 3, 16, 16)
    x = m.normalize(img)
    torch.testing.assert_close(x, exported.normalize(img))  # one input normalisation for both
    with torch.no_grad():
        full = exported.backbone.forward_features(x)
        m.mask_ratio = 0.0  # the constructor refuses 0; the encoder keeps every patch then
        noise = torch.tensor([[0.3, 0.1, 0.0, 0.2], [0.0, 0.1, 0.2, 0.3]])
        latent, mask, ids_restore = m.forward_encoder(x, noise)
    prefix = m.prefix
    assert prefix == exported.backbone.num_prefix_tokens
    assert mask.sum() == 0 and latent.shape == full.shape
    order = torch.argsort(noise, dim=1)  # visible tokens come in the order of increasing noise
    torch.testing.assert_close(latent[:, :prefix], full[:, :prefix], atol=1e-5, rtol=1e-5)
    for n in range(2):
        torch.testing.assert_close(latent[n, prefix:], full[n, prefix + order[n]], atol=1e-5, rtol=1e-5)
    assert torch.equal(ids_restore, torch.argsort(order, dim=1))


def test_encoder_runs_the_visible_patches_only():
    """At the default ratio the latent is the prefix and the kept patches, encoded without the masked ones:
    changing a masked patch's pixels leaves the latent unchanged, changing a visible one does not."""
    m = _mae()
    noise = torch.tensor([[0.9, 0.1, 0.8, 0.7]])  # 4 patches, ratio 0.75: patch 1 visible
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        latent, mask, _ = m.forward_encoder(x, noise)
        assert latent.shape[1] == m.prefix + 1 and mask.tolist() == [[1, 0, 1, 1]]
        y = x.clone()
        y[..., 8:, :8] += 1.0  # patch 2 (row 1, col 0): masked
        torch.testing.assert_close(m.forward_encoder(y, noise)[0], latent)
        y[..., :8, 8:] += 1.0  # patch 1 (row 0, col 1): visible
        assert not torch.allclose(m.forward_encoder(y, noise)[0], latent)


@pytest.mark.parametrize("backbone_kw", [{}, {"reg_tokens": 2}, {"class_token": False, "global_pool": "avg"}],
                         ids=["cls", "cls+2reg", "no-prefix"])
def test_decoder_puts_each_token_back_at_its_patch(backbone_kw):
    """Without decoder blocks the decoder is per token, so each patch's prediction can be written down: a
    visible patch's from its own latent token plus its own position embedding, a masked patch's from the mask
    token plus its position embedding; the prefix tokens are dropped from the output."""
    m = _mae(decoder_depth=0, **backbone_kw)
    prefix, d = m.prefix, 48
    ids_keep = torch.tensor([[2, 0], [3, 1]])  # visible patches of each sample, in latent order
    noise = torch.ones(2, 4)
    noise.scatter_(1, ids_keep, torch.tensor([[0.1, 0.2], [0.1, 0.2]]))
    from s2i.models import random_masking

    kept, mask, ids_restore = random_masking(noise, 2)
    assert torch.equal(kept, ids_keep)
    latent = torch.randn(2, prefix + 2, d)
    with torch.no_grad():
        pred = m.forward_decoder(latent, ids_restore)
        pos = m.decoder_pos_embed[0]
        head = lambda t: m.decoder_pred(m.decoder_norm(t))  # noqa: E731
        assert pred.shape == (2, 4, 8 * 8 * 3)
        for n in range(2):
            for p in range(4):
                if mask[n, p] == 0:
                    k = int((ids_keep[n] == p).nonzero())
                    expected = head(m.decoder_embed(latent[n, prefix + k]) + pos[prefix + p])
                else:
                    expected = head(m.mask_token[0, 0] + pos[prefix + p])
                torch.testing.assert_close(pred[n, p], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pos[:prefix], torch.zeros(prefix, 16))  # prefix tokens: no position
    torch.testing.assert_close(pos[prefix:], sincos_pos_embed_2d(16, (2, 2)))


def test_sincos_position_embedding_values():
    """dim 8 on a 2 x 3 grid: per patch (row r, col c) [sin(c w), cos(c w), sin(r w), cos(r w)] with the
    frequencies w = 1 / 10000^(k / 2), k = 0, 1 (MAE's get_2d_sincos_pos_embed)."""
    pe = sincos_pos_embed_2d(8, (2, 3))
    assert pe.shape == (6, 8) and pe.dtype == torch.float32
    w = [1.0, 1.0 / 100.0]
    for r in range(2):
        for c in range(3):
            expected = ([math.sin(c * f) for f in w] + [math.cos(c * f) for f in w]
                        + [math.sin(r * f) for f in w] + [math.cos(r * f) for f in w])
            torch.testing.assert_close(pe[r * 3 + c], torch.tensor(expected), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pos_embed_2d(6, (2, 2))


def test_loss_without_norm_pix_is_the_plain_mse_of_masked_patches():
    m = _mae()
    m.norm_pix_loss = False
    x = torch.rand(1, 3, 16, 16)
    pred = torch.zeros(1, 4, 192)
    mask = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    target = patchify(x, 8)
    expected = ((target[0, 0] ** 2).mean() + (target[0, 3] ** 2).mean()) / 2
    torch.testing.assert_close(m.loss(x, pred, mask), expected)
    m.norm_pix_loss = True  # per-patch standardised target (unbiased variance, as MAE's)
    x[..., :8, :8] = 0.3  # patch 0 constant: variance 0, the 1e-6 keeps its target at 0 (not NaN)
    target = patchify(x, 8)
    t = target[0, [0, 3]]
    t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, unbiased=True, keepdim=True) + 1e-6) ** 0.5
    assert torch.equal(t[0], torch.zeros(192))
    torch.testing.assert_close(m.loss(x, pred, mask), (t ** 2).mean())


def test_forward_scores_the_normalised_image_and_masks_exactly_the_ratio():
    """forward = normalise, encode with the noise, decode, loss on the normalised image: the same numbers as
    the parts called by hand; 0.75 of 4 patches masked is 3. (Without norm_pix: this ViT's mean/std are
    equal per channel, an affine map that the per-patch standardisation would hide.)"""
    m = _mae()
    m.norm_pix_loss = False
    x = torch.rand(2, 3, 16, 16)
    noise = torch.rand(2, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        loss, pred, mask = m(x, noise=noise)
        xn = m.normalize(x)
        latent, mask2, ids_restore = m.forward_encoder(xn, noise)
        pred2 = m.forward_decoder(latent, ids_restore)
    assert torch.equal(mask, mask2) and mask.sum(1).tolist() == [3.0, 3.0]
    torch.testing.assert_close(pred, pred2)
    torch.testing.assert_close(loss, m.loss(xn, pred2, mask2))
