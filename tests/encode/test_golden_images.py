"""Refactors keep the images: S2I images of real files, byte for byte, against recorded digests."""

import json
import sys
from pathlib import Path

import pytest

from helpers import DATA, data_path

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from make_golden import CASES, digest, image_for  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "golden" / "images.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_image_unchanged(name):
    rel, opts = CASES[name]
    data_path(*Path(rel).parts)
    assert GOLDEN[name]["options"] == opts and GOLDEN[name]["file"] == rel
    assert digest(image_for(DATA, rel, opts)) == GOLDEN[name]["sha256"], f"{name}: S2I image changed"
