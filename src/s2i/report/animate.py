"""Animated skeletons (small GIFs, drawn with Pillow): bones from the format's parents, coloured by body part.

The skeleton is drawn after the encoder's own normalisation (centred on the main person's centre joint,
3D data view-aligned: hips along x, spine along y; y-down 2D formats flipped), so every format stands
upright the same way. 3D data gets two panels: x-y (x right, y up) and z-y (z right, y up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..encode.normalize import normalize
from ..formats import PART_NAMES, FormatSpec
from ..skeleton import SkeletonSequence

__all__ = ["PART_COLORS", "PART_LABELS", "joint_colors", "normalized_joints", "skeleton_gif"]

#: one colour per body part (image bands and bones use the same), in PART_NAMES order
PART_COLORS: dict[str, str] = {"torso": "#555555", "left_arm": "#1f77b4", "right_arm": "#d62728",
                               "left_leg": "#2ca02c", "right_leg": "#ff7f0e"}
PART_LABELS: dict[str, str] = {"torso": "torso+head", "left_arm": "left arm", "right_arm": "right arm",
                               "left_leg": "left leg", "right_leg": "right leg"}


def joint_colors(spec: FormatSpec) -> list[str]:
    """The colour of each joint: its body part's."""
    out = [PART_COLORS["torso"]] * spec.num_joints
    for part, idx in zip(PART_NAMES, spec.part_indices):
        for i in idx:
            out[int(i)] = PART_COLORS[part]
    return out


def normalized_joints(seq: SkeletonSequence, spec: FormatSpec) -> np.ndarray:
    """(M, T, V, C) joints as the encoder sees them before the stream (centred, view-aligned)."""
    x = torch.from_numpy(np.ascontiguousarray(seq.joints, dtype=np.float32))[None]
    rotate = x.shape[-1] == 3 and (spec.hips is not None or spec.shoulders is not None)
    return normalize(x, spec, center=True, rotate=rotate)[0].numpy()


def _frames(length: int, max_frames: int) -> np.ndarray:
    return np.unique(np.linspace(0, max(length - 1, 0), min(max_frames, length)).round().astype(int))


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


@dataclass(frozen=True)
class _Canvas:
    """Where each view goes: (horizontal axis, vertical axis, name), px widths and left edges, the view
    centres in data units, one scale (px per unit) for all, the height and the name strip on top."""

    views: list[tuple[int, int, str]]
    widths: list[int]
    offsets: list[int]
    centre: list[tuple[float, float]]
    scale: float
    height: int
    top: int

    def px(self, k: int, j: np.ndarray) -> tuple[float, float]:
        """Pixel of point ``j`` in view ``k``."""
        h, vert, _ = self.views[k]
        ph, top = self.height, self.top
        return (self.offsets[k] + self.widths[k] / 2 + (j[h] - self.centre[k][0]) * self.scale,
                top + (ph - top) / 2 - (j[vert] - self.centre[k][1]) * self.scale)


def _canvas(finite: np.ndarray, c: int, height: int, max_width: int) -> _Canvas:
    """The views of ``finite`` (N, C) points: widths from their extents, the largest scale that fits all."""
    views = [(0, 1, "front (x-y)")] + ([(2, 1, "side (z-y)")] if c == 3 else [])
    ph, top = height, max(16, height // 12)  # the view's height; a strip at the top for its name
    spans = [max(float(np.ptp(finite[:, h])), 1e-6) for h, _, _ in views]
    scale = min(0.9 * (ph - top) / max(float(np.ptp(finite[:, 1])), 1e-6),
                *(0.92 * 2.2 * ph / sp for sp in spans), 0.92 * max_width / sum(spans))
    widths = [int(np.clip(sp * scale / 0.92, 0.6 * ph, 2.2 * ph)) for sp in spans]
    offsets = np.cumsum([0, *widths[:-1]]).tolist()
    centre = [(float(finite[:, h].min() + finite[:, h].max()) / 2, float(finite[:, 1].min() + finite[:, 1].max()) / 2)
              for h, _, _ in views]
    return _Canvas(views, widths, offsets, centre, scale, ph, top)


def _draw_pose(draw: Any, canvas: _Canvas, k: int, pose: np.ndarray, spec: FormatSpec,
               colors: list[tuple[int, int, int]], width: int) -> None:
    """One person's bones and joints (those with finite coordinates) in view ``k``."""
    for child, parent in spec.bones:
        a, b = pose[child], pose[parent]
        if np.isfinite(a).all() and np.isfinite(b).all():
            draw.line([canvas.px(k, a), canvas.px(k, b)], fill=colors[child], width=width)
    r = width * 0.8
    for j in range(pose.shape[0]):
        if np.isfinite(pose[j]).all():
            cx, cy = canvas.px(k, pose[j])
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colors[j])


def _frame_image(poses: np.ndarray, label: str, canvas: _Canvas, spec: FormatSpec, fonts: tuple[Any, Any]) -> Any:
    """One GIF frame: every view with its name, the (P, V, C) poses of the present persons, the frame label."""
    from PIL import Image, ImageDraw

    ph, total = canvas.height, sum(canvas.widths)
    colors = [_rgb(col) for col in joint_colors(spec)]
    width = max(2, int(round(ph / 75)))
    img = Image.new("RGB", (total, ph), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for k, (_, _, name) in enumerate(canvas.views):
        ox = canvas.offsets[k]
        draw.text((ox + 5, 3), name, fill=(90, 90, 90), font=fonts[0])
        if k:
            draw.line([(ox, 0), (ox, ph)], fill=(200, 200, 200), width=1)
        for pose in poses:
            _draw_pose(draw, canvas, k, pose, spec, colors, width)
    _, _, tw, th = draw.textbbox((0, 0), label, font=fonts[1])  # no anchor: Pillow's bitmap font has none
    draw.text((total - 5 - tw, ph - 4 - th), label, fill=(90, 90, 90), font=fonts[1])
    return img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)


def skeleton_gif(seq: SkeletonSequence, spec: FormatSpec, out: Path, max_frames: int = 40, height: int = 250,
                 max_width: int = 410, fps: float | None = None) -> Path:
    """Write an animated GIF of ``seq`` (at most ``max_frames`` frames, evenly spaced) to ``out``.

    Every view is ``height`` px tall and as wide as its horizontal extent needs (0.6 to 2.2 × ``height``,
    all views together about ``max_width``, so the GIF fits beside the stream images); one scale for all
    views and frames, the largest at which the whole motion fits, so sizes compare."""
    x = normalized_joints(seq, spec)
    m, t, v, c = x.shape
    present = [p for p in range(m) if np.isfinite(x[p]).any()]
    finite = x[present][np.isfinite(x[present]).all(-1)] if present else np.zeros((1, c))
    if finite.size == 0:
        finite = np.zeros((1, c))
    canvas = _canvas(finite, c, height, max_width)
    fonts = (_font(max(11, height // 20)), _font(max(10, height // 24)))
    images = [_frame_image(x[present, f], f"frame {f + 1}/{t}", canvas, spec, fonts) for f in _frames(t, max_frames)]
    rate = fps or seq.fps or 30.0
    duration = int(np.clip(1000.0 * t / rate / max(len(images), 1), 40, 200))
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(out, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=True)
    return out
