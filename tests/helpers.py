"""Shared test fixtures: where the real data lives (skipped cleanly when absent) and synthetic motion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import strategies as st

from s2i.testing.synthetic import synthetic_ntu  # noqa: F401  (re-exported for the tests)

DATA = Path(os.environ.get("S2I_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A path under the shared data folder; skips the test with the reason when it is absent."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p} (set S2I_SHARED_DATA to the data folder)")
    return p


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
