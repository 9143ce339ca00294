"""training/pretrain_module.py pinned on values (issue 36, third round): what the config builds (encoders with
their ranges, augmentations with their format, backbone, MAE options), a training step's seeded draws and logs,
the EMA teacher's step, and the divergence checks' decisions and messages. Driven by hand (a stand-in trainer
where the module reads one), so each check names the value it pins."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tiny import tiny_config

from s2i.data import build_augment, seeded_generator
from s2i.formats import get_format
from s2i.models.latent import ema_momentum
from s2i.models.mae import block_ids
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.pretrain_module import MAEPretrainModule, TrainingDivergedError

NTU = (get_format("ntu25"), ([-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]))
KINECT = (get_format("kinect_v1"), ([-0.5, -0.6, -0.7], [0.5, 0.6, 0.7]))
COCO = (get_format("coco17"), ([-1.0, -1.0, 0.0], [1.0, 1.0, 1.0]))  # 2D: x, y and the confidence channel


def _module(*extra: str, formats=None, total: int = 10, warmup: int = 2, load_init: bool = True):
    torch.manual_seed(0)
    return MAEPretrainModule(tiny_config(*extra), formats or {"ntu25": NTU}, total_steps=total, warmup_steps=warmup,
                             total_batch=8, load_init=load_init)


def _batch(number: int = 3) -> dict:
    nt = torch.from_numpy(synthetic_ntu(3, 16, 2, seed=1))
    nt[1, 1] = float("nan")  # one single-person sequence
    kin = torch.from_numpy(synthetic_ntu(2, 12, 1, seed=2)[:, :, :, :20].copy())
    return {"batch": number, "formats": {"ntu25": {"joints": nt, "length": torch.tensor([16, 9, 12])},
                                         "kinect_v1": {"joints": kin, "length": torch.tensor([12, 7])}}}


def test_the_config_builds_its_encoders_augmentations_backbone_and_mae():
    m = _module("model.decoder_dim=24", "model.decoder_depth=2", "model.decoder_heads=3", "model.mask_ratio=0.6",
                "model.masking=blocks", "model.norm_pix_loss=false", "model.time_window=3", "model.target=both",
                "model.motion_tau=0.5", "model.latent_weight=0.25", "model.latent_layers=2",
                "model.backbone_kwargs={depth: 2, embed_dim: 64, num_heads: 2}", "encode.persons=mean",
                "encode.height=40", "encode.width=24", "augment.flip=0.5",
                formats={"ntu25": NTU, "kinect_v1": KINECT})
    assert list(m.s2i_encoders) == ["ntu25", "kinect_v1"]
    for name, (spec, (lo, hi)) in {"ntu25": NTU, "kinect_v1": KINECT}.items():
        enc = m.s2i_encoders[name]
        own = {k: v for k, v in enc.config.model_dump().items() if k not in ("range_lo", "range_hi")}
        given = {k: v for k, v in m.config.encode.model_dump().items() if k not in ("range_lo", "range_hi")}
        assert enc.spec.name == name and own == given
        assert [*enc.value_range[0], *enc.value_range[1]] == pytest.approx([*lo, *hi], abs=1e-7)  # in float32
        assert repr(m.augments[name]) == repr(build_augment(m.config.augment, spec))  # the format's own flip
    assert "RandomFlip(kinect_v1, p=0.5)" in repr(m.augments["kinect_v1"])
    bb = m.backbone
    assert bb is m.mae.backbone and len(bb.blocks) == 2 and bb.embed_dim == 64
    assert tuple(bb.patch_embed.img_size) == (40, 24) and tuple(bb.patch_embed.patch_size) == (8, 8)
    mae = m.mae
    assert mae.decoder_embed.out_features == 24 and len(mae.decoder_blocks) == 2
    assert mae.decoder_blocks[0].attn.num_heads == 3
    assert (mae.mask_ratio, mae.masking, mae.norm_pix_loss, mae.target, mae.motion_tau) == (0.6, "blocks", False,
                                                                                           "both", 0.5)
    assert mae.decoder_pred.out_features == 8 * 8 * 3 * 2 and mae.latent_weight == 0.25
    assert mae.teacher is not None and mae.teacher.layers == 2
    assert torch.equal(mae.blocks, block_ids((5, 3), 8, 1, 3))  # persons=mean: one person block; windows of 3
    assert m.init_report.source == "random" and m.last_loss is None
    stacked = _module("encode.persons=stack", "encode.max_persons=2", "model.time_window=1")
    assert torch.equal(stacked.mae.blocks, block_ids((4, 4), 8, 2, 1))


def test_the_init_file_is_loaded_only_when_asked(tmp_path):
    from s2i.models import create_backbone

    torch.manual_seed(5)
    src, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1, embed_dim=64, num_heads=2)
    torch.save(src.state_dict(), tmp_path / "w.pth")
    loaded = _module(f"model.init={tmp_path / 'w.pth'}")
    assert loaded.init_report.source == "file" and loaded.init_report.loaded == len(src.state_dict())
    assert torch.equal(loaded.backbone.patch_embed.proj.weight, src.patch_embed.proj.weight)
    skipped = _module(f"model.init={tmp_path / 'w.pth'}", load_init=False)
    assert skipped.init_report.source == "random"
    assert not torch.equal(skipped.backbone.patch_embed.proj.weight, src.patch_embed.proj.weight)
    torch.save({"unrelated": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="matches none of the backbone's"):
        _module(f"model.init={tmp_path / 'other.pth'}")
    assert _module(f"model.init={tmp_path / 'other.pth'}", "model.init_allow_unmatched=true").init_report.loaded == 0


def test_images_encode_each_format_with_its_encoder_augmentation_and_confidence_in_batch_order():
    """Each format's joints (in float32, whatever their dtype), lengths and confidence through its own encoder
    and augmentation, with the draws made in batch order from one generator; the images concatenated."""
    m = _module("augment.flip=0.5", "augment.scale=[0.8,1.2]",
                formats={"ntu25": NTU, "kinect_v1": KINECT, "coco17": COCO})
    batch = _batch()
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(2, 1, 10, 17, 2, generator=g) - 0.5
    batch["formats"]["coco17"] = {"joints": xy.double(), "length": torch.tensor([10, 6]),
                                  "confidence": torch.rand(2, 1, 10, 17, generator=g)}
    got = m.images(batch, torch.Generator().manual_seed(11))
    g, want = torch.Generator().manual_seed(11), []
    draws = [(fmt, m.s2i_encoders[fmt].draw(sub["joints"].shape, g, m.augments[fmt]))
             for fmt, sub in batch["formats"].items()]
    for fmt, d in draws:
        sub = batch["formats"][fmt]
        want.append(m.s2i_encoders[fmt](sub["joints"].float(), sub["length"], sub.get("confidence"),
                                        augment=m.augments[fmt], draws=d))
    assert got.shape == (7, 3, 32, 32) and got.dtype == torch.float32
    assert torch.equal(got, torch.cat(want))
    plain = torch.cat([m.s2i_encoders[f](s["joints"].float(), s["length"]) for f, s in batch["formats"].items()])
    assert not torch.allclose(got[:5], plain[:5], atol=1e-3)  # the augmentations were applied
    assert not torch.allclose(got[5:, 2], plain[5:, 2], atol=1e-3)  # the given confidence, not the valid mask


def _step_module(*extra: str):
    m = _module(*extra, "seed=4", formats={"ntu25": NTU, "kinect_v1": KINECT})
    logged = []
    m.log = lambda name, value, **kw: logged.append((name, value, kw))
    m.optimizers = lambda: SimpleNamespace(param_groups=[{"lr": 0.125}, {"lr": 0.5}])
    return m, logged


def test_a_training_step_draws_from_the_seed_and_batch_number_and_logs_loss_and_lr():
    m, logged = _step_module()
    batch = _batch(number=6)
    loss = m.training_step(batch, batch_idx=0)
    images = m.images(batch, seeded_generator(4, 6, 0xA06))
    want, _, _ = m.mae(images, seeded_generator(4, 6, 0x3A5C))
    assert torch.equal(loss, want) and m.last_loss == float(want)
    assert [n for n, _, _ in logged] == ["train/loss", "train/lr"]
    assert torch.equal(logged[0][1], want)
    assert logged[0][2] == {"on_step": True, "prog_bar": True, "batch_size": 5, "sync_dist": True}
    lr = logged[1][1]
    assert isinstance(lr, torch.Tensor) and lr.device.type == "cpu" and float(lr) == 0.125  # the first group's
    assert logged[1][2] == {"on_step": True, "batch_size": 5}
    other = m.training_step(_batch(number=7), batch_idx=0)
    assert not torch.equal(other, loss)  # another batch number, other draws
    assert not bool(m._bad_loss)


def test_a_non_finite_loss_is_remembered_after_finite_ones():
    m, _ = _step_module()
    m.training_step(_batch(), 0)
    assert not bool(m._bad_loss)
    real = m.mae.forward
    m.mae.forward = lambda images, gen: (torch.tensor(float("nan")), None, None)
    m.training_step(_batch(), 1)
    m.mae.forward = real
    m.training_step(_batch(), 2)  # finite again: the flag stays
    assert bool(m._bad_loss) and m.last_loss == pytest.approx(float(m._last_loss))
    with pytest.raises(TrainingDivergedError) as e:
        m.check_finite()
    assert str(e.value) == ("training diverged: the loss is not finite by step 0; stopped without exporting an"
                            " encoder. Lower optim.base_lr (now 0.05), set optim.grad_clip, or check the --init"
                            " weights")


class _Trainer(SimpleNamespace):
    """The parts of a Trainer the module reads: the step and the strategy's all-process decision."""

    def __init__(self, step: int, decide=None) -> None:
        calls: list = []

        def reduce(decision, all=True):
            calls.append((decision, all))
            return decision if decide is None else decide

        super().__init__(global_step=step, strategy=SimpleNamespace(reduce_boolean_decision=reduce), calls=calls)


def test_the_optimizer_step_then_moves_the_teacher_by_the_scheduled_momentum():
    m = _module("model.latent_weight=0.5", "model.latent_momentum=[0.5,1.0]", total=10)
    m.trainer = _Trainer(step=3)
    student = dict(m.backbone.named_parameters())
    before = {n: p.detach().clone() for n, p in m.mae.teacher.model.named_parameters()}
    with torch.no_grad():  # the student moves away from the teacher (copied at the start)
        m.backbone.cls_token.add_(1.0)
    stepped = []

    class Opt:
        def step(self, closure=None):
            stepped.append(closure)
            with torch.no_grad():
                m.backbone.pos_embed.add_(2.0)

    m.optimizer_step(0, 0, Opt(), "closure")
    assert stepped == ["closure"]
    mom = ema_momentum(3, 10, 0.5, 1.0)
    assert 0.5 < mom < 1.0
    after = dict(m.mae.teacher.model.named_parameters())
    for name in ("cls_token", "pos_embed", "blocks.0.attn.qkv.weight"):
        want = mom * before[name] + (1 - mom) * student[name].detach()
        torch.testing.assert_close(after[name], want, rtol=0, atol=1e-6)
    assert not torch.equal(after["cls_token"], before["cls_token"])
    plain = _module(total=10)  # no latent objective: no teacher, the step alone
    plain.trainer = _Trainer(step=3)
    plain.optimizer_step(0, 0, Opt(), None)
    assert plain.mae.teacher is None and stepped == ["closure", None]


def test_the_checks_ask_every_process_and_name_the_step():
    m = _module()
    m.trainer = _Trainer(step=7, decide=True)  # another process saw a non-finite loss
    with pytest.raises(TrainingDivergedError, match=r"^training diverged: the loss is not finite by step 7;"):
        m.check_finite()
    assert m.trainer.calls == [(False, False)]
    m.trainer = _Trainer(step=7)
    m.check_finite()
    m._bad_loss = torch.tensor(True)
    with pytest.raises(TrainingDivergedError, match="the loss is not finite by step 7"):
        m.check_finite(weights=True)  # the loss is named first, whatever the weights
    assert m.trainer.calls == [(False, False), (True, False)]


def test_non_finite_weights_are_named_three_at_most():
    m = _module()
    m.check_finite(weights=True)  # nothing wrong, outside a run
    names = [n for n, _ in m.mae.named_parameters()]
    with torch.no_grad():
        dict(m.mae.named_parameters())[names[2]].fill_(float("nan"))
    m.check_finite()  # the loss alone: not the weights
    with pytest.raises(TrainingDivergedError) as e:
        m.check_finite(weights=True)
    assert f"by step 0; 1 weight tensor is not finite ({names[2]}) by" not in str(e.value)
    assert str(e.value).startswith(f"training diverged: 1 weight tensor is not finite ({names[2]}) by step 0;")
    with torch.no_grad():
        for n in (names[0], names[5], names[7]):
            dict(m.mae.named_parameters())[n].fill_(float("inf"))
    with pytest.raises(TrainingDivergedError) as e:
        m.on_save_checkpoint({})
    assert str(e.value).startswith(f"training diverged: 4 weight tensors are not finite ({names[0]}, {names[2]},"
                                   f" {names[5]} ...) by step 0;")
    with torch.no_grad():
        for n in (names[0], names[2], names[7]):
            dict(m.mae.named_parameters())[n].zero_()
    with pytest.raises(TrainingDivergedError) as e:
        m.on_save_checkpoint({})
    assert str(e.value).startswith(f"training diverged: 1 weight tensor is not finite ({names[5]}) by step 0;")
    with torch.no_grad():
        dict(m.mae.named_parameters())[names[5]].zero_()
        for n in names[:3]:
            dict(m.mae.named_parameters())[n].fill_(float("nan"))
    with pytest.raises(TrainingDivergedError) as e:
        m.on_save_checkpoint({})
    assert f"3 weight tensors are not finite ({', '.join(names[:3])}) by" in str(e.value)


def test_the_loss_is_checked_every_step_on_a_cpu_and_every_log_every_steps_elsewhere():
    m = _module("trainer.log_every=4")
    m._bad_loss = torch.tensor(True)
    m.trainer = _Trainer(step=5)
    with pytest.raises(TrainingDivergedError, match="by step 5"):
        m.on_train_batch_end(None, None, 0)  # CPU: every step
    m._device = torch.device("meta")  # an accelerator: read back only at steps that are multiples of log_every
    for step in (5, 6, 7, 9, 10):
        m.trainer = _Trainer(step=step)
        m.on_train_batch_end(None, None, 0)
    for step in (4, 8, 0):
        m.trainer = _Trainer(step=step)
        with pytest.raises(TrainingDivergedError, match=f"by step {step};"):
            m.on_train_batch_end(None, None, 0)
