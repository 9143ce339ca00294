"""The resampling maps checked on values: confidence is blended in time like the coordinates, crops can
start on the first and end on the last valid frame, and arclength rows sit at equal fractions of the
limbs' actual lengths."""

import numpy as np
import torch

from s2i.encode import S2IConfig, S2IEncoder, band_sizes, build_time_map, encode
from s2i.formats import get_format

from helpers import synthetic_ntu


def test_confidence_is_blended_in_time_like_the_coordinates():
    """width = 2T - 1 linear columns: even columns are frames, odd ones the mean of two neighbours."""
    rng = np.random.default_rng(5)
    t = 6
    x = rng.uniform(0, 1, size=(2, 1, t, 17, 2)).astype(np.float32)
    conf = rng.uniform(0, 1, size=(2, 1, t, 17)).astype(np.float32)
    cfg = S2IConfig(height=17, width=2 * t - 1, layout="raw", part_resample="nearest", value_range="sequence",
                    persons="first", max_persons=1)
    img = encode(x, "coco17", cfg, confidence=conf)[:, 2]  # (N, V, W)
    c = conf[:, 0].transpose(0, 2, 1)  # (N, V, T)
    np.testing.assert_allclose(img[:, :, 0::2], c, atol=1e-6)
    np.testing.assert_allclose(img[:, :, 1::2], (c[:, :, :-1] + c[:, :, 1:]) / 2, atol=1e-6)
    short = encode(x, "coco17", cfg, confidence=conf, lengths=np.array([t, 3]))[1, 2]
    np.testing.assert_allclose(short[:, 0], c[1, :, 0], atol=1e-6)  # only the valid frames are spread
    np.testing.assert_allclose(short[:, -1], c[1, :, 2], atol=1e-6)


def test_time_map_crops_reach_both_ends_of_the_valid_frames():
    lengths = torch.full((2000,), 20)
    tm = build_time_map(lengths, 8, crop=(0.5, 0.5), generator=torch.Generator().manual_seed(0))
    first, last = tm.t0[:, 0], tm.t1[:, -1]
    assert (last - first == 9).all()  # every window is half the frames
    assert first.min() == 0 and last.max() == 19  # can start on the first and end on the last frame
    counts = torch.bincount(first, minlength=11)
    assert counts.numel() == 11 and (counts > 100).all()  # every start 0..10 is drawn, roughly uniformly
    assert (tm.weight[:, -1] == 0).all()


def test_arclength_rows_sit_at_equal_fractions_of_limb_length():
    spec = get_format("ntu25")
    x = synthetic_ntu(1, 3, 1, seed=0)
    chain = [spec.index(j) for j in ("HipLeft", "KneeLeft", "AnkleLeft", "FootLeft")]
    lengths = np.array([0.6, 0.3, 0.1])  # thigh, shin, foot: cumulative 0, 0.6, 0.9, 1.0
    x[0, 0, :, chain[0]] = [0.0, 0.0, 0.0]
    for k, seg in enumerate(lengths):
        x[0, 0, :, chain[k + 1]] = x[0, 0, :, chain[k]] - np.array([0.0, seg, 0.0], dtype=np.float32)
    enc = S2IEncoder(spec, part_resample="arclength", value_range="fixed", height=112, persons="first")
    rows = enc.row_map(torch.from_numpy(x))
    edges = np.cumsum([0] + band_sizes(112))
    r0, r1 = edges[3], edges[4]  # the left-leg band
    u = np.linspace(0, 1, r1 - r0)
    cum = np.concatenate([[0], np.cumsum(lengths)])
    k = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, 2)
    w = (u - cum[k]) / lengths[k]
    idx0 = np.array(chain)[k]
    got0, got_w = rows.idx0[0, r0:r1].numpy(), rows.weight[0, r0:r1].numpy()
    inner = w < 1 - 1e-6  # the last row sits on the foot itself
    np.testing.assert_array_equal(got0[inner], idx0[inner])
    np.testing.assert_allclose(got_w[inner], w[inner], atol=1e-5)
    # 60 % of the band's rows lie on the thigh: evenly spaced joints would give it a third
    assert abs((got0 == chain[0]).mean() - 0.6) < 0.06
