"""Shared test fixtures: where the real data lives (skipped cleanly when absent) and synthetic motion."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from s2i.readers import ReaderError
from s2i.skeleton import SkeletonSequence
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


# --- the reader contract, shared by the fuzz tests (tests/readers/test_fuzz_*.py) ----------------------
_fresh = itertools.count()


def fresh_file(folder: Path, name: str, raw: bytes) -> Path:
    """``raw`` written to a new file ``name`` in a new subfolder of ``folder`` (one per call: array files are
    memory-mapped, so a file that may still be mapped is never rewritten)."""
    d = folder / f"ex{next(_fresh)}"
    d.mkdir()
    p = d / name
    p.write_bytes(raw)
    return p


def check_sequence(seq: Any, path: Path) -> SkeletonSequence:
    """A reader's sequence: valid (:meth:`SkeletonSequence.validate`), float32 joints without inf, finite
    confidence, and ``meta["source"]`` naming the file it came from."""
    assert isinstance(seq, SkeletonSequence), type(seq)
    seq.validate()
    assert seq.joints.dtype == np.float32 and not np.isinf(seq.joints).any()
    if seq.confidence is not None:
        assert np.isfinite(seq.confidence).all()
    assert seq.meta["source"] == str(path)
    return seq


def read_or_reader_error(reader: Callable[..., Any], path: Path, *args: Any, **kw: Any) -> Any:
    """``reader(path, *args, **kw)`` either returns — a sequence or a list of sequences is checked with
    :func:`check_sequence`, anything else (labels, a parsed skeleton) is returned as it is — or raises a
    ReaderError whose message names ``path`` (then None). Any other exception fails the test."""
    try:
        out = reader(path, *args, **kw)
    except ReaderError as e:
        assert str(path) in str(e), str(e)
        return None
    if isinstance(out, SkeletonSequence):
        check_sequence(out, path)
    elif isinstance(out, list) and out and all(isinstance(s, SkeletonSequence) for s in out):
        for s in out:
            check_sequence(s, path)
    return out


#: a one-block ViT small enough for evaluation-protocol tests to run in seconds
TINY_VIT = {"depth": 1, "embed_dim": 48, "num_heads": 2}
