"""Shared test fixtures: where the real data lives (skipped cleanly when absent), generated stand-ins in the
releases' layouts, and synthetic motion."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from s2i.readers import ReaderError
from s2i.skeleton import SkeletonSequence
from s2i.testing.samples import write_samples
from s2i.testing.synthetic import synthetic_ntu  # noqa: F401  (re-exported for the tests)

DATA = Path(os.environ.get("S2I_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: data folder -> the release it holds (README "Data for the tests" says where each is obtained)
RELEASES = {"nw_ucla": "NW-UCLA", "utd_mhad": "UTD-MHAD", "msr_action3d": "MSR Action3D",
            "ntu_samples": "NTU RGB+D", "ntu_metadata": "NTU RGB+D", "pku_mmd_sample": "PKU-MMD",
            "kinetics_skeleton_sample": "Kinetics-skeleton", "mocap_samples": "CMU mocap"}
_generated: list[Path] = []


def data_path(*parts: str) -> Path:
    """A path in the real data (the test checks the release's own counts or values); skips the test,
    naming the release and where it comes from, when it is absent."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs the {RELEASES.get(parts[0], parts[0])} release (README 'Data for the tests' says"
                    f" where to get it), not found at {p}; set S2I_SHARED_DATA to the folder holding it")
    return p


def sample_path(*parts: str) -> Path:
    """A path in the real data when its folder is there, else in a generated stand-in written in the
    release's layout (:mod:`s2i.testing.samples`): for tests that need a file in that layout, not the
    release's values. :func:`is_real` tells which one a test got."""
    if DATA.joinpath(parts[0]).exists():
        return data_path(*parts)
    if not _generated:
        root = Path(tempfile.mkdtemp(prefix="s2i-samples-"))
        atexit.register(shutil.rmtree, root, True)
        _generated.append(root)
    p = write_samples(_generated[0], parts[0]).joinpath(*parts[1:])
    assert p.exists(), f"the generated stand-in for {parts[0]} has no {'/'.join(parts[1:])}"
    return p


def is_real(path: Path) -> bool:
    """Whether ``path`` (from :func:`sample_path`) is in the real data rather than a generated stand-in."""
    return Path(path).is_relative_to(DATA)


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


def export_tiny_ntu25(folder: Path, config: Any) -> Path:
    """A seeded TINY_VIT encoder on 16 x 16 images of ``config`` for ntu25 (range -1..1), exported to ``folder``:
    the feature API's tests load it."""
    import torch

    from s2i.encode import S2IEncoder
    from s2i.models import create_backbone, export_encoder

    torch.manual_seed(0)
    bb, _ = create_backbone("vit_tiny_patch16_224", img_size=16, patch_size=8, **TINY_VIT)
    enc = S2IEncoder("ntu25", config, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    return export_encoder(folder, bb, "vit_tiny_patch16_224", [enc], backbone_kwargs=TINY_VIT)


def load_benchmark(name: str) -> Any:
    """The program ``benchmarks/<name>.py`` as a module (benchmarks/ is not a package), registered in
    sys.modules under ``name`` so pydantic can resolve its models' annotations."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def reader_error(reader: Callable[..., Any], path: Path, text: str) -> str:
    """The message of the ReaderError that ``reader`` raises on a file ``path`` holding ``text``; the test
    fails when it raises none."""
    path.write_text(text)
    with pytest.raises(ReaderError) as e:
        reader(path)
    return str(e.value)
