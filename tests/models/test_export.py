"""Exported encoders: one call loads the backbone and the S2I encoders that make identical features."""

from __future__ import annotations

import json

import pytest
import torch

from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import MAE, create_backbone, export_encoder, load_exported
from s2i.testing.synthetic import synthetic_ntu


@pytest.fixture()
def exported(tmp_path):
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=(32, 48), patch_size=8, depth=2)
    cfg = S2IConfig(height=32, width=48)
    encs = [S2IEncoder("ntu25", cfg, range_lo=(-1, -1, -1), range_hi=(1, 1, 1)),
            S2IEncoder("kinect_v1", cfg, range_lo=(-2, -2, -2), range_hi=(2, 2, 2))]
    out = export_encoder(tmp_path / "enc", bb, "vit_tiny_patch16_224", encs, backbone_kwargs={"depth": 2},
                         info={"step": 7})
    return bb, encs, out


def test_folder_layout_and_description(exported):
    bb, encs, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["backbone"] == "vit_tiny_patch16_224" and meta["img_size"] == [32, 48]
    assert meta["patch_size"] == 8 and meta["embed_dim"] == 192 and meta["backbone_kwargs"] == {"depth": 2}
    assert list(meta["formats"]) == ["ntu25", "kinect_v1"] and meta["info"] == {"step": 7}
    assert meta["formats"]["kinect_v1"]["value_range"] == {"lo": [-2.0] * 3, "hi": [2.0] * 3}
    assert meta["mean"] == list(bb.pretrained_cfg["mean"])


def test_load_exported_gives_identical_weights_images_and_features(exported):
    bb, encs, out = exported
    model = load_exported(out)
    for k, v in bb.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
    x = torch.from_numpy(synthetic_ntu(3, 30, 2, seed=1))
    lengths = torch.tensor([30, 20, 25])
    torch.testing.assert_close(model.encoder("ntu25")(x, lengths), encs[0](x, lengths))
    bb.eval()
    mean, std = torch.tensor(model.meta["mean"]).view(1, 3, 1, 1), torch.tensor(model.meta["std"]).view(1, 3, 1, 1)
    expected = bb.forward_head(bb.forward_features((encs[0](x, lengths) - mean) / std), pre_logits=True)
    torch.testing.assert_close(model.features(x, "ntu25", lengths), expected)
    assert model.features(x, "ntu25", lengths).shape == (3, 192)
    with pytest.raises(ValueError, match="several formats"):
        model.features(x)
    with pytest.raises(ValueError, match="not one this encoder was trained on"):
        model.encoder("coco17")


def test_exported_weights_are_an_init_file(exported):
    bb, _, out = exported
    again, report = create_backbone("vit_tiny_patch16_224", img_size=(32, 48), patch_size=8, depth=2,
                                    init=out / "model.safetensors")
    assert report.missing == [] and report.unexpected == []
    assert all(torch.equal(again.state_dict()[k], v) for k, v in bb.state_dict().items())
    MAE(again, decoder_dim=32, decoder_depth=1, decoder_heads=4)  # and pretraining can continue from it


def test_size_mismatch_is_refused(tmp_path):
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1)
    with pytest.raises(ValueError, match="makes 64x64 images"):
        export_encoder(tmp_path, bb, "vit_tiny_patch16_224", [S2IEncoder("ntu25", S2IConfig(height=64, width=64),
                                                                         value_range="fixed")])
    with pytest.raises(FileNotFoundError, match=f"no such folder: {tmp_path / 'nothing'}"):
        load_exported(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not an exported s2i encoder"):
        load_exported(tmp_path / "empty")
