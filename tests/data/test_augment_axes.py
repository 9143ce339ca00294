"""Each augmentation does what its name says, checked on values: rotation about the named axis by the
drawn angle, shear off the diagonal only, scale per sample, flip of x with left/right swapped."""

import math

import numpy as np
import pytest
import torch

from s2i.data import JointDropout, RandomFlip, RandomRotation, RandomScale, RandomShear
from s2i.formats import get_format

from helpers import synthetic_ntu


def points(n=6):
    return torch.from_numpy(synthetic_ntu(n, 4, 2, seed=9))


def drawn_angles(n, degrees, seed):
    """The angles RandomRotation draws: (n, 3) uniform in +-degrees, from the same generator stream."""
    g = torch.Generator().manual_seed(seed)
    lim = torch.tensor([math.radians(d) for d in degrees], dtype=torch.float64)
    return (torch.rand((n, 3), generator=g, dtype=torch.float64) * 2 - 1) * lim


def rx(a):
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def ry(a):
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def rz(a):
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


@pytest.mark.parametrize("axis, degrees, mat", [(0, (40, 0, 0), rx), (1, (0, 40, 0), ry), (2, (0, 0, 40), rz)])
def test_rotation_turns_about_the_named_axis_by_the_drawn_angle(axis, degrees, mat):
    x = points()
    y = RandomRotation(degrees)(x, torch.Generator().manual_seed(3)).double().numpy()
    xn = x.double().numpy()
    np.testing.assert_allclose(y[..., axis], xn[..., axis], atol=1e-5)  # the axis itself stays put
    ang = drawn_angles(x.shape[0], degrees, 3)[:, axis].numpy()
    assert np.abs(ang).min() > 0.01
    for n in range(x.shape[0]):
        np.testing.assert_allclose(y[n], xn[n] @ mat(ang[n]).T, atol=1e-5)


def test_rotation_composes_z_after_y_after_x():
    x = points(3)
    deg = (25, 35, 45)
    y = RandomRotation(deg)(x, torch.Generator().manual_seed(7)).double().numpy()
    ang = drawn_angles(3, deg, 7).numpy()
    for n in range(3):
        r = rz(ang[n, 2]) @ ry(ang[n, 1]) @ rx(ang[n, 0])
        np.testing.assert_allclose(y[n], x[n].double().numpy() @ r.T, atol=1e-5)


def test_2d_rotation_is_about_the_image_normal():
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(4, 1, 3, 17, 2)).astype(np.float32))
    y = RandomRotation(30)(x, torch.Generator().manual_seed(2)).double().numpy()
    ang = drawn_angles(4, (30, 30, 30), 2)[:, 2].numpy()
    for n in range(4):
        np.testing.assert_allclose(y[n], x[n].double().numpy() @ rz(ang[n])[:2, :2].T, atol=1e-5)


def test_shear_changes_only_off_diagonal_terms_within_the_magnitude():
    e = torch.eye(3).expand(5, 1, 1, 3, 3).clone()  # three unit vectors as joints
    y = RandomShear(0.3)(e, torch.Generator().manual_seed(0))[:, 0, 0]  # row j = A e_j, i.e. A^T
    eye = torch.eye(3)
    torch.testing.assert_close(y * eye, eye.expand(5, 3, 3))  # diagonal 1
    off = y[:, ~eye.bool()]
    assert off.abs().max() <= 0.3 and off.abs().max() > 0.1 and off.std() > 0.05


def test_scale_is_per_sample_within_the_range():
    x = points(16)
    y = RandomScale((0.5, 2.0))(x, torch.Generator().manual_seed(0))
    f = (y / x).reshape(16, -1)
    torch.testing.assert_close(f, f[:, :1].expand_as(f))  # one factor per sample, all axes alike
    assert f[:, 0].min() >= 0.5 and f[:, 0].max() <= 2.0 and f[:, 0].std() > 0.2


def test_flip_probability_and_sides():
    spec = get_format("ntu25")
    x = points(400)
    y = RandomFlip(spec, p=0.3)(x, torch.Generator().manual_seed(0))
    flipped = ~(y == x).reshape(400, -1).all(1)
    assert 0.22 < flipped.float().mean() < 0.38
    f = y[flipped]
    src = x[flipped][:, :, :, spec.flip_indices]
    torch.testing.assert_close(f[..., 0], -src[..., 0])
    torch.testing.assert_close(f[..., 1:], src[..., 1:])


def test_dropout_probability():
    x = points(200)
    d = JointDropout(0.1)(x, torch.Generator().manual_seed(0))
    frac = torch.isnan(d[..., 0, :, 0]).float().mean()
    assert 0.08 < frac < 0.12
    kept = ~torch.isnan(d)
    torch.testing.assert_close(d[kept], x[kept])
