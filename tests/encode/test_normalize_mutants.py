"""Normalisation guards written from the full mutation run of ``s2i.encode.normalize`` (issue 18,
docs/mutation.md): each step (centre, rotate, scale, y-down flip) alone, degenerate poses centred but not
turned (per sequence), the shoulders as the x axis of a format without hips, a zero torso, gaps held from
frame 0, the input dtype kept, and ``first_valid_frame`` along the last axis of any shape."""

import numpy as np
import torch
from test_normalize_origin import expected, moved

from s2i.encode.normalize import fill_missing, first_valid_frame, normalize
from s2i.formats import get_format

SPEC = get_format("ntu25")
HL, HR = SPEC.index("HipLeft"), SPEC.index("HipRight")
SL, SR = SPEC.index("ShoulderLeft"), SPEC.index("ShoulderRight")
CENTRE = SPEC.index("SpineBase")


def centred(x: np.ndarray) -> np.ndarray:
    """Translated by SpineBase of frame 0 of the main person, not turned."""
    return x - x[0, 0, CENTRE]


def test_hips_on_top_of_each_other_centre_without_turning_and_only_that_sequence():
    a, b = moved(5), moved(6)
    b[0, 0, HR] = b[0, 0, HL]  # no left -> right direction in the origin frame: no x axis to align
    got = normalize(torch.from_numpy(np.stack([a, b])), SPEC).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got[1], centred(b), atol=1e-5)
    np.testing.assert_allclose(got[0], expected(a, 0), atol=1e-4)  # its neighbour in the batch is still aligned


def test_a_spine_shorter_than_a_micrometre_is_not_used_as_the_y_axis():
    a, b = moved(7), moved(8)
    c = b[0, 0, CENTRE]
    top = c.copy()
    top[1] = np.nextafter(c[1], np.float32(np.inf))  # shoulders one float step above the centre: a spine of ~2e-7
    b[0, 0, SL] = b[0, 0, SR] = top
    assert 0 < np.linalg.norm(top - c) < 1e-6
    got = normalize(torch.from_numpy(np.stack([a, b])), SPEC).numpy()
    np.testing.assert_allclose(got[1], centred(b), atol=1e-5)
    np.testing.assert_allclose(got[0], expected(a, 0), atol=1e-4)


def test_first_valid_frame_runs_along_the_last_axis_of_any_shape():
    rng = np.random.default_rng(0)
    v = rng.random((2, 3, 5)) < 0.3
    v[0, 1] = False  # none valid: 0
    want = np.where(v.any(-1), v.argmax(-1), 0)
    assert first_valid_frame(torch.from_numpy(v)).tolist() == want.tolist()
    assert first_valid_frame(torch.tensor([False, False, False, True, False])).item() == 3


def axes(x: np.ndarray, f0: int, pair: tuple[int, int] = (HL, HR)) -> np.ndarray:
    """Rows: left -> right ``pair`` as x, centre -> shoulders orthogonalised as y, x cross y (as in ``expected``)."""
    m = x[0, f0].astype(np.float64)
    ax = m[pair[1]] - m[pair[0]]
    ax /= np.linalg.norm(ax)
    ay = (m[SL] + m[SR]) / 2 - m[CENTRE]
    ay -= ay @ ax * ax
    ay /= np.linalg.norm(ay)
    return np.stack([ax, ay, np.cross(ax, ay)])


def torso(x: np.ndarray) -> float:
    """The main person's mean centre -> shoulder-midpoint distance over its frames."""
    m = x[0].astype(np.float64)
    return float(np.linalg.norm((m[:, SL] + m[:, SR]) / 2 - m[:, CENTRE], axis=-1).mean())


def test_each_step_alone_does_only_its_own_work():
    x = moved(9)
    t = torch.from_numpy(x)[None]
    c = x[0, 0, CENTRE].astype(np.float64)
    run = lambda **kw: normalize(t, SPEC, **{"center": False, "rotate": False, "scale": False, **kw})[0].numpy()
    np.testing.assert_allclose(run(center=True), x - c, atol=1e-5)
    np.testing.assert_allclose(run(rotate=True), x @ axes(x, 0).T, atol=1e-4)  # turned about the origin, not moved
    np.testing.assert_allclose(run(scale=True), x / torso(x), atol=1e-5)  # scaled about the origin, not moved
    assert normalize(t, SPEC, center=False, rotate=False, scale=False) is t  # nothing asked: unchanged


def test_y_down_formats_flip_only_the_sign_of_y():
    rng = np.random.default_rng(1)
    coco = get_format("coco17")
    x2 = rng.uniform(0, 500, (1, 2, 4, coco.num_joints, 2)).astype(np.float32)
    got = normalize(torch.from_numpy(x2), coco, center=False, rotate=False)[0].numpy()  # the flip alone
    np.testing.assert_allclose(got, x2[0] * [1, -1], atol=1e-4)
    mp = get_format("mediapipe33")  # 3-D in image axes (x, y down, depth): y flipped, depth kept
    x3 = rng.uniform(0, 1, (1, 1, 3, mp.num_joints, 3)).astype(np.float32)
    got = normalize(torch.from_numpy(x3), mp, rotate=False)[0].numpy()
    hips = [mp.index("left_hip"), mp.index("right_hip")]
    c = x3[0, 0, 0, hips].astype(np.float64).mean(0)
    np.testing.assert_allclose(got, (x3[0] - c) * [1, -1, 1], atol=1e-5)


def test_a_format_with_shoulders_but_no_hips_is_aligned_on_its_shoulders():
    d = SPEC.to_dict()
    del d["hips"]
    spec = type(SPEC).from_dict(d)
    assert spec.hips is None
    x = moved(10)
    got = normalize(torch.from_numpy(x)[None], spec)[0].numpy()
    np.testing.assert_allclose(got, (x - x[0, 0, CENTRE]) @ axes(x, 0, (SL, SR)).T, atol=1e-4)


def test_a_torso_of_zero_length_leaves_the_scale_at_one():
    x = moved(11)
    x[0, :, SL] = x[0, :, SR] = x[0, :, CENTRE]  # shoulders on the centre in every frame
    got = normalize(torch.from_numpy(x)[None], SPEC, rotate=False, scale=True)[0].numpy()
    np.testing.assert_allclose(got, x - x[0, 0, CENTRE], atol=1e-5)


def test_gaps_are_filled_from_the_last_observed_frame_even_when_that_is_frame_0():
    x = torch.arange(1.0, 6 * 2 * 3 + 1).reshape(1, 1, 6, 2, 3).repeat(1, 2, 1, 1, 1)
    x[0, 0, [1, 2, 4, 5], 0] = np.nan  # joint 0 seen in frames 0 and 3
    x[0, 0, [0, 1], 1] = np.nan  # joint 1 seen from frame 2 on
    x[0, 1] = np.nan  # a second person never seen
    want = x.clone()
    want[0, 0, [1, 2], 0] = x[0, 0, 0, 0]
    want[0, 0, [4, 5], 0] = x[0, 0, 3, 0]
    want[0, 0, [0, 1], 1] = x[0, 0, 2, 1]
    want[0, 1] = 0.0
    np.testing.assert_array_equal(fill_missing(x).numpy(), want.numpy())


def test_the_output_keeps_the_input_dtype():
    x = torch.from_numpy(moved(12))[None]
    image = torch.rand(1, 2, 5, 17, 2, generator=torch.Generator().manual_seed(0)) * 100
    for spec, data in ((SPEC, x), (get_format("coco17"), image)):
        want = normalize(data, spec, rotate=False)
        for dtype in (torch.bfloat16, torch.float64):
            got = normalize(data.to(dtype), spec, rotate=False)
            assert got.dtype == dtype
            np.testing.assert_allclose(got.float().numpy(), want.numpy(), rtol=0.02,
                                       atol=2.0 if dtype == torch.bfloat16 else 1e-5)
