"""Generate raw NTU RGB+D ``.skeleton`` files with realistic lengths and body counts (for scale tests).

Lengths follow NTU's spread (about 30-300 frames, median near 80); mutual actions (A050-A060) have two
bodies; a few files carry a short-lived noise body, as the real data does. Text layout is byte-for-byte
the NTU layout (CRLF lines, 10-value body info, 25 joints x 12 values).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

_BASE = np.array([
    [0, 0, 0], [0, .3, 0], [0, .62, 0], [0, .75, 0], [-.18, .55, 0], [-.2, .3, 0], [-.2, .08, 0], [-.2, 0, 0],
    [.18, .55, 0], [.2, .3, 0], [.2, .08, 0], [.2, 0, 0], [-.1, -.05, 0], [-.1, -.45, 0], [-.1, -.85, 0],
    [-.1, -.9, .1], [.1, -.05, 0], [.1, -.45, 0], [.1, -.85, 0], [.1, -.9, .1], [0, .55, 0], [-.2, -.08, 0],
    [-.17, 0, .03], [.2, -.08, 0], [.17, 0, .03]])


def _body_blocks(rng: np.random.Generator, frames: int, dx: float) -> list[str]:
    """Formatted 25-joint blocks (one string per frame) of one moving body."""
    ph = np.linspace(0, 2 * np.pi * rng.uniform(0.5, 2), frames)[:, None]
    xyz = _BASE[None] + np.array([dx, 0.1, 3.2]) + 0.15 * np.sin(ph + np.arange(25)[None] * 0.3)[..., None]
    rows = np.concatenate([xyz, np.zeros((frames, 25, 8)), np.full((frames, 25, 1), 2.0)], axis=-1)
    lines = [" ".join(f"{v:.5g}" for v in r) for r in rows.reshape(-1, 12)]
    return ["\r\n".join(lines[f * 25:(f + 1) * 25]) for f in range(frames)]


def write_file(path: Path, frames: int, bodies: int, noise: bool, rng: np.random.Generator) -> None:
    blocks = [_body_blocks(rng, frames, 0.8 * b) for b in range(bodies)]
    noise_at = set(range(5)) if noise else set()
    noise_block = _body_blocks(rng, 5, -1.5) if noise else []
    out = [str(frames)]
    for f in range(frames):
        present = [(f"7205759403792{b}", blocks[b][f]) for b in range(bodies)]
        if f in noise_at:
            present.append(("72057594037999", noise_block[f]))
        out.append(str(len(present)))
        for bid, block in present:
            out.append(f"{bid} 0 1 1 1 1 0 0.1 0.1 2")
            out.append("25")
            out.append(block)
    path.write_text("\r\n".join(out) + "\r\n")


def generate(root: Path, n: int, seed: int = 0) -> list[Path]:
    """Write n files named like real NTU-60 samples under root."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        # (setup, camera, subject, replication) is unique for up to 17 * 3 * 106 * 2 = 10,812 files
        setup, cam, subject, rep = 1 + i % 17, 1 + (i // 17) % 3, 1 + (i // 51) % 106, 1 + (i // 5406) % 2
        action = 1 + (i * 7) % 60
        if i >= 10_812:
            raise ValueError("ntu_synth names are unique up to 10,812 files")
        name = f"S{setup:03d}C{cam:03d}P{subject:03d}R{rep:03d}A{action:03d}.skeleton"
        frames = int(np.clip(rng.lognormal(np.log(80), 0.45), 30, 300))
        bodies = 2 if 50 <= action <= 60 else 1
        p = root / name
        if not p.exists():
            write_file(p, frames, bodies, noise=rng.random() < 0.05, rng=rng)
        paths.append(p)
    return paths


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("-n", type=int, default=1000)
    a = ap.parse_args()
    print(len(generate(a.root, a.n)), "files under", a.root)
