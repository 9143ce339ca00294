"""Writers of raw skeleton files in their original layouts, for tests and scale benchmarks.

One writer per layout, so every test that needs a raw NTU file builds it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .synthetic import NTU_REST

__all__ = ["NTU_BODY_INFO", "generate_ntu_files", "ntu_text", "write_ntu"]

#: the 10 body-info values after the body id (clipedEdges, hand states, isRestricted, lean x/y, state)
NTU_BODY_INFO = "0 1 1 1 1 0 0.1 0.1 2"


def ntu_text(frames: Sequence[Sequence[tuple[str, np.ndarray]]], tail: str = "0 0 0 0 0 0 0 0 2",
             body_info: str = NTU_BODY_INFO) -> str:
    """Raw NTU ``.skeleton`` text (CRLF lines): ``frames[f]`` lists that frame's bodies as
    (body id, (25, 3) xyz); ``tail`` is the 9 values after x y z of every joint line (depth/colour
    coordinates, orientation, tracking state)."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, xyz in bodies:
            out.append(f"{bid} {body_info}")
            out.append(str(len(xyz)))
            out += [f"{x} {y} {z} {tail}" for x, y, z in np.asarray(xyz, dtype=np.float64).tolist()]
    return "\r\n".join(out) + "\r\n"


def write_ntu(path: str | Path, frames: Sequence[Sequence[tuple[str, np.ndarray]]], **kw: str) -> Path:
    """Write :func:`ntu_text` to ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(ntu_text(frames, **kw).encode())
    return path


def _moving_body(rng: np.random.Generator, frames: int, dx: float) -> np.ndarray:
    """(frames, 25, 3) of one body swinging in place, ``dx`` metres to the side."""
    ph = np.linspace(0, 2 * np.pi * rng.uniform(0.5, 2), frames)[:, None]
    return NTU_REST[None] + np.array([dx, 0.1, 3.2]) + 0.15 * np.sin(ph + np.arange(25)[None] * 0.3)[..., None]


def generate_ntu_files(root: str | Path, n: int, seed: int = 0) -> list[Path]:
    """Write ``n`` raw NTU-60 files named like real samples under ``root`` (for scale tests).

    Lengths follow NTU's spread (30-300 frames, median near 80); mutual actions (A050-A060) have two
    bodies; about 5 % carry a short-lived noise body, as the real data does.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if n > 10_812:
        raise ValueError("generated NTU names are unique up to 10,812 files")
    paths = []
    for i in range(n):
        # (setup, camera, subject, replication) is unique for up to 17 * 3 * 106 * 2 = 10,812 files
        setup, cam, subject, rep = 1 + i % 17, 1 + (i // 17) % 3, 1 + (i // 51) % 106, 1 + (i // 5406) % 2
        action = 1 + (i * 7) % 60
        p = root / f"S{setup:03d}C{cam:03d}P{subject:03d}R{rep:03d}A{action:03d}.skeleton"
        frames = int(np.clip(rng.lognormal(np.log(80), 0.45), 30, 300))
        bodies = [_moving_body(rng, frames, 0.8 * b) for b in range(2 if 50 <= action <= 60 else 1)]
        noise = _moving_body(rng, 5, -1.5) if rng.random() < 0.05 else None
        if not p.exists():
            write_ntu(p, [[(f"7205759403792{b}", body[f]) for b, body in enumerate(bodies)]
                          + ([("72057594037999", noise[f])] if noise is not None and f < 5 else [])
                          for f in range(frames)])
        paths.append(p)
    return paths
