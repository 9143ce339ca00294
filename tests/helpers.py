"""Shared test fixtures: where the real data lives (skipped cleanly when absent) and synthetic motion."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

DATA = Path(os.environ.get("S2I_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A path under the shared data folder; skips the test with the reason when it is absent."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p} (set S2I_SHARED_DATA to the data folder)")
    return p


def synthetic_ntu(n: int = 2, t: int = 40, persons: int = 1, seed: int = 0) -> np.ndarray:
    """Plausible NTU-25 motion: a standing skeleton with swinging limbs, (n, persons, t, 25, 3)."""
    rng = np.random.default_rng(seed)
    rest = np.array([
        [0, 0, 0], [0, .3, 0], [0, .62, 0], [0, .75, 0], [-.18, .55, 0], [-.2, .3, 0], [-.2, .08, 0],
        [-.2, 0, 0], [.18, .55, 0], [.2, .3, 0], [.2, .08, 0], [.2, 0, 0], [-.1, -.05, 0],
        [-.1, -.45, 0], [-.1, -.85, 0], [-.1, -.9, .1], [.1, -.05, 0], [.1, -.45, 0], [.1, -.85, 0],
        [.1, -.9, .1], [0, .55, 0], [-.2, -.08, 0], [-.17, 0, .03], [.2, -.08, 0], [.17, 0, .03]],
        dtype=np.float32)
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


@st.composite
def mutated(draw, base: bytes, tokens: tuple[bytes, ...] = (), head: int | None = None) -> bytes:
    """Truncate, garble (within the first ``head`` bytes when given), empty, or splice a token
    (NaN, inf, huge number) into ``base``."""
    kind = draw(st.sampled_from(["truncate", "garble", "empty", "splice"] if tokens else
                                ["truncate", "garble", "empty"]))
    if kind == "empty":
        return b""
    if kind == "truncate":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "garble":
        out = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, min(len(out), head or len(out)) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    pos = draw(st.integers(0, len(base)))
    cut = draw(st.integers(0, 12))
    return base[:pos] + draw(st.sampled_from(tokens)) + base[pos + cut:]
