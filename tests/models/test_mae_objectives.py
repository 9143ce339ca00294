"""The MAE's motion target and motion-aware masking (MAMP's ideas on S2I images), pinned on hand-made images."""

from __future__ import annotations

import pytest
import torch

from s2i.models import MAE, create_backbone, patchify, random_masking
from s2i.models.mae import motion_image, patch_motion


def _mae(**kw) -> MAE:
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1)
    return MAE(bb, decoder_dim=64, decoder_depth=1, decoder_heads=4, **kw)


def _norm(t: torch.Tensor) -> torch.Tensor:
    return (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6) ** 0.5


def test_motion_image_is_the_next_column_minus_this_one_and_zero_at_the_end():
    img = torch.tensor([[[[0.0, 1.0, 4.0, 9.0], [2.0, 2.0, 1.0, 5.0]]]])  # (1, 1, 2, 4): time along columns
    assert motion_image(img).tolist() == [[[[1.0, 3.0, 5.0, 0.0], [0.0, -1.0, 4.0, 0.0]]]]


def test_patch_motion_is_mean_absolute_motion_over_the_image_mean():
    img = torch.zeros(1, 3, 4, 8)
    img[..., :2, 2] = 1.0  # the first patch row steps up at column 2: |motion| 1 at columns 1 and 2 (patch 0)
    m = patch_motion(img, 4)  # 1 x 2 patches of 4 x 4
    # patch 0: 2 columns x 2 rows x 3 channels of |1| over 48 values; patch 1: nothing; mean over patches = half
    assert m.tolist() == [[2.0, 0.0]]


def test_motion_masking_with_a_small_temperature_masks_the_moving_patches_first():
    m = _mae(mask_ratio=0.75, masking="motion", motion_tau=1e-3)
    x = torch.zeros(2, 3, 32, 32)
    moving = [1, 6, 9, 12, 13, 15, 2, 3, 8, 10, 4, 11]  # 12 of the 16 patches move, each by a different amount
    for rank, p in enumerate(moving):
        r, c = divmod(p, 4)
        x[:, :, r * 8:(r + 1) * 8, c * 8 + 3] = 0.02 * (rank + 1)  # a one-column pulse inside the patch
    noise = m.draw_noise(m.normalize(x), torch.Generator().manual_seed(0))
    _, mask, _ = random_masking(noise, 4)
    expected = torch.zeros(16)
    expected[moving] = 1.0
    assert mask.tolist() == [expected.tolist()] * 2


def test_motion_masking_draws_depend_on_the_seed_and_tend_to_random_at_a_large_temperature():
    m = _mae(mask_ratio=0.5, masking="motion", motion_tau=1e6)
    x = torch.rand(64, 3, 32, 32)
    x[:, :, :8] = 0.5  # the first patch row does not move
    noise = m.draw_noise(m.normalize(x), torch.Generator().manual_seed(1))
    _, mask, _ = random_masking(noise, 8)
    assert mask.sum(1).tolist() == [8.0] * 64
    first_row = mask[:, :4].mean().item()
    assert 0.35 < first_row < 0.65  # nearly random: the still row is masked about half the time
    again = m.draw_noise(m.normalize(x), torch.Generator().manual_seed(1))
    other = m.draw_noise(m.normalize(x), torch.Generator().manual_seed(2))
    assert torch.equal(noise, again) and not torch.equal(noise, other)
    # and at tau 0.75 the still row is masked less often than the others
    m.motion_tau = 0.75
    _, mask, _ = random_masking(m.draw_noise(m.normalize(x), torch.Generator().manual_seed(1)), 8)
    assert mask[:, :4].mean().item() < 0.5 * mask[:, 4:].mean().item()


def test_motion_target_loss_is_norm_mse_on_masked_motion_patches():
    m = _mae(mask_ratio=0.75, target="motion")
    x = torch.rand(2, 3, 32, 32)
    loss, pred, mask = m(x, torch.Generator().manual_seed(0))
    assert pred.shape == (2, 16, 8 * 8 * 3)
    target = _norm(patchify(motion_image(m.normalize(x)), 8))
    expected = (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, expected)


def test_both_targets_predict_pixels_then_motion_and_average_the_two_losses():
    m = _mae(mask_ratio=0.75, target="both")
    x = torch.rand(2, 3, 32, 32)
    loss, pred, mask = m(x, torch.Generator().manual_seed(0))
    assert pred.shape == (2, 16, 2 * 8 * 8 * 3)
    xn = m.normalize(x)
    pix, mot = pred[..., :192], pred[..., 192:]
    lp = (((pix - _norm(patchify(xn, 8))) ** 2).mean(-1) * mask).sum() / mask.sum()
    lm = (((mot - _norm(patchify(motion_image(xn), 8))) ** 2).mean(-1) * mask).sum() / mask.sum()
    torch.testing.assert_close(loss, (lp + lm) / 2)


def test_pixel_target_keeps_the_plain_mae_loss():
    m = _mae(mask_ratio=0.75)
    x = torch.rand(2, 3, 32, 32)
    loss, pred, mask = m(x, torch.Generator().manual_seed(0))
    target = _norm(patchify(m.normalize(x), 8))
    torch.testing.assert_close(loss, (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum(), rtol=0, atol=0)


@pytest.mark.parametrize("bad", [{"masking": "motionless"}, {"target": "depth"}, {"motion_tau": 0.0}])
def test_bad_objective_options_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        _mae(**bad)


def test_pretraining_runs_with_the_motion_objective_and_reconstructs(tmp_path):
    from s2i.formats import get_format
    from s2i.models import load_exported
    from s2i.report.reconstruct import reconstruct
    from s2i.training.fit import pretrain
    from s2i.training.pretrain_module import MAEPretrainModule
    from training.tiny import ntu_store, tiny_config

    store = ntu_store(tmp_path / "store")
    cfg = tiny_config("model.target=both", "model.masking=motion", "optim.max_steps=2")
    out = pretrain(cfg, [store], tmp_path / "run")
    assert load_exported(out).formats == ["ntu25"]
    module = MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), ((-1.0,) * 3, (1.0,) * 3))}, 2, 0, 4)
    assert module.mae.target == "both" and module.mae.masking == "motion"
    rec = reconstruct(module, "ntu25", torch.randn(2, 1, 20, 25, 3), torch.tensor([20, 20]))
    assert rec.reconstructed.shape == (2, 3, 32, 32) and bool(torch.isfinite(torch.from_numpy(rec.loss)).all())
