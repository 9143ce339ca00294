"""Config files: one ``_base_`` merged underneath (sections key by key), never a chain; errors name the file."""

from __future__ import annotations

import pytest

from s2i.config_files import ConfigError, merge_trees, read_config_tree
from s2i.training.config import load_config


def test_a_base_supplies_values_and_the_file_overrides_key_by_key(tmp_path):
    (tmp_path / "base.yaml").write_text("seed: 3\nmodel: {patch_size: 8, mask_ratio: 0.75}\ndata: {stores: [a, b]}\n")
    (tmp_path / "run.yaml").write_text("_base_: base.yaml\nmodel: {mask_ratio: 0.9}\ndata: {stores: [c]}\n")
    tree, source = read_config_tree(tmp_path / "run.yaml")
    assert tree == {"seed": 3, "model": {"patch_size": 8, "mask_ratio": 0.9}, "data": {"stores": ["c"]}}
    assert source == str(tmp_path / "run.yaml") and "_base_" not in tree


def test_merge_replaces_lists_and_keeps_the_base_untouched():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 0}
    out = merge_trees(base, {"a": {"c": [3]}, "e": 5})
    assert out == {"a": {"b": 1, "c": [3]}, "d": 0, "e": 5} and base == {"a": {"b": 1, "c": [1, 2]}, "d": 0}


def test_one_level_of_bases_only_and_errors_name_the_file(tmp_path):
    (tmp_path / "root.yaml").write_text("seed: 1\n")
    (tmp_path / "mid.yaml").write_text("_base_: root.yaml\n")
    (tmp_path / "leaf.yaml").write_text("_base_: mid.yaml\n")
    with pytest.raises(ConfigError, match="one level of bases only"):
        read_config_tree(tmp_path / "leaf.yaml")
    (tmp_path / "bad.yaml").write_text("_base_: [x]\n")
    with pytest.raises(ConfigError, match="bad.yaml: _base_ must be the path"):
        read_config_tree(tmp_path / "bad.yaml")
    (tmp_path / "gone.yaml").write_text("_base_: nowhere.yaml\n")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        read_config_tree(tmp_path / "gone.yaml")


def test_the_paper_configs_differ_from_their_base_by_the_split_only():
    a, b = load_config("configs/ntu60_xsub.yaml"), load_config("configs/ntu120_xset.yaml")
    assert (a.data.split, b.data.split) == ("xsub", "xset")
    assert a.model_copy(update={"data": a.data.model_copy(update={"split": "xset"})}) == b
    assert a.optim.epochs == 400 and a.model.backbone == "vit_base_patch16_224"
