import itertools

import numpy as np
import pytest
import torch

from s2i.encode import S2IConfig, S2IEncoder, band_sizes, build_row_map, build_time_map, encode, estimate_value_range
from s2i.formats import get_format
from s2i.testing.reference import encode_reference

from helpers import synthetic_ntu


def with_gaps(seed=0):
    x = synthetic_ntu(n=3, t=23, persons=2, seed=seed)
    x[0, 1] = np.nan  # a one-person sequence in a two-person batch
    x[1, 0, 3:6, 7] = np.nan  # a dropped hand for three frames
    x[1, 0, :2, 11] = np.nan  # missing at the start
    return x, np.array([23, 17, 1])


def test_default_image_is_224_and_in_unit_range():
    x = synthetic_ntu(n=2, t=50)
    img = encode(x, "ntu25", value_range="sequence")
    assert img.shape == (2, 3, 224, 224) and img.dtype == np.float32
    # per-sequence range: each channel of each image reaches (nearly: columns interpolate frames) 0 and 1
    per = img.reshape(2, 3, -1)
    assert (per.min(-1) < 0.02).all() and (per.max(-1) > 0.98).all()


def test_band_sizes_match_spec():
    assert band_sizes(224) == [45, 45, 45, 45, 44]
    assert band_sizes(112) == [23, 23, 22, 22, 22]
    with pytest.raises(ValueError):
        band_sizes(4)


@pytest.mark.parametrize("stream, persons, layout, resample, value_range", list(itertools.product(
    ["joint", "bone", "motion", "bone_motion"], ["stack", "first", "mean"], ["parts", "raw"],
    ["linear", "nearest"], ["fixed", "sequence"])))
def test_matches_naive_reference(stream, persons, layout, resample, value_range):
    x, lengths = with_gaps()
    cfg = S2IConfig(height=40, width=30, stream=stream, persons=persons, layout=layout,
                    part_resample=resample, time_resample=resample, value_range=value_range, scale=True)
    ref = encode_reference(x, "ntu25", cfg, lengths=lengths)
    got_np = encode(x, "ntu25", cfg, lengths=lengths)
    got_t = encode(torch.from_numpy(x), "ntu25", cfg, lengths=torch.from_numpy(lengths))
    assert isinstance(got_np, np.ndarray) and isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_np, ref, atol=1e-5)
    np.testing.assert_allclose(got_t.numpy(), ref, atol=1e-5)


def test_gather_and_matmul_agree_and_chunking_is_invisible():
    x, lengths = with_gaps(1)
    enc = S2IEncoder("ntu25", value_range="sequence")
    xt, lt = torch.from_numpy(x), torch.from_numpy(lengths)
    a = enc(xt, lt, method="gather", chunk=1)
    b = enc(xt, lt, method="matmul")
    c = enc(xt, lt, method="gather", chunk=64, out=torch.empty(3, 3, 224, 224))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    torch.testing.assert_close(a, c, atol=0, rtol=0)


def test_2d_format_confidence_channel_matches_reference():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(2, 3, 12, 17, 2)).astype(np.float32)
    conf = rng.uniform(size=(2, 3, 12, 17)).astype(np.float32)
    cfg = S2IConfig(height=30, width=20, value_range="sequence")
    img = encode(x, "coco17", cfg, confidence=conf)
    np.testing.assert_allclose(img, encode_reference(x, "coco17", cfg, confidence=conf), atol=1e-5)
    # 2 persons stacked, nearest maps with a row per joint and a column per frame: the third channel is
    # the confidence itself, person 0's block on top, never rescaled by the value range
    exact = S2IConfig(height=34, width=12, value_range="sequence", layout="raw", part_resample="nearest",
                      time_resample="nearest")
    img = encode(x, "coco17", exact, confidence=conf)
    want = conf[:, :2].transpose(0, 1, 3, 2).reshape(2, 34, 12)  # (N, persons * V, T)
    np.testing.assert_allclose(img[:, 2], want, atol=1e-6)


def test_single_sequence_and_numpy_boundary():
    x = synthetic_ntu(n=1, t=30)[0]
    img = encode(x, "ntu25", value_range="fixed", height=50, width=40)
    assert img.shape == (3, 50, 40)


def test_dataset_range_required_and_estimated():
    x = synthetic_ntu(n=4, t=30, persons=2)
    with pytest.raises(ValueError, match="value_range='dataset' needs"):
        encode(x, "ntu25")
    lo, hi = estimate_value_range(x, "ntu25", percentiles=(1, 99))
    vals = S2IEncoder("ntu25").stream_values(torch.from_numpy(x))[0].reshape(-1, 3).double().numpy()
    np.testing.assert_allclose(lo, np.percentile(vals, 1, axis=0), atol=1e-5)
    np.testing.assert_allclose(hi, np.percentile(vals, 99, axis=0), atol=1e-5)
    img = encode(x, "ntu25", range_lo=lo, range_hi=hi)
    # 1-99 % range: about 1 % of the values clip at each end (rows and columns interpolate, so roughly)
    assert 0.002 < (img == 0).mean() < 0.03 and 0.002 < (img == 1).mean() < 0.03


def test_normalisation_is_view_invariant():
    """Rotating and translating the input (a different camera) barely changes the image."""
    x = synthetic_ntu(n=1, t=30)
    ang = np.deg2rad(40)
    rot = np.array([[np.cos(ang), 0, np.sin(ang)], [0, 1, 0], [-np.sin(ang), 0, np.cos(ang)]], dtype=np.float32)
    moved = x @ rot.T + np.array([1.0, 0.2, 0.5], dtype=np.float32)
    a = encode(x, "ntu25", value_range="fixed")
    b = encode(moved, "ntu25", value_range="fixed")
    np.testing.assert_allclose(a, b, atol=1e-4)
    no_rot = encode(moved, "ntu25", value_range="fixed", rotate=False)
    assert np.abs(no_rot - a).max() > 0.05


def test_motion_stream_of_a_still_pose_is_constant():
    x = np.repeat(synthetic_ntu(n=1, t=1), 20, axis=2)
    img = encode(x, "ntu25", stream="motion", value_range="fixed")
    np.testing.assert_allclose(img, 0.5, atol=1e-6)  # zero motion maps to the middle of [-1, 1]


def test_temporal_crop_is_reproducible_and_within_valid_frames():
    lengths = torch.tensor([100, 10, 1])
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = build_time_map(lengths, 64, crop=(0.5, 1.0), generator=g1)
    b = build_time_map(lengths, 64, crop=(0.5, 1.0), generator=g2)
    assert torch.equal(a.t0, b.t0) and torch.equal(a.weight, b.weight)
    assert (a.t1 < lengths[:, None]).all() and (a.t0 >= 0).all()
    span = a.t1.max(1).values - a.t0.min(1).values + 1
    assert (span >= (lengths * 0.5).floor()).all()
    full = build_time_map(lengths, 64)
    assert full.t0[0, 0] == 0 and full.t1[0, -1] == 99


def test_arclength_rows_follow_limb_lengths():
    spec = get_format("ntu25")
    x = torch.from_numpy(synthetic_ntu(n=2, t=10))
    enc = S2IEncoder(spec, part_resample="arclength", value_range="fixed")
    rows = enc.row_map(x)
    assert rows.idx0.shape == (2, 224)
    # arclength and linear agree on the first and last row of every band (proximal and distal joints)
    lin = build_row_map(spec, 224, 2)
    edges = np.cumsum([0] + band_sizes(112))
    ends = [int(p * 112 + e) for p in range(2) for e in [*edges[:-1], *(edges[1:] - 1)]]
    assert len(ends) == 20
    for n in range(2):
        assert torch.equal(rows.idx0[n, ends], lin.idx0[ends]) and torch.equal(rows.idx1[n, ends], lin.idx1[ends])
        torch.testing.assert_close(rows.weight[n, ends], lin.weight[ends])
    img = enc(x)
    assert img.shape == (2, 3, 224, 224) and torch.isfinite(img).all()


def test_wrong_joint_count_is_a_clear_error():
    with pytest.raises(ValueError, match="has 20 joints but the input has V=25"):
        encode(synthetic_ntu(n=1), "kinect_v1", value_range="fixed")


# Kinect v1 (20 joints) as a subset of NTU / Kinect v2 (25): the same motion in two formats.
V1_FROM_NTU = ["SpineBase", "SpineMid", "SpineShoulder", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
               "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft",
               "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight"]


def test_heterogeneous_formats_line_up():
    ntu, v1 = get_format("ntu25"), get_format("kinect_v1")
    x25 = synthetic_ntu(n=2, t=40, persons=1, seed=7)
    x20 = x25[..., [ntu.index(j) for j in V1_FROM_NTU], :]
    cfg = S2IConfig(value_range="fixed", range_lo=(-1, -1, -0.5), range_hi=(1, 1, 0.5))
    a, b = encode(x25, ntu, cfg), encode(x20, v1, cfg)
    bands = np.cumsum([0] + band_sizes(224))  # one person: persons=auto -> first, the bands fill the image
    for k, (r0, r1) in enumerate(zip(bands[:-1], bands[1:])):
        # the proximal joint (pelvis / shoulder / hip) is the same joint in both formats
        np.testing.assert_allclose(a[:, :, r0], b[:, :, r0], atol=1e-5)
        corr = np.corrcoef(a[:, :, r0:r1].ravel(), b[:, :, r0:r1].ravel())[0, 1]
        assert corr > 0.95, (k, corr)
    # legs have the same four joints in both: identical bands
    np.testing.assert_allclose(a[:, :, bands[3]:bands[5]], b[:, :, bands[3]:bands[5]], atol=1e-5)
    # the head closes the torso band in both
    np.testing.assert_allclose(a[:, :, bands[1] - 1], b[:, :, bands[1] - 1], atol=1e-5)
    parts_gap = np.abs(a - b).mean()
    raw_gap = np.abs(encode(x25, ntu, cfg, layout="raw") - encode(x20, v1, cfg, layout="raw")).mean()
    assert parts_gap < raw_gap / 3, (parts_gap, raw_gap)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_gpu_matches_cpu():
    x, lengths = with_gaps()
    cpu = encode(torch.from_numpy(x), "ntu25", value_range="sequence", lengths=torch.from_numpy(lengths))
    gpu = encode(torch.from_numpy(x).cuda(), "ntu25", value_range="sequence", lengths=torch.from_numpy(lengths))
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)


def test_image_coordinates_are_flipped_to_y_up():
    """2D image-plane formats (y down) come out the same way up as 3D data."""
    from s2i.encode.normalize import normalize

    spec = get_format("coco17")
    x = torch.zeros(1, 1, 2, 17, 2)
    x[..., spec.index("nose"), 1] = 100.0  # image rows: the nose above (smaller y than) the ankles
    x[..., spec.index("left_ankle"), 1] = 400.0
    x[..., spec.index("right_ankle"), 1] = 400.0
    x[..., spec.index("left_hip"), 1] = 250.0
    x[..., spec.index("right_hip"), 1] = 250.0
    y = normalize(x, spec)
    assert y[0, 0, 0, spec.index("nose"), 1] > 0 > y[0, 0, 0, spec.index("left_ankle"), 1]
    assert not get_format("ntu25").y_down


def test_person_mean_ignores_absent_persons():
    x = synthetic_ntu(n=2, t=12, persons=2)
    x[0, 1] = np.nan  # sequence 0 has one person
    mean = encode(x, "ntu25", value_range="fixed", persons="mean")
    first = encode(x, "ntu25", value_range="fixed", persons="first")
    np.testing.assert_allclose(mean[0], first[0], atol=1e-6)
    assert np.abs(mean[1] - first[1]).max() > 0.05  # two people: their mean differs from the first


def test_encode_takes_the_format_keyword_of_embed():
    import s2i
    from s2i.skeleton import SkeletonSequence

    x = synthetic_ntu(n=2, t=20)
    ref = s2i.encode(x, "ntu25", value_range="sequence", height=32, width=32)
    np.testing.assert_array_equal(s2i.encode(x, format="ntu25", value_range="sequence", height=32, width=32), ref)
    np.testing.assert_array_equal(s2i.encode(x, fmt="ntu25", value_range="sequence", height=32, width=32), ref)
    seq = SkeletonSequence(x[0], "ntu25")
    np.testing.assert_array_equal(s2i.encode(seq, format="ntu25", value_range="sequence", height=32, width=32), ref[0])
    with pytest.raises(ValueError, match="name different formats"):
        s2i.encode(x, "ntu25", format="coco17")
