"""Pretraining runs end to end on a tiny synthetic store: the CLI, the run folder, exact resume, mixed formats."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny import TINY, kinect_store, ntu_store, tiny_config

from s2i.cli import main
from s2i.formats import get_format
from s2i.models import load_exported
from s2i.training.config import ConfigError
from s2i.training.datamodule import PretrainData
from s2i.training.fit import pretrain
from s2i.training.pretrain_module import MAEPretrainModule


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ntu_store(tmp_path_factory.mktemp("data") / "ntu")


@pytest.fixture(scope="module")
def run_a(store, tmp_path_factory):
    """An uninterrupted 6-step run through the command line."""
    out = tmp_path_factory.mktemp("runs") / "a"
    args = ["pretrain", "--data", str(store), "--out", str(out)]
    for s in TINY:
        args += ["--set", s]
    assert main(args) == 0
    return out


def test_run_folder_is_complete(run_a, store, capsys):
    names = {p.name for p in run_a.iterdir()}
    assert {"config.yaml", "provenance.json", "metrics.json", "loss_curve.png", "loss_curve.csv", "encoder",
            "checkpoints", "logs", "tb"} <= names
    m = json.loads((run_a / "metrics.json").read_text())
    assert m["steps"] == 6 and m["samples"] == 24 and m["samples_per_s"] > 0 and m["wall_time_s"] > 0
    assert m["final_loss"] < m["first_loss"]  # it learns
    prov = json.loads((run_a / "provenance.json").read_text())
    manifest = json.loads((store / "manifest.json").read_text())
    assert prov["seed"] == 0 and prov["stores"][0]["content_hash"] == manifest["content_hash"]
    assert prov["stores"][0]["split"] == "xsub" and prov["stores"][0]["items"] == 10
    assert {"torch", "timm", "lightning", "s2i"} <= set(prov["packages"]) and prov["device"]["world_size"] == 1
    assert prov["schedule"]["peak_lr"] == pytest.approx(0.05 * 4 / 256)
    cfg = yaml.safe_load((run_a / "config.yaml").read_text())
    assert cfg["data"]["stores"] == [str(store)] and cfg["optim"]["max_steps"] == 6
    curve = (run_a / "loss_curve.csv").read_text().splitlines()
    assert curve[0] == "step,loss" and len(curve) == 7


def test_exported_encoder_loads_with_the_store_value_range(run_a, store):
    enc = load_exported(run_a)
    assert enc.formats == ["ntu25"] and enc.meta["info"]["step"] == 6
    vr = json.loads((run_a / "provenance.json").read_text())["stores"][0]["value_range"]
    lo, hi = enc.encoder("ntu25").value_range
    assert lo == pytest.approx(vr["lo"]) and hi == pytest.approx(vr["hi"])
    from s2i.store import SkeletonStore

    st = SkeletonStore(store)
    x = torch.from_numpy(st.joints(0)).unsqueeze(0)
    assert enc.features(x).shape == (1, 64)


def test_resume_after_a_stop_matches_the_uninterrupted_run(run_a, store, tmp_path):
    cfg = tiny_config(f"data.stores=[{store}]")
    out = tmp_path / "b"
    pretrain(cfg, None, out, max_steps=3)  # stops right after the step-3 checkpoint
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    # loader settings that do not change the results may differ on resume
    pretrain(tiny_config(f"data.stores=[{store}]", "data.pin_memory=false"), None, out, resume=True)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["resumed_from"].endswith(".ckpt")
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (run_a, out))
    assert mb["steps"] == 6 and mb["starts"] == 2 and mb["total_samples"] == ma["samples"] == 24
    assert mb["total_wall_time_s"] > mb["wall_time_s"]
    assert abs(ma["final_loss"] - mb["final_loss"]) <= 1e-6
    wa, wb = (load_file(r / "encoder" / "model.safetensors") for r in (run_a, out))
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-6
    assert (run_a / "loss_curve.csv").read_text() == (out / "loss_curve.csv").read_text()


def test_a_resume_after_a_kill_counts_the_killed_start(store, tmp_path):
    """A start killed before metrics.json: its time, samples and start come back from the checkpoint."""
    out = tmp_path / "killed"
    pretrain(tiny_config(f"data.stores=[{store}]"), None, out, max_steps=3)
    first = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").unlink()  # as if the first start had been killed after its step-3 checkpoint
    pretrain(tiny_config(f"data.stores=[{store}]"), None, out, resume=True)
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 6 and m["starts"] == 2 and m["samples"] == 12 and m["total_samples"] == 24
    earlier = m["total_wall_time_s"] - m["wall_time_s"]  # the killed start's training seconds
    assert 0 < earlier <= first["wall_time_s"]


def test_existing_runs_and_changed_configs_are_refused(run_a, store):
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain(tiny_config(), [store], run_a)
    with pytest.raises(ConfigError, match="optim.base_lr"):
        pretrain(tiny_config("optim.base_lr=0.1"), [store], run_a, resume=True)


def test_mixed_formats_are_encoded_per_format(store, tmp_path):
    kin = kinect_store(tmp_path / "kinect")
    cfg = tiny_config("augment.rotate=0", "augment.noise=0", "data.batch_size=8")
    dm = PretrainData([store, kin], cfg.data, cfg.encode, seed=0)
    dm.steps = 2
    specs = dm.format_specs()
    module = MAEPretrainModule(cfg, {n: (specs[n], r) for n, r in dm.format_ranges().items()}, 2, 0, 8)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch["formats"]) == {"ntu25", "kinect_v1"}
    images = module.images(batch)
    expected = torch.cat([module.encoders[f](sub["joints"], sub["length"]) for f, sub in batch["formats"].items()])
    torch.testing.assert_close(images, expected)
    assert images.shape == (8, 3, 32, 32)
    # the two formats' encoders carry their own stores' value ranges
    lo, hi = module.encoders["kinect_v1"].value_range
    assert lo == pytest.approx(dm.info[1].value_range[0]) and hi == pytest.approx(dm.info[1].value_range[1])

    out = pretrain(tiny_config("optim.max_steps=2", "data.weights=[1, 1]"), [store, kin], tmp_path / "mixed")
    enc = load_exported(out)
    assert enc.formats == ["ntu25", "kinect_v1"]
    prov = json.loads((out / "provenance.json").read_text())
    assert [s["format"] for s in prov["stores"]] == ["ntu25", "kinect_v1"]


@pytest.mark.parametrize("layout", ["timm", "mae", "safetensors"])
def test_init_file_reaches_the_pretraining_backbone(layout, store, tmp_path):
    from safetensors.torch import save_file

    from s2i.models import create_backbone

    torch.manual_seed(1)
    src, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1, embed_dim=64, num_heads=2)
    sd = src.state_dict()
    path = tmp_path / ("w.safetensors" if layout == "safetensors" else "w.pth")
    if layout == "safetensors":
        save_file(sd, str(path))
    else:
        torch.save({"model": sd} if layout == "mae" else sd, path)
    out = pretrain(tiny_config("optim.max_steps=1", "optim.base_lr=1e-12"), [store], tmp_path / "run", init=str(path))
    init = json.loads((out / "provenance.json").read_text())["init"]
    assert init["source"] == "file" and init["loaded"] == len(sd) and init["missing"] == []
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["init"] == str(path)
    exported = load_file(out / "encoder" / "model.safetensors")  # one step at lr 1e-12: still the init weights
    assert exported.keys() == sd.keys()
    assert max((exported[k] - v).abs().max().item() for k, v in sd.items()) < 1e-6
    # another image size: the module's backbone gets resampled position embeddings, the rest unchanged
    cfg = tiny_config(f"model.init={path}", "encode.height=48", "encode.width=64")
    module = MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), ([-1.0] * 3, [1.0] * 3))}, 1, 0, 4)
    got = module.backbone.state_dict()
    assert got["pos_embed"].shape == (1, 1 + 6 * 8, 64)
    assert all(torch.equal(got[k], v) for k, v in sd.items() if k != "pos_embed")


@pytest.mark.parametrize(("setting", "pinned"), [(None, False), ("true", True), ("false", False)])
def test_data_pin_memory_sets_the_loader_pinning(store, setting, pinned):
    """data.pin_memory (None: pin when the trainer runs on a GPU; no trainer here) reaches the DataLoader."""
    cfg = tiny_config(*([f"data.pin_memory={setting}"] if setting else []))
    dm = PretrainData([store], cfg.data, cfg.encode, seed=0)
    dm.steps = 1
    assert dm.train_dataloader().pin_memory is pinned
    assert PretrainData([store], cfg.data, cfg.encode, seed=0, pin_memory=True).pin_memory is True  # argument wins


def test_the_loader_keeps_the_persons_the_encoder_lays_out(store):
    """The loader's person slots come from encode.max_persons (data.max_persons only records it)."""
    for persons in (1, 3):
        cfg = tiny_config(f"encode.max_persons={persons}")
        dm = PretrainData([store], cfg.data.model_copy(update={"max_persons": None}), cfg.encode, seed=0)
        dm.steps = 1
        assert next(iter(dm.train_dataloader()))["formats"]["ntu25"]["joints"].shape[1] == persons
