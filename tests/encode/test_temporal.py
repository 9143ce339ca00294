"""The time map (encode/temporal.py) by value (issue 18, mutation testing): one and two columns, the
error for an unknown resampling, and the crop's span and start drawn independently over their full ranges."""

import pytest
import torch

from s2i.encode.temporal import build_time_map


def test_one_and_two_columns_take_the_first_and_the_last_frame():
    one = build_time_map(torch.tensor([5, 1]), 1)
    assert one.t0.tolist() == [[0], [0]] and one.t1.tolist() == [[1], [0]] and one.weight.tolist() == [[0.0], [0.0]]
    two = build_time_map(torch.tensor([5, 1]), 2)
    assert two.t0.tolist() == [[0, 4], [0, 0]] and two.t1.tolist() == [[1, 4], [0, 0]]
    assert two.weight.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_an_unknown_resampling_is_refused_by_name():
    with pytest.raises(ValueError) as e:
        build_time_map(torch.tensor([5]), 4, resample="cubic")
    assert str(e.value) == "unknown time_resample 'cubic'; expected linear or nearest"


def test_crop_span_and_start_cover_their_ranges_independently():
    n, length = 4000, 20
    g = torch.Generator().manual_seed(0)
    tm = build_time_map(torch.full((n,), length), 64, crop=(0.5, 1.0), generator=g)
    start = tm.t0[:, 0]
    span = tm.t1[:, -1] - start + 1
    assert span.min().item() == 10 and span.max().item() == 20  # round(20 * [0.5, 1.0])
    # every start 0..20-span is drawn about equally often: the last one too, and not twice as often
    short = span == 10
    counts = torch.bincount(start[short], minlength=11).double()
    assert counts.shape[0] == 11 and counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()
    # span and start are drawn from separate numbers: long spans still start anywhere allowed
    where = (start.double() + 0.5) / (length - span + 1).double()  # the start's place in its allowed range
    assert torch.corrcoef(torch.stack([span.double(), where]))[0, 1].abs() < 0.1
