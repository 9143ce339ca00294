"""An exported encoder whose numbers make every feature NaN or inf is refused when it is written or loaded, by
every loader (issue 34, item 9): NaN weights, a NaN mean or a zero std in config.json."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import s2i
from s2i.encode import S2IConfig, S2IEncoder
from s2i.evaluation.features import load_checkpoint
from s2i.models import create_backbone, export_encoder, load_exported


@pytest.fixture()
def folder(tmp_path):
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=16, patch_size=8, depth=1, embed_dim=48, num_heads=2)
    enc = S2IEncoder("ntu25", S2IConfig(height=16, width=16, persons="first", value_range="sequence"))
    return export_encoder(tmp_path / "enc", bb, "vit_tiny_patch16_224", [enc],
                          backbone_kwargs={"depth": 1, "embed_dim": 48, "num_heads": 2})


def _edit(folder, **changes):
    meta = json.loads((folder / "config.json").read_text())
    meta.update(changes)
    (folder / "config.json").write_text(json.dumps(meta))


def _loaders(folder):
    return [lambda: load_exported(folder), lambda: s2i.load_encoder(folder, device="cpu"),
            lambda: load_checkpoint(folder)]


def test_nan_weights_are_refused_by_every_loader(folder):
    w = load_file(str(folder / "model.safetensors"))
    w["blocks.0.mlp.fc1.weight"][3, 4] = float("nan")
    save_file(w, str(folder / "model.safetensors"))
    for load in _loaders(folder):
        with pytest.raises(ValueError, match=r"enc: 1 weight tensor is not finite.*blocks\.0\.mlp\.fc1\.weight"):
            load()


@pytest.mark.parametrize("change", [{"mean": [float("nan"), 0.4, 0.4]}, {"std": [0.2, 0.0, 0.2]},
                                    {"std": [0.2, -1.0, 0.2]}, {"std": [0.2, float("inf"), 0.2]}])
def test_an_unusable_input_normalisation_is_refused(folder, change):
    _edit(folder, **change)
    for load in [*_loaders(folder), lambda: load_checkpoint(folder, "random", 1)]:
        with pytest.raises(ValueError, match="input normalisation .* must be 3 finite numbers each, std > 0"):
            load()


def test_nan_weights_are_not_exported(tmp_path):
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=16, patch_size=8, depth=1, embed_dim=48, num_heads=2)
    with torch.no_grad():
        bb.pos_embed.fill_(float("nan"))
    enc = S2IEncoder("ntu25", S2IConfig(height=16, width=16, persons="first", value_range="sequence"))
    with pytest.raises(ValueError, match="pos_embed"):
        export_encoder(tmp_path / "enc", bb, "vit_tiny_patch16_224", [enc])
    assert not (tmp_path / "enc" / "model.safetensors").exists()
