"""Pretraining configs: validation names the key, --set overrides are YAML-typed, shipped configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2i.training.config import ConfigError, apply_overrides, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_unknown_keys_and_wrong_types_name_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim: {max_steps: 5}\nmodel: {mask_ratoi: 0.5, decoder_depth: many}\nextra_section: 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert str(cfg) in msg and "model.mask_ratoi: unknown key" in msg and "extra_section: unknown key" in msg
    assert "model.decoder_depth:" in msg
    with pytest.raises(ConfigError, match="encode.stream"):
        load_config(cfg, ["model={}", "encode.stream=sideways", "extra_section=null"])


def test_set_overrides_are_yaml_typed():
    c = load_config(None, ["optim.max_steps=7", "optim.base_lr=3e-4", "data.weights=[1, 2.5]",
                           "model.backbone_kwargs={depth: 2}", "model.init=null", "trainer.devices=2"])
    assert c.optim.max_steps == 7 and c.optim.base_lr == 3e-4 and c.data.weights == [1.0, 2.5]
    assert c.model.backbone_kwargs == {"depth": 2} and c.model.init is None and c.trainer.devices == 2
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(None, ["optim.max_steps"])


def test_consistency_rules():
    with pytest.raises(ConfigError, match="epochs or max_steps"):
        load_config(None)
    with pytest.raises(ConfigError, match="multiples of model.patch_size"):
        load_config(None, ["optim.max_steps=1", "encode.height=100"])
    with pytest.raises(ConfigError, match="range"):
        load_config(None, ["optim.max_steps=1", "encode.range_lo=[0, 0, 0]"])


def test_the_loader_keeps_the_persons_the_encoder_lays_out():
    """data.max_persons follows encode.max_persons (its one owner); an older file's value must agree."""
    assert load_config(None, ["optim.max_steps=1", "encode.max_persons=3"]).data.max_persons == 3
    assert load_config(None, ["optim.max_steps=1", "data.max_persons=2"]).data.max_persons == 2
    with pytest.raises(ConfigError, match=r"data.max_persons \(2\) differs from encode.max_persons \(3\)"):
        load_config(None, ["optim.max_steps=1", "data.max_persons=2", "encode.max_persons=3"])


def test_pretraining_crops_only_in_the_loader():
    """One temporal crop per run: the loader's (data.temporal_crop); the encoder's own is refused."""
    with pytest.raises(ConfigError, match="encode.temporal_crop: crop in data.temporal_crop"):
        load_config(None, ["optim.max_steps=1", "encode.temporal_crop=[0.5, 1.0]"])
    assert load_config(None, ["optim.max_steps=1", "data.temporal_crop=null"]).data.temporal_crop is None


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_validate(path):
    c = load_config(path)
    assert c.encode.height % c.model.patch_size == 0


def test_paper_benchmarks_have_configs():
    names = {p.stem for p in CONFIGS}
    assert {"ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "pku1_xsub", "pku2_xsub",
            "nwucla_tiny"} <= names
    c = load_config(CONFIGS[[p.stem for p in CONFIGS].index("ntu60_xsub")])
    assert c.model.backbone == "vit_base_patch16_224" and c.encode.height == 224 and c.model.patch_size == 16
    assert c.model.mask_ratio == 0.75 and c.model.decoder_depth == 8 and c.model.decoder_dim == 512
    assert c.optim.base_lr == 1.5e-4 and c.optim.warmup_epochs == 40


def test_devices_and_nodes_come_from_torchrun_or_slurm(monkeypatch):
    from s2i.training.fit import resolve_devices

    for var in ("LOCAL_WORLD_SIZE", "WORLD_SIZE", "SLURM_NTASKS_PER_NODE", "SLURM_NNODES"):
        monkeypatch.delenv(var, raising=False)
    assert resolve_devices("cpu", "auto", None) == ("cpu", 1, 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert resolve_devices("cpu", "auto", None) == ("cpu", 2, 4)  # torchrun: 4 nodes x 2 processes
    assert resolve_devices("cpu", 2, 1) == ("cpu", 2, 1)  # explicit values win
    for var in ("LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "4(x2)")
    monkeypatch.setenv("SLURM_NNODES", "2")
    assert resolve_devices("cpu", "auto", None) == ("cpu", 4, 2)
