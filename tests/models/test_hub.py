"""Encoders travel the way vision models do (issue 35): an exported encoder is a Hugging Face Hub-style folder
(config.json, model.safetensors, a README.md model card); ``s2i.load_encoder("hf-hub:ORG/NAME")`` reads one from
the Hub's local cache offline; ``push_to_hub`` uploads one through the hub client; old exports still load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import create_backbone, export_encoder, load_exported, write_model_card
from s2i.models.hub import push_to_hub
from s2i.testing.synthetic import synthetic_ntu

SRC = Path(__file__).resolve().parents[2] / "src"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def exported(tmp_path):
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=(32, 32), patch_size=8, depth=1, embed_dim=48,
                            num_heads=2)
    enc = S2IEncoder("ntu25", S2IConfig(height=32, width=32), range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    info = {"run": "runs/x", "step": 7, "final_loss": 0.25, "init": {"source": "random"},
            "stores": [{"path": "stores/ntu60", "format": "ntu25", "split": "xsub", "items": 40091,
                        "content_hash": "sha256:abc"}]}
    return export_encoder(tmp_path / "enc", bb, "vit_tiny_patch16_224", [enc],
                          backbone_kwargs={"depth": 1, "embed_dim": 48, "num_heads": 2}, info=info)


def features(model) -> torch.Tensor:
    joints = torch.from_numpy(synthetic_ntu(2, 30, 1, seed=3)).float()
    with torch.no_grad():
        return model.features(joints, "ntu25")


def test_card_names_data_config_protocol_and_results(exported, tmp_path):
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: s2i\n")
    for text in ("## Data", "stores/ntu60", "40091", "sha256:abc", "## Config", "vit_tiny_patch16_224",
                 "32 x 32 images", "S2I encoder for `ntu25` (25 joints)", "## Pretraining protocol",
                 "7 optimizer steps, final loss 0.2500", "## Results", "No evaluation results yet"):
        assert text in card, text
    result = {"protocol": "linear", "dataset": "ntu60", "split": "xsub", "stream": "joint", "init": "pretrained",
              "top1": 81.234, "top5": 96.5, "num_test_samples": 16487, "top1_seeds": {"mean": 81.2, "std": 0.4, "n": 3}}
    write_model_card(exported, [result], "org/s2i-tiny")
    card = (exported / "README.md").read_text()
    assert "| linear | ntu60 | xsub | joint | pretrained | 81.2 ± 0.4 (3 seeds) | 96.5 | 16487 |" in card
    assert 's2i.load_encoder("hf-hub:org/s2i-tiny")' in card and "No evaluation results yet" not in card


def test_old_layout_still_loads(exported, tmp_path):
    new = load_exported(exported)
    old = tmp_path / "old_run" / "encoder"
    old.mkdir(parents=True)
    meta = json.loads((exported / "config.json").read_text())
    for key in ("architecture", "num_classes", "num_features", "model_args", "pretrained_cfg"):
        meta.pop(key)  # what an export written before the Hub layout holds
    (old / "encoder.json").write_text(json.dumps(meta))
    shutil.copy(exported / "model.safetensors", old / "encoder.safetensors")
    for path in (old, old.parent, old / "encoder.json"):  # the folder, the run folder, a file in it
        assert torch.equal(features(load_exported(path)), features(new))


def hub_cache(home: Path, repo: str, folder: Path) -> Path:
    """A Hugging Face cache as the hub client writes it: blobs named by their hash, a snapshot of symlinks,
    refs/main naming the commit."""
    root = home / "hub" / f"models--{repo.replace('/', '--')}"
    (root / "blobs").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(COMMIT)
    snap = root / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    for f in sorted(folder.iterdir()):
        data = f.read_bytes()
        if f.suffix == ".safetensors":  # an LFS file: its etag is the sha256
            etag = hashlib.sha256(data).hexdigest()
        else:  # a git file: its etag is the git blob sha1
            etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        (root / "blobs" / etag).write_bytes(data)
        (snap / f.name).symlink_to(Path("..") / ".." / "blobs" / etag)
    return snap


LOAD = """
import sys, torch, s2i
from s2i.testing.synthetic import synthetic_ntu
m = s2i.load_encoder(sys.argv[1], device="cpu")
x = torch.from_numpy(synthetic_ntu(2, 30, 1, seed=3)).float()
with torch.no_grad():
    f = m.model.features(x, "ntu25")
torch.save(f, sys.argv[2])
import timm  # timm reads the same folder: config.json's architecture, model_args and pretrained_cfg
b = timm.create_model(sys.argv[1], pretrained=True).eval()
with torch.no_grad():
    torch.save(b(torch.linspace(0, 1, 2 * 3 * 32 * 32).view(2, 3, 32, 32)), sys.argv[2] + ".timm")
print(m.model.meta["info"]["step"])
"""


def test_hf_hub_name_loads_offline_from_the_hub_cache(exported, tmp_path):
    home = tmp_path / "hf"
    hub_cache(home, "org/s2i-tiny", exported)
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_CACHE", None)
    res = subprocess.run([sys.executable, "-c", LOAD, "hf-hub:org/s2i-tiny", str(tmp_path / "f.pt")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "7"
    local = load_exported(exported)
    assert torch.equal(torch.load(tmp_path / "f.pt", weights_only=True), features(local))
    with torch.no_grad():
        direct = local.backbone(torch.linspace(0, 1, 2 * 3 * 32 * 32).view(2, 3, 32, 32))
    assert torch.equal(torch.load(tmp_path / "f.pt.timm", weights_only=True), direct)
    res = subprocess.run([sys.executable, "-c", LOAD, "hf-hub:org/not-cached", str(tmp_path / "g.pt")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0 and "hf-hub:org/not-cached: not in the local Hugging Face cache" in res.stderr


def test_push_uploads_the_folder_through_the_hub_client(exported, monkeypatch, tmp_path):
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls.append(("create_repo", repo_id, private, exist_ok))

        def upload_folder(self, folder_path, repo_id, allow_patterns, commit_message):
            calls.append(("upload_folder", folder_path, repo_id, sorted(allow_patterns), commit_message))
            card = (Path(folder_path) / "README.md").read_text()
            calls.append(("card", 'load_encoder("hf-hub:org/s2i-tiny")' in card, "| knn |" in card))
            return type("CommitInfo", (), {"commit_url": "https://huggingface.co/org/s2i-tiny/commit/1"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    res = tmp_path / "results.json"
    res.write_text(json.dumps({"protocol": "knn", "dataset": "ntu60", "split": "xsub", "stream": "joint",
                               "init": "pretrained", "top1": 70.0, "top5": 90.0, "num_test_samples": 10}))
    url = push_to_hub(exported, "org/s2i-tiny", results=[res], private=True, token="t")
    assert url == "https://huggingface.co/org/s2i-tiny/commit/1"
    assert calls[0] == ("init", "t") and calls[1] == ("create_repo", "org/s2i-tiny", True, True)
    assert calls[2][:3] == ("upload_folder", str(exported), "org/s2i-tiny")
    assert {"config.json", "model.safetensors", "README.md"} <= set(calls[2][3])
    assert calls[3] == ("card", True, True)
    with pytest.raises(ValueError, match="expected hf-hub:ORG/NAME"):
        push_to_hub(exported, "just-a-name")
