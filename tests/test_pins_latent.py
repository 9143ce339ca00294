"""models/latent.py pinned on values (issue 36, mutation round 2): the teacher's momentum at chosen steps, its
targets written out block by block, the EMA update of parameters and buffers, and its frozen eval mode."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from s2i.models.latent import EMATeacher, ema_momentum


def _vit(seed: int = 0, **kw) -> VisionTransformer:
    torch.manual_seed(seed)
    return VisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=3, num_heads=2, num_classes=0, **kw)


def test_momentum_rises_on_a_cosine_from_start_to_end():
    assert ema_momentum(0, 100, 0.9) == pytest.approx(0.9)
    assert ema_momentum(50, 100, 0.9) == pytest.approx(0.95)  # half way: the mean
    assert ema_momentum(25, 100, 0.9) == pytest.approx(1.0 - 0.1 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert ema_momentum(100, 100, 0.9) == pytest.approx(1.0)
    assert ema_momentum(150, 100, 0.9) == pytest.approx(1.0)  # flat after the run
    assert ema_momentum(-5, 100, 0.9) == pytest.approx(0.9)  # and before it
    assert ema_momentum(30, 60, 0.8, 0.9) == pytest.approx(0.85)  # another end
    assert ema_momentum(1, 0, 0.5) == pytest.approx(1.0)  # total 0 counts as one step
    assert ema_momentum(1, 1, 0.5) == pytest.approx(1.0) and ema_momentum(1, 2, 0.5) == pytest.approx(0.75)


def _blocks_out(vit: VisionTransformer, x: torch.Tensor) -> list[torch.Tensor]:
    h = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
    outs = []
    for blk in vit.blocks:
        h = blk(h)
        outs.append(h[:, vit.num_prefix_tokens:])
    return outs


@pytest.mark.parametrize(("layers", "reg"), [(1, 0), (2, 0), (3, 2)])
def test_targets_are_the_normalised_mean_of_the_last_layers_normalised_block_outputs(layers, reg):
    student = _vit(reg_tokens=reg)
    teacher = EMATeacher(student, layers=layers)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    got = teacher.features(x)
    with torch.no_grad():
        outs = _blocks_out(student, x)[-layers:]
        expected = F.layer_norm(torch.stack([F.layer_norm(o, (8,)) for o in outs]).mean(0), (8,))
    assert got.shape == (2, 4, 8)  # every patch, the prefix tokens dropped
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not got.requires_grad


def test_layers_outside_the_blocks_are_refused():
    for bad in (0, 4):
        with pytest.raises(ValueError) as e:
            EMATeacher(_vit(), layers=bad)
        assert str(e.value) == f"latent layers must be in 1..3 (the backbone's blocks), got {bad}"
    assert EMATeacher(_vit(), layers=3).layers == 3 and EMATeacher(_vit()).layers == 1


def test_the_teacher_is_a_frozen_copy_in_eval_mode_whatever_its_parent():
    student = _vit(drop_path_rate=0.5)
    teacher = EMATeacher(student)
    assert teacher.model is not student and all(not p.requires_grad for p in teacher.model.parameters())
    assert all(p.requires_grad for p in student.parameters())  # the student is left as it was
    assert teacher.train() is teacher and not teacher.model.training and teacher.training
    teacher.train(False)
    assert not teacher.training and not teacher.model.training
    teacher.train(True)
    assert not teacher.model.training
    x = torch.randn(1, 3, 16, 16)
    torch.testing.assert_close(teacher.features(x), teacher.features(x))  # no drop path: deterministic


def test_update_moves_parameters_by_one_minus_momentum_and_copies_float_buffers():
    student = _vit(0)
    teacher = EMATeacher(student)
    old = [p.clone() for p in teacher.model.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    teacher.model.register_buffer("scale", torch.tensor([2.0]))
    teacher.model.register_buffer("count", torch.tensor([3]))
    student.register_buffer("scale", torch.tensor([5.0]))
    student.register_buffer("count", torch.tensor([7]))
    teacher.update(student, 0.75)
    for o, t, s in zip(old, teacher.model.parameters(), student.parameters()):
        torch.testing.assert_close(t, 0.75 * o + 0.25 * s)
    assert teacher.model.scale.tolist() == [5.0]  # floating buffers: copied
    assert teacher.model.count.tolist() == [3]  # integer buffers: left
