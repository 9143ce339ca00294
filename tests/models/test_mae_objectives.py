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


# --- the latent objective (EMA teacher) -------------------------------------------------------------------

def test_ema_momentum_rises_from_start_to_end_on_a_cosine():
    from s2i.models.latent import ema_momentum

    assert ema_momentum(0, 100, 0.99) == pytest.approx(0.99)
    assert ema_momentum(50, 100, 0.99) == pytest.approx(0.995)
    assert ema_momentum(25, 100, 0.99, 0.999) == pytest.approx(0.999 - 0.009 * 0.5 * (1 + 2 ** -0.5))
    assert ema_momentum(100, 100, 0.99) == pytest.approx(1.0) and ema_momentum(150, 100, 0.99) == pytest.approx(1.0)


def test_teacher_update_is_an_exponential_moving_average_and_stays_in_eval_mode():
    from s2i.models.latent import EMATeacher

    student, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=2, drop_path_rate=0.1)
    teacher = EMATeacher(student, layers=2)
    before = teacher.model.patch_embed.proj.weight.clone()
    with torch.no_grad():
        student.patch_embed.proj.weight.add_(1.0)
    teacher.update(student, 0.9)
    torch.testing.assert_close(teacher.model.patch_embed.proj.weight, before + 0.1)
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.model.training and not any(m.training for m in teacher.model.modules())
    with pytest.raises(ValueError, match="latent layers"):
        EMATeacher(student, layers=3)


def test_teacher_features_are_the_mean_of_its_last_blocks_layer_normed():
    import torch.nn.functional as F

    from s2i.models.latent import EMATeacher

    torch.manual_seed(0)
    student, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=3)
    teacher = EMATeacher(student, layers=2)
    x = torch.randn(2, 3, 32, 32)
    bb = teacher.model
    with torch.no_grad():
        h = bb.norm_pre(bb._pos_embed(bb.patch_embed(x)))
        outs = []
        for blk in bb.blocks:
            h = blk(h)
            outs.append(h[:, bb.num_prefix_tokens:])
    ln = lambda t: F.layer_norm(t, (t.shape[-1],))
    expected = ln((ln(outs[1]) + ln(outs[2])) / 2)
    torch.testing.assert_close(teacher.features(x), expected, rtol=1e-5, atol=1e-5)


def test_latent_objective_adds_the_weighted_teacher_loss_on_masked_patches():
    m = _mae(mask_ratio=0.75, latent_weight=0.5)
    assert m.teacher is not None and m.decoder_latent is not None
    x = torch.rand(2, 3, 32, 32)
    loss, pred, mask = m(x, torch.Generator().manual_seed(0))
    xn = m.normalize(x)
    noise = m.draw_noise(xn, torch.Generator().manual_seed(0))
    latent, mask2, ids = m.forward_encoder(xn, noise)
    hidden = m.decode(latent, ids)
    target = m.teacher.features(xn)
    per_patch = ((m.decoder_latent(hidden) - target) ** 2).mean(-1)
    expected = m.loss(xn, m.decoder_pred(hidden), mask2) + 0.5 * (per_patch * mask2).sum() / mask2.sum()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(p.grad is None for p in m.teacher.parameters())  # the teacher only follows by EMA
    assert m.decoder_latent.weight.grad is not None and m.backbone.patch_embed.proj.weight.grad is not None


def test_pretraining_with_the_latent_objective_resumes_exactly(tmp_path):
    from safetensors.torch import load_file

    from s2i.training.fit import pretrain
    from training.tiny import ntu_store, tiny_config

    store = ntu_store(tmp_path / "store")
    cfg = tiny_config(f"data.stores=[{store}]", "model.latent_weight=1.0", "model.latent_momentum=[0.5, 1.0]")
    a = pretrain(cfg, None, tmp_path / "a")
    b = tmp_path / "b"
    pretrain(cfg, None, b, max_steps=3)
    pretrain(cfg, None, b, resume=True)
    wa, wb = (load_file(r / "encoder" / "model.safetensors") for r in (a, b))
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-6
    ckpt = torch.load(b / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    teacher = {k for k in ckpt if ".teacher." in k}
    assert teacher  # the teacher travels in the checkpoint
    student = "mae.backbone.patch_embed.proj.weight"
    assert not torch.equal(ckpt[student], ckpt["mae.teacher.model.patch_embed.proj.weight"])
