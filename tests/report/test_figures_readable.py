"""The report's figures are readable as shown (issue 35 item 8): class names at 9 pt or more in figures that
grow with the class count, t-SNE classes that do not look alike, a labelled contrast-stretched view that
leaves the model's image untouched, and notes without Python or internal names."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
from helpers_report import open_image

from s2i.report import figures
from s2i.report.figures import DPI, LABEL_PT, MAX_WIDTH_IN, class_styles, confusion_png, image_row_png, tsne_png


@pytest.fixture
def drawn(monkeypatch) -> list[Any]:
    """The matplotlib figures the report functions draw, kept (and still saved) for inspection."""
    kept: list[Any] = []
    save = figures._save

    def keep(fig, path):
        kept.append(fig)
        return save(fig, path)

    monkeypatch.setattr(figures, "_save", keep)
    return kept


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> CIE Lab (D65): distances in it follow what the eye sees."""
    c = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def test_confusion_labels_are_9_pt_and_the_figure_grows_with_the_classes(drawn, tmp_path):
    sizes = []
    for k in (5, 15, 40, 120):
        names = [f"action number {i}" for i in range(k)]
        png = confusion_png(np.eye(k, dtype=int) * 3 + 1, names, tmp_path / f"c{k}.png", "confusion")
        fig = drawn[-1]
        ax = fig.axes[0]
        xt, yt = ax.get_xticklabels(), ax.get_yticklabels()
        assert xt and yt and all(t.get_fontsize() >= LABEL_PT >= 9 for t in [*xt, *yt])
        assert all(t.get_rotation() > 0 for t in xt)  # long names are turned, not overlapped
        assert len(yt) >= min(k, 60)  # every class named up to 60, every n-th beyond
        width = open_image(png.read_bytes()).width
        assert width <= MAX_WIDTH_IN * DPI  # shown unscaled in the page, so 9 pt stays 12.5 px
        sizes.append(fig.get_size_inches()[1])
    assert sizes == sorted(sizes) and sizes[2] > 1.5 * sizes[0]


def test_fifteen_tsne_classes_get_colours_that_do_not_look_alike(drawn, tmp_path):
    styles = class_styles(15)
    lab = _lab(np.array([c[:3] for c, _ in styles]))
    closest = min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(lab, 2))
    assert len({c for c, _ in styles}) == 15 and closest > 25  # tab20 has pairs 17 apart (light blue, light grey)
    assert len(set(class_styles(60))) == 60  # beyond 20 colours the marker shapes keep classes apart
    labels = np.arange(45) % 15
    names = [f"class {i}" for i in range(15)]
    tsne_png([("a", np.random.default_rng(0).normal(size=(45, 2)))], labels, names, tmp_path / "t.png")
    legend = drawn[-1].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names
    assert all(t.get_fontsize() >= 9 for t in legend.get_texts())


def test_the_stretched_view_is_labelled_and_the_model_image_is_drawn_as_is(drawn, tmp_path):
    rng = np.random.default_rng(0)
    flat = (0.5 + 0.03 * rng.random((3, 40, 32))).astype(np.float32)  # a nearly one-colour joint image
    hidden = np.zeros((40, 32), bool)
    hidden[:8, :8] = True
    image_row_png([flat, flat], ["joint stream", "masked"], tmp_path / "s.png", persons=1, stretched="each",
                  keep=[None, hidden])
    top, bottom = drawn[-1].axes[:2], drawn[-1].axes[2:]
    assert np.array_equal(top[0].images[0].get_array(), figures.to_rgb(flat))  # what the model sees
    assert top[0].get_title() == "joint stream"
    shown = np.asarray(bottom[0].images[0].get_array())
    assert bottom[0].get_title() == "↑ stretched for display"
    assert re.fullmatch(r"R \.5\d–\.5\d G \.5\d–\.5\d B \.5\d–\.5\d", bottom[0].get_xlabel())  # the range it spread
    assert shown.min() == 0.0 and shown.max() == 1.0  # spread over the full colour range
    kept = np.asarray(bottom[1].images[0].get_array())
    assert np.array_equal(kept[:8, :8], figures.to_rgb(flat)[:8, :8]) and not np.array_equal(kept, figures.to_rgb(flat))


FORBIDDEN = ("write_report", "two_format_pairs", "norm_pix_loss", "validation carve", "proximal", "optimizer step",
             "layout raw", "value_range")


def test_notes_and_captions_use_the_users_words(report):
    text = report.read_text()
    visible = re.sub(r"<details>.*?</details>", "", text, flags=re.S)  # config and JSON blocks are verbatim
    visible = re.sub(r'src="data:[^"]*"', "", visible)
    assert [w for w in FORBIDDEN if w in visible] == []
    assert "The model sees the first row." in visible and "exactly as the model sees them" in visible
