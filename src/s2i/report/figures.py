"""The report's plots (matplotlib, Agg): labelled S2I images, curves, confusion matrices, per-class bars, t-SNE.

Each function writes one PNG and returns its path; figures are small (they are embedded in the page).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..encode import band_sizes
from ..formats import PART_NAMES
from .animate import PART_COLORS, PART_LABELS

__all__ = ["band_rows", "class_styles", "confusion_png", "curves_png", "image_row_png", "literal", "per_class_png",
           "stretch", "stretch_range", "tsne_png"]

DPI = 100


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def literal(text: object) -> str:
    """``text`` drawn as written: a ``$`` (class names, run names) would start matplotlib mathtext, where
    ``^``, ``_`` or an odd ``$`` fail the figure; escaped, mathtext is never entered."""
    return str(text).replace("$", r"\$")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    _plt().close(fig)
    return path


def band_rows(height: int, persons: int) -> list[tuple[int, int, int, str]]:
    """(first row, end row, person, part) of every body-part band of an S2I image (encode.layout)."""
    out = []
    start = 0
    for p, block in enumerate(band_sizes(height, persons)):
        for part, rows in zip(PART_NAMES, band_sizes(block, len(PART_NAMES))):
            out.append((start, start + rows, p, part))
            start += rows
    return out


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) for imshow."""
    return np.clip(np.asarray(image, dtype=np.float32).transpose(1, 2, 0), 0.0, 1.0)


def _draw_bands(ax: Any, height: int, persons: int, label: bool, persons_label: bool = True) -> None:
    bands = band_rows(height, persons)
    for start, _, _, part in bands:
        if start:
            first = part == PART_NAMES[0]
            ax.axhline(start - 0.5, color="white", lw=2.2 if first else 0.8, ls="-" if first else "--", alpha=0.9)
    if not label:
        ax.set_yticks([])
    else:
        _band_names(ax, bands, persons)
    if persons > 1 and persons_label:
        _person_names(ax, height, persons)


def _band_names(ax: Any, bands: list[tuple[int, int, int, str]], persons: int) -> None:
    ax.set_yticks([(a + b - 1) / 2 for a, b, _, _ in bands])
    prefix = persons > 1
    ax.set_yticklabels([f"P{p + 1} {PART_LABELS[part]}" if prefix else PART_LABELS[part] for _, _, p, part in bands],
                       fontsize=7)
    for tick, (_, _, _, part) in zip(ax.get_yticklabels(), bands):
        tick.set_color(PART_COLORS[part])
        tick.set_fontweight("bold")


def _person_names(ax: Any, height: int, persons: int) -> None:
    sec = ax.secondary_yaxis("right")
    blocks = band_sizes(height, persons)
    starts = np.cumsum([0, *blocks[:-1]])
    sec.set_yticks([s + b / 2 - 0.5 for s, b in zip(starts, blocks)])
    sec.set_yticklabels([f"person {p + 1}" for p in range(persons)], rotation=90, va="center", fontsize=7)
    sec.tick_params(length=0)


def stretch_range(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (lo, hi) of a (3, H, W) image: its ``low`` and ``high`` percentiles (a channel with one
    value gets a range of 1e-3 around it)."""
    flat = np.asarray(image, dtype=np.float64).reshape(image.shape[0], -1)
    lo, hi = np.percentile(flat, low, axis=1), np.percentile(flat, high, axis=1)
    flat_ch = hi - lo < 1e-3
    return np.where(flat_ch, lo - 5e-4, lo), np.where(flat_ch, lo + 5e-4, hi)


def stretch(image: np.ndarray, rng: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``image`` with each channel's (lo, hi) mapped to (0, 1), clipped: a display of small differences."""
    lo, hi = rng
    return np.clip((np.asarray(image, dtype=np.float64) - lo[:, None, None]) / (hi - lo)[:, None, None], 0, 1)


def _range_text(rng: tuple[np.ndarray, np.ndarray]) -> str:
    def short(v: float) -> str:
        return f"{v:.2f}".replace("0.", ".", 1) if 0 <= v < 1 else f"{v:.1f}"

    return " ".join(f"{c} {short(a)}–{short(b)}" for c, a, b in zip("RGB", rng[0], rng[1]))


def image_row_png(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, persons: int,
                  bands: bool = True, panel: tuple[float, float] = (1.7, 2.4), time_axis: bool = False,
                  stretched: str | None = None, keep: Sequence[np.ndarray | None] | None = None) -> Path:
    """Several S2I images side by side (band names on the first, person names on the last), e.g. the four
    streams of a sequence or original / masked / reconstruction.

    ``stretched``: also draw, in a second row, the same images contrast-stretched for display, each channel's
    1st-99th percentile mapped to 0-1 ("each": every image its own range; "first": all images the first
    one's, so they stay comparable). Each stretched panel is titled so and names the range it stretched.
    ``keep``: per image, an (H, W) boolean mask of pixels drawn unstretched there too (the grey of hidden
    MAE patches stays grey).
    """
    plt = _plt()
    n_rows = 1 if stretched is None else 2
    fig, axes = plt.subplots(n_rows, len(images), squeeze=False,
                             figsize=(panel[0] * len(images) + 0.7, panel[1] * n_rows + 0.35 * (n_rows - 1)))
    Panel = tuple[np.ndarray, str, str | None]  # image, title, the note under it (the stretched range)
    rows: list[list[Panel]] = [[(img, title, None) for img, title in zip(images, titles)]]
    if stretched is not None:
        first = stretch_range(images[0])
        stretched_row: list[Panel] = []
        for j, img in enumerate(images):
            rng = first if stretched == "first" else stretch_range(img)
            shown = stretch(img, rng)
            mask = keep[j] if keep is not None else None
            if mask is not None:
                shown = np.where(np.asarray(mask, dtype=bool)[None], img, shown)
            stretched_row.append((shown, "↑ stretched for display", _range_text(rng)))
        rows.append(stretched_row)
    for r, row in enumerate(rows):
        for k, (ax, (img, title, note)) in enumerate(zip(axes[r], row)):
            rgb = to_rgb(img)
            h, w = rgb.shape[:2]
            ax.imshow(rgb, interpolation="nearest", aspect="auto", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
            if bands:
                _draw_bands(ax, h, persons, label=k == 0, persons_label=k == len(images) - 1)
            else:
                ax.set_yticks([])
            if note is not None:
                ax.set_xticks([])
                ax.set_xlabel(note, fontsize=6.5)
            elif time_axis:
                ax.set_xlabel("time (columns) →", fontsize=7)
                ax.tick_params(axis="x", labelsize=6)
            else:
                ax.set_xticks([])
            ax.set_title(literal(title), fontsize=8, color="#8a4b00" if note is not None else "black")
    fig.tight_layout(pad=0.4)
    return _save(fig, path)


def curves_png(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], path: Path, xlabel: str,
               ylabel: str, title: str, legend: bool = False) -> Path:
    """Line plot of (label, x, y) series (integer x ticks, no offset notation on y)."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    for label, xs, ys in series:
        ax.plot(list(xs), list(ys), label=literal(label), marker="o" if len(xs) < 30 else None, ms=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(literal(title), fontsize=9)
    ax.grid(alpha=0.3)
    if legend or len(series) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


#: the smallest text of the class figures, in points: at DPI 100 and shown at its own pixel size (the page
#: shows a figure unscaled up to MAX_WIDTH_IN) it is 12.5 px tall, readable without zooming
LABEL_PT = 9
#: the widest a figure may be drawn (inches at DPI) and still be shown unscaled in the page's 1240 px column
MAX_WIDTH_IN = 12.0
#: inches per class row of a confusion matrix / per-class bar chart: one LABEL_PT line and a little air
ROW_IN = 0.19
#: at most this many class names on an axis; with more classes every n-th is named
MAX_LABELS = 60


def _class_ticks(ax: Any, names: Sequence[str], axis: str) -> None:
    k = len(names)
    step = max(1, int(np.ceil(k / MAX_LABELS)))
    ticks = list(range(0, k, step))
    labels = [literal(names[i][:18]) for i in ticks]
    if axis == "x":
        ax.set_xticks(ticks)
        short = k <= 12 and max(len(s) for s in labels) <= 6
        ax.set_xticklabels(labels, rotation=0 if short else 60, ha="center" if short else "right",
                           rotation_mode="anchor", fontsize=LABEL_PT)
    else:
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=LABEL_PT)


def confusion_png(matrix: Sequence[Sequence[int]], names: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows = true class), with counts written in small matrices. The
    figure grows with the class count (one LABEL_PT row per class, up to MAX_LABELS named classes)."""
    plt = _plt()
    cm = np.asarray(matrix, dtype=np.float64)
    k = cm.shape[0]
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    named = min(k, MAX_LABELS)
    counts = k <= 15  # counts are written in the cells: cells wide enough for three digits at LABEL_PT
    side = float(np.clip(max(ROW_IN * named, 0.3 * k if counts else 0.0), 2.4, MAX_WIDTH_IN - 3.2))
    label_in = 0.09 * min(18, max((len(n) for n in names), default=1))  # room for the names at LABEL_PT
    fig, ax = plt.subplots(figsize=(side + label_in + 1.6, side + label_in * 0.9 + 1.0))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    if counts:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=LABEL_PT,
                            color="white" if norm[i, j] > 0.6 else "black")
    _class_ticks(ax, names, "x")
    _class_ticks(ax, names, "y")
    ax.set_xlabel("predicted class", fontsize=LABEL_PT + 1)
    ax.set_ylabel("true class", fontsize=LABEL_PT + 1)
    ax.set_title(literal(title), fontsize=LABEL_PT + 1)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label("fraction of the true class", fontsize=LABEL_PT)
    cb.ax.tick_params(labelsize=LABEL_PT)
    fig.tight_layout()
    return _save(fig, path)


def per_class_png(acc: Sequence[float | None], names: Sequence[str], path: Path, title: str, top1: float) -> Path:
    """Horizontal bars of per-class top-1 (%); classes absent from the test set are marked n/a."""
    plt = _plt()
    k = len(acc)
    fig, ax = plt.subplots(figsize=(5.2, float(np.clip(1.2 + ROW_IN * k, 2.6, 30))))
    vals = [a if a is not None else 0.0 for a in acc]
    colors = ["#4c72b0" if a is not None else "#cccccc" for a in acc]
    ax.barh(range(k), vals, color=colors)
    ax.axvline(top1, color="#c44e52", ls="--", lw=1)
    ax.set_yticks(range(k))
    ax.set_yticklabels([literal(n[:24]) + ("" if a is not None else " (n/a)") for n, a in zip(names, acc)],
                       fontsize=LABEL_PT)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("top-1 accuracy (%)", fontsize=LABEL_PT + 1)
    ax.tick_params(axis="x", labelsize=LABEL_PT)
    ax.set_title(f"{literal(title)}\ndashed: overall top-1 {top1:.1f} %", fontsize=LABEL_PT + 1)
    fig.tight_layout()
    return _save(fig, path)


#: the markers of the t-SNE, one per group of 10 classes: classes 0-9 circles, 10-19 triangles, ...
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


#: ten colours after tab10's for classes 10-19: each one at least 36 CIE76 units from tab10 and from each other
#: (picked greedily by that distance from a grid of mid-light colours), so no two of 20 classes look alike
EXTRA_COLORS = ("#0000ff", "#ff15ff", "#4015aa", "#00552a", "#ff0080", "#eaaa6a", "#95d495", "#800055", "#6a6a00",
                "#0080ff")


def class_styles(k: int) -> list[tuple[tuple[float, float, float, float], str]]:
    """(colour, marker) of each of ``k`` classes, all different up to 160 classes: classes 0-9 the tab10
    colours, 10-19 EXTRA_COLORS, then these 20 again; the marker changes every 10 classes (circles,
    triangles, squares, ...), so classes 20 apart share a colour but not a shape."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    palette = [colormaps["tab10"](i) for i in range(10)] + [to_rgba(c) for c in EXTRA_COLORS]
    return [(palette[i % 20], MARKERS[(i // 10) % len(MARKERS)]) for i in range(k)]


def tsne_png(panels: Sequence[tuple[str, np.ndarray]], labels: np.ndarray, names: Sequence[str], path: Path) -> Path:
    """t-SNE maps (one panel per (title, 2D points)) coloured and shaped by class (:func:`class_styles`),
    with a legend naming every class (beside the panels up to 20 classes, below them beyond)."""
    plt = _plt()
    k = max(len(names), int(labels.max()) + 1 if len(labels) else 0)
    styles = class_styles(k)
    below = k > 20
    ncol = 1 if not below else int(min(5, np.ceil(k / 12)))
    rows = int(np.ceil(k / ncol))
    legend_in = 0.0 if not below else 0.2 * rows + 0.3
    fig, axes = plt.subplots(1, len(panels), squeeze=False,
                             figsize=(min(MAX_WIDTH_IN, 4.4 * len(panels) + (2.0 if not below else 0.3)),
                                      4.3 + legend_in))
    for ax, (title, pts) in zip(axes[0], panels):
        size = 34 if len(pts) <= 200 else 14 if len(pts) <= 1000 else 6
        for c, (color, marker) in enumerate(styles):
            sel = labels == c
            if sel.any():
                ax.scatter(pts[sel, 0], pts[sel, 1], color=[color], marker=marker, s=size, lw=0.3,
                           edgecolors="black" if size >= 14 else "none")
        ax.set_title(literal(title), fontsize=LABEL_PT + 1)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker=m, ls="", color=col, markeredgecolor="black", markeredgewidth=0.3, ms=7,
                          label=literal(names[i][:20]) if i < len(names) else str(i))
               for i, (col, m) in enumerate(styles)]
    if not below:
        axes[0][-1].legend(handles=handles, fontsize=LABEL_PT, loc="center left", bbox_to_anchor=(1.01, 0.5),
                           frameon=False, handletextpad=0.3)
        fig.tight_layout()
    else:
        fig.legend(handles=handles, fontsize=LABEL_PT, loc="lower center", ncol=ncol, frameon=False,
                   handletextpad=0.3, columnspacing=1.0)
        fig.tight_layout(rect=(0, legend_in / (4.3 + legend_in), 1, 1))
    return _save(fig, path)
