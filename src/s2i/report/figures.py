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

__all__ = ["band_rows", "confusion_png", "curves_png", "image_row_png", "literal", "per_class_png", "tsne_png"]

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


def image_row_png(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, persons: int,
                  bands: bool = True, panel: tuple[float, float] = (1.7, 2.4), time_axis: bool = False) -> Path:
    """Several S2I images side by side (band names on the first, person names on the last), e.g. the four
    streams of a sequence or original / masked / reconstruction."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(images), figsize=(panel[0] * len(images) + 0.7, panel[1]), squeeze=False)
    for k, (ax, img, title) in enumerate(zip(axes[0], images, titles)):
        rgb = to_rgb(img)
        h, w = rgb.shape[:2]
        ax.imshow(rgb, interpolation="nearest", aspect="auto", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        if bands:
            _draw_bands(ax, h, persons, label=k == 0, persons_label=k == len(images) - 1)
        else:
            ax.set_yticks([])
        if time_axis:
            ax.set_xlabel("time (columns) →", fontsize=7)
            ax.tick_params(axis="x", labelsize=6)
        else:
            ax.set_xticks([])
        ax.set_title(literal(title), fontsize=8)
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


def _class_ticks(ax: Any, names: Sequence[str], axis: str) -> None:
    k = len(names)
    step = max(1, int(np.ceil(k / 30)))
    ticks = list(range(0, k, step))
    labels = [literal(names[i][:18]) for i in ticks]
    if axis == "x":
        ax.set_xticks(ticks)
        short = k <= 12 and max(len(s) for s in labels) <= 6
        ax.set_xticklabels(labels, rotation=0 if short else 90, fontsize=6)
    else:
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=6)


def confusion_png(matrix: Sequence[Sequence[int]], names: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows = true class), with counts written in small matrices."""
    plt = _plt()
    cm = np.asarray(matrix, dtype=np.float64)
    k = cm.shape[0]
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    side = float(np.clip(2.2 + 0.09 * k, 3.2, 7.5))
    fig, ax = plt.subplots(figsize=(side + 0.9, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.6 else "black")
    _class_ticks(ax, names, "x")
    _class_ticks(ax, names, "y")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(literal(title), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    return _save(fig, path)


def per_class_png(acc: Sequence[float | None], names: Sequence[str], path: Path, title: str, top1: float) -> Path:
    """Horizontal bars of per-class top-1 (%); classes absent from the test set are marked n/a."""
    plt = _plt()
    k = len(acc)
    fig, ax = plt.subplots(figsize=(4.6, float(np.clip(0.8 + 0.16 * k, 2.4, 14))))
    vals = [a if a is not None else 0.0 for a in acc]
    colors = ["#4c72b0" if a is not None else "#cccccc" for a in acc]
    ax.barh(range(k), vals, color=colors)
    ax.axvline(top1, color="#c44e52", ls="--", lw=1)
    ax.set_yticks(range(k))
    ax.set_yticklabels([literal(n[:24]) + ("" if a is not None else " (n/a)") for n, a in zip(names, acc)],
                       fontsize=6 if k > 20 else 7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("top-1 accuracy (%)")
    ax.set_title(f"{literal(title)}\ndashed: overall top-1 {top1:.1f} %", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def tsne_png(panels: Sequence[tuple[str, np.ndarray]], labels: np.ndarray, names: Sequence[str], path: Path) -> Path:
    """t-SNE maps (one panel per (title, 2D points)) coloured by class."""
    plt = _plt()
    k = max(len(names), int(labels.max()) + 1 if len(labels) else 0)
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20" if k <= 20 else "turbo", k)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels) + (1.6 if k <= 20 else 0.8), 3.8),
                             squeeze=False)
    for ax, (title, pts) in zip(axes[0], panels):
        size = 28 if len(pts) <= 200 else 10 if len(pts) <= 1000 else 4
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=size, lw=0)
        ax.set_title(literal(title), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if k <= 20:
        handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(i), label=literal(names[i][:20]) if i < len(names)
                              else str(i)) for i in range(k)]
        axes[0][-1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        fig.colorbar(sc, ax=axes[0].tolist(), label="class")
    fig.tight_layout()
    return _save(fig, path)
