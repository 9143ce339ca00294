"""Animated skeletons (small GIFs, drawn with Pillow): bones from the format's parents, coloured by body part.

The skeleton is drawn after the encoder's own normalisation (centred on the main person's centre joint,
3D data view-aligned: hips along x, spine along y; y-down 2D formats flipped), so every format stands
upright the same way. 3D data gets two panels: x-y (x right, y up) and z-y (z right, y up).
"""

from __future__ import annotations

from pathlib import Path

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


def skeleton_gif(seq: SkeletonSequence, spec: FormatSpec, out: Path, max_frames: int = 40,
                 panel: tuple[int, int] = (140, 180), fps: float | None = None) -> Path:
    """Write an animated GIF of ``seq`` (at most ``max_frames`` frames, evenly spaced) to ``out``."""
    from PIL import Image, ImageDraw

    x = normalized_joints(seq, spec)
    m, t, v, c = x.shape
    present = [p for p in range(m) if np.isfinite(x[p]).any()]
    views = [(0, 1, "x-y")] + ([(2, 1, "z-y")] if c == 3 else [])
    finite = x[present][np.isfinite(x[present]).all(-1)] if present else np.zeros((1, c))
    if finite.size == 0:
        finite = np.zeros((1, c))
    pw, ph = panel
    scale_den = max(float(np.ptp(finite[:, [h for h, _, _ in views]], axis=0).max()), float(np.ptp(finite[:, 1])),
                    1e-6)
    scale = 0.86 * min(pw, ph) / scale_den
    centre = [(float(finite[:, h].min() + finite[:, h].max()) / 2, float(finite[:, 1].min() + finite[:, 1].max()) / 2)
              for h, _, _ in views]
    colors = [_rgb(col) for col in joint_colors(spec)]
    width = max(2, int(round(min(pw, ph) / 60)))
    images = []
    for f in _frames(t, max_frames):
        img = Image.new("RGB", (pw * len(views), ph), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        for k, (h, vert, name) in enumerate(views):
            ox = k * pw
            draw.text((ox + 4, 2), name, fill=(120, 120, 120))
            if k:
                draw.line([(ox, 0), (ox, ph)], fill=(210, 210, 210))

            def px(j: np.ndarray, k: int = k, h: int = h, vert: int = vert, ox: int = ox) -> tuple[float, float]:
                return (ox + pw / 2 + (j[h] - centre[k][0]) * scale, ph / 2 - (j[vert] - centre[k][1]) * scale)

            for p in present:
                pose = x[p, f]
                for child, parent in spec.bones:
                    a, b = pose[child], pose[parent]
                    if np.isfinite(a).all() and np.isfinite(b).all():
                        draw.line([px(a), px(b)], fill=colors[child], width=width)
        images.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    rate = fps or seq.fps or 30.0
    duration = int(np.clip(1000.0 * t / rate / max(len(images), 1), 40, 200))
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(out, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=True)
    return out
