"""The README's "How S2I works" picture, drawn from real data: one humanoid motion clip as key-frame
skeletons (coloured by body part), its joint-stream S2I image with the bands named, and the same motion
in a second skeleton format (20-joint Kinect v1) lining up band by band.

    python -m s2i.report.method_figure docs/images/how_s2i_works.png [--clip cartwheel]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..encode import S2IConfig, encode, estimate_value_range
from ..formats import get_format
from .animate import joint_colors, normalized_joints
from .figures import _draw_bands, _plt, _save, to_rgb

__all__ = ["how_s2i_works"]


def how_s2i_works(out: str | Path, clip: str = "cartwheel", size: int = 112, keyframes: int = 6) -> Path:
    """Draw the method figure for a pybullet humanoid ``clip`` into ``out`` (PNG)."""
    from ..readers.deepmimic import motion_dir, read_deepmimic_motion

    path = motion_dir() / f"humanoid3d_{clip}.txt"
    a = read_deepmimic_motion(path, "humanoid3d")
    b = read_deepmimic_motion(path, "kinect_v1")
    spec_a, spec_b = get_format("humanoid3d"), get_format("kinect_v1")
    cfg = S2IConfig(height=size, width=size, persons="first")
    lo, hi = estimate_value_range(a.joints[None], spec_a, cfg, percentiles=(0.0, 100.0))
    img_a, img_b = (np.asarray(encode(s, config=cfg, range_lo=lo, range_hi=hi)) for s in (a, b))

    plt = _plt()
    fig = plt.figure(figsize=(12.5, 3.6))
    grid = fig.add_gridspec(1, 3, width_ratios=[2.3, 1, 1], wspace=0.35)
    ax = fig.add_subplot(grid[0])
    x = normalized_joints(a, spec_a)[0]
    frames = np.linspace(0, a.num_frames - 1, keyframes).round().astype(int)
    colors = joint_colors(spec_a)
    step = max(float(np.nanmax(x[f, :, 0]) - np.nanmin(x[f, :, 0])) for f in frames) + 0.25
    for k, f in enumerate(frames):
        pts = x[f, :, :2] + np.array([k * step - float(np.nanmean(x[f, :, 0])), 0.0])
        for j, p in spec_a.bones:
            ax.plot(*pts[[j, p]].T, color=colors[j], lw=2)
        ax.text(pts[0, 0], np.nanmin(x[..., 1]) - 0.25, f"t={f}", ha="center", fontsize=7, color="#444")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"1. a skeleton sequence ({clip}, {a.num_frames} frames, {spec_a.num_joints} joints):\n"
                 "joints grouped into five body parts", fontsize=9)
    for k, (img, spec, title) in enumerate(((img_a, spec_a, "2. its S2I image"),
                                            (img_b, spec_b, "3. same motion, another format"))):
        ax = fig.add_subplot(grid[k + 1])
        ax.imshow(to_rgb(img), interpolation="nearest", aspect="auto", extent=(-0.5, size - 0.5, size - 0.5, -0.5))
        _draw_bands(ax, size, 1, label=True)
        ax.set_xlabel("time (frames resampled to columns) →", fontsize=7)
        ax.set_xticks([])
        ax.set_title(f"{title}\n{spec.name}, {spec.num_joints} joints; R,G,B = x,y,z", fontsize=9)
    fig.text(0.5, 0.01, "Each body part fills a fixed band of rows, proximal → distal joint; the image is resized to a"
             " standard size, so any joint format gives the same layout for an off-the-shelf ViT.",
             ha="center", fontsize=8, color="#333")
    fig.subplots_adjust(left=0.02, right=0.98, top=0.82, bottom=0.12)
    return _save(fig, Path(out))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--clip", default="cartwheel", help="pybullet humanoid clip (walk, run, cartwheel, ...)")
    args = ap.parse_args(argv)
    print(how_s2i_works(args.out, args.clip))


if __name__ == "__main__":
    main()
