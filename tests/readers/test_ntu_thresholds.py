"""NTU multi-body denoising at its thresholds, through ``read_sequence`` on files written by the one NTU
writer: a body tracked in 11 frames is dropped and one tracked in 12 is kept; a body whose frames are
object-like (wider than tall) in clearly more than 69.754 % of its frames is dropped, in clearly fewer kept."""

import numpy as np
import pytest

from s2i.readers import read_sequence
from s2i.testing import write_ntu
from s2i.testing.synthetic import NTU_REST

FRAMES = 40


def person(frames: int, dx: float, swing: float = 0.1) -> np.ndarray:
    """(frames, 25, 3): an upright person (taller than wide) swaying ``dx`` metres to the side."""
    ph = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    return (NTU_REST[None] + np.array([dx, 0.0, 3.2]) + swing * np.sin(ph + np.arange(25)[None, :, None])
            ).astype(np.float32)


def wide(xyz: np.ndarray) -> np.ndarray:
    """The same frames squashed into an object: x-spread 3x the y-spread."""
    out = xyz.copy()
    cx, cy = out[..., 0].mean(-1, keepdims=True), out[..., 1].mean(-1, keepdims=True)
    ys = out[..., 1].max(-1, keepdims=True) - out[..., 1].min(-1, keepdims=True)
    xs = out[..., 0].max(-1, keepdims=True) - out[..., 0].min(-1, keepdims=True)
    out[..., 0] = cx + (out[..., 0] - cx) * (3 * ys / xs)
    out[..., 1] = cy + (out[..., 1] - cy) * 0.8
    return out


def two_bodies(tmp_path, second: np.ndarray, first_frame: int = 5):
    """A main actor in all FRAMES frames and ``second`` from ``first_frame`` on, overlapping it."""
    main = person(FRAMES, 0.0)
    frames = [[("72057594037931", main[f])]
              + ([("72057594037932", second[f - first_frame])] if 0 <= f - first_frame < len(second) else [])
              for f in range(FRAMES)]
    return write_ntu(tmp_path / "S001C001P001R001A050.skeleton", frames), main


@pytest.mark.parametrize("n, kept", [(11, False), (12, True)])
def test_bodies_tracked_in_11_frames_are_dropped_12_kept(tmp_path, n, kept):
    # the short body moves more than the main actor, so ranking by motion alone would keep it
    second = person(n, 0.9, swing=0.3)
    path, main = two_bodies(tmp_path, second)
    seq = read_sequence(path)
    assert seq.joints.shape[1] == FRAMES
    if kept:
        assert seq.joints.shape[0] == 2
        mains = [m for m in range(2) if np.allclose(seq.joints[m], main, atol=1e-5)]
        assert len(mains) == 1
        short = seq.joints[1 - mains[0]]
        np.testing.assert_allclose(short[5:5 + n], second, atol=1e-5)
        assert np.isnan(short[:5]).all() and np.isnan(short[5 + n:]).all()
    else:
        assert seq.joints.shape[0] == 1
        np.testing.assert_allclose(seq.joints[0], main, atol=1e-5)


@pytest.mark.parametrize("wide_fraction, kept", [(0.5, True), (0.6, True), (0.8, False), (1.0, False)])
def test_object_like_bodies_are_dropped_by_the_fraction_of_wide_frames(tmp_path, wide_fraction, kept):
    n = 30
    second = person(n, 1.2, swing=0.3)
    k = round(wide_fraction * n)
    second[:k] = wide(second[:k])
    xs = second[..., 0].max(-1) - second[..., 0].min(-1)
    ys = second[..., 1].max(-1) - second[..., 1].min(-1)
    assert ((xs > 0.8 * ys).mean() - wide_fraction) < 1e-9 and (xs[k:] < 0.8 * ys[k:]).all()
    path, main = two_bodies(tmp_path, second)
    seq = read_sequence(path)
    assert seq.joints.shape[0] == (2 if kept else 1)
    if kept:
        other = [m for m in range(2) if not np.allclose(np.nan_to_num(seq.joints[m]), main, atol=1e-5)]
        assert len(other) == 1
        np.testing.assert_allclose(seq.joints[other[0], 5:5 + n], second, atol=1e-5)
    else:
        np.testing.assert_allclose(seq.joints[0], main, atol=1e-5)


def test_a_lone_body_is_never_dropped(tmp_path):
    """Denoising only chooses between bodies: a single short, wide body is the sequence."""
    body = wide(person(8, 0.0))
    path = write_ntu(tmp_path / "S001C001P001R001A001.skeleton", [[("1", body[f])] for f in range(8)])
    seq = read_sequence(path)
    np.testing.assert_allclose(seq.joints[0], body, atol=1e-5)
