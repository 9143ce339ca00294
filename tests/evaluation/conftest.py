"""Fixtures shared by the evaluation tests."""

from __future__ import annotations

import pytest

from s2i.encode import S2IConfig
from s2i.evaluation.baseline import export_random_encoder
from s2i.testing.actions import write_limb_action_store

from helpers import TINY_VIT


@pytest.fixture(scope="module")
def limb_actions(tmp_path_factory):
    """(folder, store, encoder): the separable limb-action store (4 classes, 48 train / 24 test) and a
    random-init tiny ViT exported for it, one per test module."""
    root = tmp_path_factory.mktemp("limb_actions")
    store = write_limb_action_store(root / "store")
    enc = export_random_encoder(root / "enc", [store], S2IConfig(height=32, width=32, persons="first"),
                                patch_size=8, backbone_kwargs=TINY_VIT, seed=0)
    return root, store, enc
