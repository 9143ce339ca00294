"""--init from local files: a timm state dict, the official MAE .pth layout (``model`` key) and safetensors
load with identical tensors; another image size resamples the position embeddings; hub names fail
offline with advice."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from s2i.models import create_backbone, is_weights_file

NAME, KW = "vit_tiny_patch16_224", {"patch_size": 8, "depth": 2}


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    model, report = create_backbone(NAME, img_size=32, **KW)
    assert report.source == "random"
    return model.state_dict()


def _save(kind: str, sd: dict, folder):
    if kind == "timm":
        path = folder / "vit.pth"
        torch.save(sd, path)
    elif kind == "mae":  # the official MAE checkpoint: {"model": encoder (+ decoder) weights, ...}
        path = folder / "mae_pretrain.pth"
        extra = {"mask_token": torch.zeros(1, 1, 64), "decoder_embed.weight": torch.zeros(64, 192)}
        torch.save({"model": {**sd, **extra}, "epoch": 799}, path)
    else:
        path = folder / "vit.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path


@pytest.mark.parametrize("kind", ["timm", "mae", "safetensors"])
def test_each_file_layout_loads_identical_tensors(kind, source, tmp_path):
    path = _save(kind, source, tmp_path)
    model, report = create_backbone(NAME, img_size=32, init=path, **KW)
    loaded = model.state_dict()
    assert loaded.keys() == source.keys()
    for k, v in source.items():
        assert torch.equal(loaded[k], v), k
    assert report.source == "file" and report.loaded == len(source) and report.missing == []
    if kind == "mae":
        assert report.unexpected == ["decoder_embed.weight"]  # the filter drops mask_token; the rest is reported
    else:
        assert report.unexpected == []


@pytest.mark.parametrize("kind", ["timm", "mae", "safetensors"])
def test_other_image_size_resamples_position_embeddings(kind, source, tmp_path):
    from timm.layers import resample_abs_pos_embed

    path = _save(kind, source, tmp_path)
    model, report = create_backbone(NAME, img_size=(48, 64), init=path, **KW)
    sd = model.state_dict()
    assert sd["pos_embed"].shape == (1, 1 + 6 * 8, 192)
    expected = resample_abs_pos_embed(source["pos_embed"], new_size=(6, 8), old_size=(4, 4), num_prefix_tokens=1)
    torch.testing.assert_close(sd["pos_embed"], expected)
    for k, v in source.items():
        if k != "pos_embed":
            assert torch.equal(sd[k], v), k
    assert report.missing == []


def test_missing_keys_are_reported(source, tmp_path):
    partial = {k: v for k, v in source.items() if not k.startswith("blocks.1.")}
    path = _save("timm", partial, tmp_path)
    from s2i.models import init_report

    model, _ = create_backbone(NAME, img_size=32, **KW)
    report = init_report(model, path)
    assert report.missing and all(k.startswith("blocks.1.") for k in report.missing)
    assert report.loaded == len(partial)


def test_paths_and_hub_names_are_told_apart(tmp_path):
    assert is_weights_file("weights/vit.pth") and is_weights_file("x.safetensors")
    assert not is_weights_file("vit_base_patch16_224.mae")
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        create_backbone(NAME, img_size=32, init=tmp_path / "absent.pth", **KW)


def test_hub_name_offline_says_what_to_do(monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="no network: pass --init PATH"):
        create_backbone(NAME, img_size=32, init="vit_tiny_patch16_224.augreg_in21k", **KW)


@pytest.mark.parametrize("kwargs", [{}, {"class_token": False, "global_pool": "avg"}, {"reg_tokens": 2},
                                    {"no_embed_class": True}, {"no_embed_class": True, "reg_tokens": 1}])
def test_embed_tokens_equals_timms_own_position_embedding(kwargs):
    """embed_tokens (public members only) gives exactly timm's private _pos_embed(patch_embed(x))."""
    import timm

    from s2i.models.backbone import embed_tokens

    torch.manual_seed(0)
    bb = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=32, patch_size=8,
                           depth=1, **kwargs).eval()
    torch.nn.init.normal_(bb.pos_embed, std=0.5)
    for t in (bb.cls_token, bb.reg_token):
        if t is not None:
            torch.nn.init.normal_(t, std=0.5)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(embed_tokens(bb, x), bb._pos_embed(bb.patch_embed(x)), rtol=0, atol=0)
