"""Synthetic skeleton motion for tests, benchmarks and examples (plausible, seeded, no data needed)."""

from __future__ import annotations

import numpy as np

__all__ = ["NTU_REST", "synthetic_ntu"]

#: a standing NTU-25 skeleton (metres, y up, centred at the spine base)
NTU_REST = np.array([
    [0, 0, 0], [0, .3, 0], [0, .62, 0], [0, .75, 0], [-.18, .55, 0], [-.2, .3, 0], [-.2, .08, 0],
    [-.2, 0, 0], [.18, .55, 0], [.2, .3, 0], [.2, .08, 0], [.2, 0, 0], [-.1, -.05, 0],
    [-.1, -.45, 0], [-.1, -.85, 0], [-.1, -.9, .1], [.1, -.05, 0], [.1, -.45, 0], [.1, -.85, 0],
    [.1, -.9, .1], [0, .55, 0], [-.2, -.08, 0], [-.17, 0, .03], [.2, -.08, 0], [.17, 0, .03]],
    dtype=np.float32)


def synthetic_ntu(n: int = 2, t: int = 40, persons: int = 1, seed: int = 0) -> np.ndarray:
    """Plausible NTU-25 motion: a standing skeleton with swinging limbs, (n, persons, t, 25, 3)."""
    rng = np.random.default_rng(seed)
    rest = NTU_REST
    out = np.empty((n, persons, t, 25, 3), dtype=np.float32)
    ph = np.linspace(0, 2 * np.pi, t, dtype=np.float32)
    for i in range(n):
        for p in range(persons):
            a = rng.uniform(0.1, 0.4)
            swing = np.zeros((t, 25, 3), dtype=np.float32)
            swing[:, [5, 6, 7, 21, 22], 2] = a * np.sin(ph)[:, None] * np.array([.5, 1, 1.1, 1.2, 1.1])
            swing[:, [9, 10, 11, 23, 24], 2] = -a * np.sin(ph)[:, None] * np.array([.5, 1, 1.1, 1.2, 1.1])
            swing[:, [13, 14, 15], 2] = -0.5 * a * np.sin(ph)[:, None]
            swing[:, [17, 18, 19], 2] = 0.5 * a * np.sin(ph)[:, None]
            offset = np.array([p * 0.8 + rng.normal(0, .05), 0, 3.0 + rng.normal(0, .1)], dtype=np.float32)
            out[i, p] = rest + swing + offset + rng.normal(0, 0.005, (t, 25, 3)).astype(np.float32)
    return out
