"""Normalisation takes its origin and axes from the main person's first valid frame: a main actor missing
in the first frames is still centred and aligned (and another person's frames never set the origin)."""

import numpy as np
import torch

from s2i.encode.normalize import first_valid_frame, normalize
from s2i.formats import get_format

from helpers import synthetic_ntu

SPEC = get_format("ntu25")


def expected(x: np.ndarray, f0: int) -> np.ndarray:
    """Hand-written: translate by SpineBase of frame f0, rows of R = hips axis, spine orthogonalised, cross."""
    main = x[0]
    c = main[f0, SPEC.index("SpineBase")].astype(np.float64)
    ax = main[f0, SPEC.index("HipRight")] - main[f0, SPEC.index("HipLeft")]
    ax = ax / np.linalg.norm(ax)
    top = (main[f0, SPEC.index("ShoulderLeft")] + main[f0, SPEC.index("ShoulderRight")]) / 2
    ay = top - c
    ay = ay - ay @ ax * ax
    ay = ay / np.linalg.norm(ay)
    rot = np.stack([ax, ay, np.cross(ax, ay)])
    return (x - c) @ rot.T


def moved(seed: int) -> np.ndarray:
    """Two persons, turned 50 degrees about y and shifted: normalisation has real work to do."""
    x = synthetic_ntu(1, 12, 2, seed=seed)[0].astype(np.float64)
    a = np.deg2rad(50)
    r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return (x @ r.T + np.array([0.7, -0.3, 2.5])).astype(np.float32)


def test_origin_and_axes_come_from_the_main_persons_first_valid_frame():
    x = moved(1)
    x[0, :4] = np.nan  # the main actor enters in frame 4; the second person is there from frame 0
    got = normalize(torch.from_numpy(x)[None], SPEC)[0].numpy()
    np.testing.assert_allclose(got, expected(x, 4), atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(got[0, 4, SPEC.index("SpineBase")], 0.0, atol=1e-5)  # centred where it appears
    hips = got[0, 4, SPEC.index("HipRight")] - got[0, 4, SPEC.index("HipLeft")]
    np.testing.assert_allclose(hips[1:], 0.0, atol=1e-5)  # hips along +x
    assert hips[0] > 0


def test_a_centre_joint_missing_alone_also_moves_the_origin_frame():
    x = moved(2)
    x[0, :2, SPEC.index("SpineBase")] = np.nan  # only the centre joint is missing at first
    got = normalize(torch.from_numpy(x)[None], SPEC)[0].numpy()
    np.testing.assert_allclose(got, expected(x, 2), atol=1e-4, equal_nan=True)


def test_present_from_the_start_uses_frame_0_and_batches_are_per_sequence():
    a, b = moved(3), moved(4)
    b[0, :7] = np.nan
    got = normalize(torch.from_numpy(np.stack([a, b])), SPEC).numpy()
    np.testing.assert_allclose(got[0], expected(a, 0), atol=1e-4)
    np.testing.assert_allclose(got[1], expected(b, 7), atol=1e-4, equal_nan=True)


def test_first_valid_frame():
    v = torch.tensor([[False, False, True, True], [True, False, False, False], [False] * 4])
    assert first_valid_frame(v).tolist() == [2, 0, 0]
