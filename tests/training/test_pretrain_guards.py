"""A pretraining run that would produce garbage stops with an error instead of exiting 0 (issue 34, items 9-12):
a non-finite loss, NaN init weights, an --init file matching no tensor, a resume without a readable checkpoint,
a store without training sequences."""

from __future__ import annotations

import json

import pytest
import torch
from tiny import TINY, ntu_store, tiny_config

from s2i import SkeletonSequence
from s2i.cli import main
from s2i.store import StoreWriter
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.fit import pretrain
from s2i.training.pretrain_module import MAEPretrainModule


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ntu_store(tmp_path_factory.mktemp("data") / "ntu")


def _weights_file(tmp_path, edit=None):
    from s2i.models import create_backbone

    torch.manual_seed(1)
    src, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1, embed_dim=64, num_heads=2)
    sd = src.state_dict()
    if edit is not None:
        sd = edit(sd)
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    return path


def _checkpoint_weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(store, tmp_path, monkeypatch):
    step = MAEPretrainModule.training_step

    def diverging(self, batch, batch_idx):
        loss = step(self, batch, batch_idx)
        return loss * float("nan") if int(batch["batch"]) >= 4 else loss  # finite through the step-3 checkpoint

    monkeypatch.setattr(MAEPretrainModule, "training_step", diverging)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"loss is not finite.*step0000003\.ckpt"):
        pretrain(tiny_config(), [store], out)
    names = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert names == ["last.ckpt", "step0000003.ckpt"]
    for name in names:
        assert all(torch.isfinite(v).all() for v in _checkpoint_weights(out / "checkpoints" / name).values()
                   if v.is_floating_point())
    assert not (out / "encoder").exists() and not (out / "metrics.json").exists()  # no NaN encoder exported


def test_a_diverging_learning_rate_is_an_error_from_the_command_line(store, tmp_path, capsys):
    args = ["pretrain", "--data", str(store), "--out", str(tmp_path / "run")]
    for s in [*TINY, "optim.base_lr=1e12"]:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "loss is not finite" in err and "optim.base_lr" in err
    assert not (tmp_path / "run" / "encoder").exists()


def test_init_weights_holding_nan_are_refused(store, tmp_path):
    def poison(sd):
        sd["blocks.0.attn.qkv.weight"][0, 0] = float("nan")
        return sd

    path = _weights_file(tmp_path, poison)
    with pytest.raises(ValueError, match=r"w\.pth.*1 tensor.*not finite.*blocks\.0\.attn\.qkv\.weight"):
        pretrain(tiny_config("optim.max_steps=1"), [store], tmp_path / "run", init=str(path))


def test_an_init_file_matching_no_tensor_is_an_error_unless_asked_for(store, tmp_path):
    path = _weights_file(tmp_path, lambda sd: {f"encoder.{k}": v for k, v in sd.items()})  # another key prefix
    with pytest.raises(ValueError, match=r"w\.pth.*matches none of the backbone's \d+ tensors"):
        pretrain(tiny_config("optim.max_steps=1"), [store], tmp_path / "run", init=str(path))
    assert not (tmp_path / "run" / "checkpoints").exists()
    out = pretrain(tiny_config("optim.max_steps=1", "model.init_allow_unmatched=true"), [store],
                   tmp_path / "run2", init=str(path))
    init = json.loads((out / "provenance.json").read_text())["init"]
    assert init["source"] == "file" and init["loaded"] == 0


def test_a_resume_without_a_readable_checkpoint_is_an_error_and_keeps_the_run(store, tmp_path):
    out = tmp_path / "run"
    pretrain(tiny_config(), [store], out, max_steps=3)
    before = (out / "provenance.json").read_bytes()
    for ckpt in (out / "checkpoints").glob("*.ckpt"):
        ckpt.write_bytes(b"PK\x03\x04 damaged")
    with pytest.raises(ValueError, match=r"no readable checkpoint: all 2 checkpoint files are damaged"):
        pretrain(tiny_config(), [store], out, resume=True)
    assert (out / "provenance.json").read_bytes() == before
    fresh = tmp_path / "fresh"
    pretrain(tiny_config(), [store], fresh, max_steps=1)
    for ckpt in (fresh / "checkpoints").glob("*.ckpt"):
        ckpt.unlink()  # a start killed before its first checkpoint: nothing to resume either
    with pytest.raises(ValueError, match="no readable checkpoint"):
        pretrain(tiny_config(), [store], fresh, resume=True)


def test_a_store_without_a_training_part_is_refused(tmp_path):
    path = tmp_path / "test_only"
    with StoreWriter(path, "ntu25", 3, 25) as w:
        for i in range(6):
            w.append(SkeletonSequence(synthetic_ntu(1, 20, 1, seed=i)[0], "ntu25", meta={"label": i % 2}))
        w.finalize({"xsub": {"test": list(range(6))}}, {"num_classes": 2}, {})
    with pytest.raises(ValueError, match=r"test_only.*no split with a 'train' part.*xsub"):
        pretrain(tiny_config(), [path], tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_no_checkpoint_is_written_from_non_finite_weights():
    from s2i.formats import get_format
    from s2i.training.pretrain_module import TrainingDivergedError

    module = MAEPretrainModule(tiny_config(), {"ntu25": (get_format("ntu25"), ([-1.0] * 3, [1.0] * 3))}, 1, 0, 4)
    module.on_save_checkpoint({})  # finite: written
    with torch.no_grad():
        module.backbone.cls_token.fill_(float("inf"))
    with pytest.raises(TrainingDivergedError, match=r"1 weight tensor is not finite \(backbone\.cls_token\)"):
        module.on_save_checkpoint({})
