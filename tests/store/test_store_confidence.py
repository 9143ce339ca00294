"""Stored joints and confidence round-trip value for value, row for row (float32 exactly, float16 to its
precision); a 2D sequence without confidence is stored with its valid-joint mask."""

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.store import SkeletonStore, StoreWriter


def sequences(n=5):
    """coco17 sequences of different (M, T) whose confidence differs in every row and joint."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        m, t = 1 + i % 2, 3 + 2 * i
        joints = rng.normal(size=(m, t, 17, 2)).astype(np.float32)
        joints[0, 0, 3] = np.nan
        conf = rng.uniform(0.05, 1.0, size=(m, t, 17)).astype(np.float32)
        out.append(SkeletonSequence(joints, "coco17", confidence=conf, meta={"label": i, "name": f"c{i}"}))
    return out


@pytest.mark.parametrize("dtype, atol", [("float32", 0.0), ("float16", 1e-3)])
def test_confidence_and_joints_round_trip(tmp_path, dtype, atol):
    seqs = sequences()
    with StoreWriter(tmp_path / "st", "coco17", 2, 17, dtype=dtype, with_confidence=True) as w:
        for s in seqs:
            w.append(s)
        w.finalize({}, {}, {})
    st = SkeletonStore(tmp_path / "st")
    assert len(st) == len(seqs)
    for i, s in enumerate(seqs):
        conf = st.confidence(i)
        assert conf is not None and conf.shape == s.confidence.shape and conf.dtype == np.float32
        np.testing.assert_allclose(conf, s.confidence, atol=atol, rtol=0)
        np.testing.assert_allclose(st.joints(i), s.joints, atol=atol * 10, rtol=atol, equal_nan=True)
        again = st[i]
        np.testing.assert_allclose(again.confidence, s.confidence, atol=atol, rtol=0)
        assert again.label == i and again.meta["name"] == f"c{i}"


def test_missing_confidence_is_stored_as_the_valid_mask(tmp_path):
    s = sequences(1)[0]
    plain = SkeletonSequence(s.joints, "coco17", meta={"label": 0})
    with StoreWriter(tmp_path / "st", "coco17", 2, 17, with_confidence=True) as w:
        w.append(plain)
        w.finalize({}, {}, {})
    conf = SkeletonStore(tmp_path / "st").confidence(0)
    np.testing.assert_array_equal(conf, (~np.isnan(s.joints).any(-1)).astype(np.float32))
    assert conf[0, 0, 3] == 0 and conf.sum() == conf.size - 1


def test_a_store_without_confidence_has_none(tmp_path):
    with StoreWriter(tmp_path / "st", "coco17", 2, 17) as w:
        w.append(sequences(1)[0])
        w.finalize({}, {}, {})
    assert SkeletonStore(tmp_path / "st").confidence(0) is None
