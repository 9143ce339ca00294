"""The README's Python example runs as written, and gives the shapes its comments promise."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from s2i.encode import S2IConfig, S2IEncoder
from s2i.models import create_backbone, export_encoder
from s2i.testing.actions import write_limb_action_store

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    m = re.search(r"## Use a trained encoder from Python\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert m, "README lost its 'Use a trained encoder from Python' example"
    return m.group(1)


def test_readme_feature_example_runs(tmp_path, monkeypatch, capsys):
    # what `s2i demo` leaves: s2i-demo/store and s2i-demo/pretrain/encoder (a 64 x 64, patch-8 ViT-Tiny)
    store = write_limb_action_store(tmp_path / "s2i-demo" / "store", classes=4, train_per_class=3, test_per_class=2)
    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=64, patch_size=8, depth=1)
    enc = S2IEncoder(store.format_spec, S2IConfig(height=64, width=64, persons="first"),
                     range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    export_encoder(tmp_path / "s2i-demo" / "pretrain" / "encoder", bb, "vit_tiny_patch16_224", [enc],
                   backbone_kwargs={"depth": 1})
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_example(), "README.md", "exec"), scope)
    # the shapes the example's comments state
    assert scope["vectors"].shape == (8, 192)
    assert scope["tokens"].shape == (8, 64, 192)
    assert scope["seen"].shape == (2, 3, 64, 64)
    assert scope["images"].shape == (2, 3, 224, 224)
    assert scope["images"].min() >= 0.0 and scope["images"].max() <= 1.0
    assert "SkeletonFeatureExtractor(vit_tiny_patch16_224" in capsys.readouterr().out


def test_readme_results_table_is_what_its_command_prints(capsys):
    """The README's headline table is generated: `s2i results --readme docs/results` from the committed result
    files. Editing a number in the README, or a result file without regenerating the README, fails here."""
    from s2i.cli import main

    m = re.search(r"<!-- results-table: s2i results --readme (\S+) -->\n(.*?)<!-- /results-table -->",
                  README.read_text(), re.S)
    assert m, "README lost its generated results table (the results-table markers)"
    assert main(["results", "--readme", str(README.parent / m.group(1))]) == 0
    assert m.group(2) == capsys.readouterr().out, "README's results table is stale: paste the command's output"
