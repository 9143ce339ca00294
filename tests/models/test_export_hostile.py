"""A damaged or hostile exported encoder (config.json, model.safetensors) gives one line naming the
user's file, before any model is built: no traceback, no allocation of tens of GB (issue 34, items 14, 15)."""

from __future__ import annotations

import json

import pytest
import torch

import s2i.evaluation.features as features
import s2i.models.export as export
from s2i.cli import main
from s2i.embedding import load_encoder
from s2i.encode import S2IConfig, S2IEncoder
from s2i.evaluation.features import load_checkpoint
from s2i.models import create_backbone, export_encoder, load_exported
from s2i.testing.actions import write_limb_action_store


@pytest.fixture()
def enc(tmp_path):
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=(32, 32), patch_size=8, depth=1)
    e = S2IEncoder("ntu25", S2IConfig(height=32, width=32), range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    return export_encoder(tmp_path / "enc", bb, "vit_tiny_patch16_224", [e], backbone_kwargs={"depth": 1})


def _edit(folder, **changes):
    meta = json.loads((folder / "config.json").read_text())
    for k, v in changes.items():
        if k == "height":
            meta["formats"]["ntu25"]["config"]["height"] = v
        elif v is None:
            meta.pop(k)
        else:
            meta[k] = v
    (folder / "config.json").write_text(json.dumps(meta))


@pytest.fixture()
def no_build(monkeypatch):
    """Building a real model is a test failure: the description must be refused before that."""
    def refuse(*a, **kw):
        raise AssertionError(f"a model was built before the description was checked: {a} {kw}")
    monkeypatch.setattr(export, "create_backbone", refuse)
    monkeypatch.setattr(features, "create_backbone", refuse)


@pytest.mark.parametrize(("change", "match"), [
    ({"img_size": [80000, 80000]}, "img_size"),
    ({"backbone_kwargs": {"depth": 100000}}, "depth must be"),
    ({"backbone_kwargs": {"depth": 1, "embed_dim": 8192}}, "parameters, more than|embed_dim"),
    ({"height": 4000}, "makes 4000x32 images"),
    ({"backbone_kwargs": {"depth": 1, "init": "vit_base_patch16_224.mae"}}, "may not be set"),
    ({"backbone": "hf-hub:someone/model"}, "not a timm model name"),
])
def test_absurd_shapes_are_refused_before_any_model_is_built(enc, no_build, change, match):
    """Item 14: limits checked before allocation, for the pretrained and the random-init path."""
    _edit(enc, **change)
    for load in (load_exported, lambda p: load_checkpoint(p, init="random")):
        with pytest.raises(ValueError, match=match) as e:
            load(enc)
        assert str(enc / "config.json") in str(e.value)


def test_a_wrong_embed_dim_is_refused(enc):
    """Item 14: the description's embed_dim must be the architecture's and the weights'."""
    _edit(enc, embed_dim=256)
    with pytest.raises(ValueError, match="embed_dim 256 but"):
        load_encoder(enc)
    _edit(enc, embed_dim=192, backbone_kwargs={"depth": 1, "embed_dim": 96, "num_heads": 3})
    with pytest.raises(ValueError, match="embed_dim 192 but"):
        load_exported(enc)
    _edit(enc, embed_dim=96)  # consistent description, but the weights are 192 wide
    with pytest.raises(ValueError, match=r"model.safetensors: tensor '.*' has shape \[1, 1, 192\]"):
        load_exported(enc)


@pytest.mark.parametrize("damage", ["img_size_text", "no_backbone", "img_size_empty", "weights", "format",
                                    "version"])
def test_malformed_checkpoints_are_one_line_cli_errors_naming_the_file(enc, tmp_path, capsys, damage):
    """Item 15: TypeError, KeyError, IndexError, SafetensorError become `error: PATH: ...`, exit code 2."""
    if damage == "weights":
        (enc / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    elif damage == "format":
        meta = json.loads((enc / "config.json").read_text())
        del meta["formats"]["ntu25"]["format"]
        (enc / "config.json").write_text(json.dumps(meta))
    else:
        _edit(enc, **{"img_size_text": {"img_size": "abc"}, "no_backbone": {"backbone": None},
                      "img_size_empty": {"img_size": []}, "version": {"version": "x"}}[damage])
    store = write_limb_action_store(tmp_path / "store", classes=2, train_per_class=2, test_per_class=1)
    rc = main(["eval", "knn", "--checkpoint", str(enc), "--data", str(store.path), "--out", str(tmp_path / "o"),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"error: {enc}") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_a_saved_classifier_is_checked_before_its_head_is_built(enc):
    """A fine-tuned classifier's classifier.json: the class count is limited and the head's weights must fit."""
    from safetensors.torch import save_file

    from s2i.evaluation import load_finetuned

    save_file({"weight": torch.zeros(4, 192), "bias": torch.zeros(4)}, str(enc / "head.safetensors"))
    desc = {"kind": "s2i-finetuned-classifier", "version": 1, "num_classes": 200_000, "pooling": "mean",
            "format": "ntu25"}
    (enc / "classifier.json").write_text(json.dumps(desc))
    with pytest.raises(ValueError, match=r"classifier.json: num_classes must be 1 to 100000"):
        load_finetuned(enc)
    (enc / "classifier.json").write_text(json.dumps({**desc, "num_classes": 3}))
    with pytest.raises(ValueError, match=r"head.safetensors: tensor 'weight' has shape \[4, 192\]"):
        load_finetuned(enc)
    (enc / "classifier.json").write_text(json.dumps({**desc, "num_classes": 4}))
    assert load_finetuned(enc).module.num_classes == 4
