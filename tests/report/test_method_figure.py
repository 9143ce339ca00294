"""The README's method picture is drawn from the real pybullet humanoid clip, in two formats."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pybullet_data") is None,
                                reason="pybullet is not installed (pip install pybullet: its wheel ships the clips)")


def test_how_s2i_works_draws_both_formats(tmp_path):
    from s2i.report.method_figure import main

    out = tmp_path / "how.png"
    main([str(out), "--clip", "walk"])
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[0] > 300 and img.shape[1] > 1000
    right = img[:, img.shape[1] // 2:]
    assert (right.std(axis=(0, 1)) > 20).all()  # the two S2I images are there, not a blank canvas
