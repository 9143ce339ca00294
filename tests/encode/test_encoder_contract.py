"""An encoder is fully described by (format spec, config, value range): state_dict and JSON round trips."""

import json

import numpy as np
import pytest
import torch

from s2i.encode import S2IConfig, S2IEncoder, encode, estimate_value_range
from s2i.formats import FormatSpec, get_format

from helpers import synthetic_ntu


def _batch():
    x = torch.from_numpy(synthetic_ntu(n=3, t=50, persons=2, seed=3))
    return x, torch.tensor([50, 41, 30])


def test_value_range_travels_in_state_dict():
    x, ln = _batch()
    lo, hi = estimate_value_range(x.numpy(), "ntu25", lengths=ln.numpy(), stream="bone", scale=True)
    enc = S2IEncoder("ntu25", stream="bone", scale=True, range_lo=lo, range_hi=hi)
    state = enc.state_dict()
    assert {"range_lo", "range_hi"} <= set(state)
    fresh = S2IEncoder("ntu25", stream="bone", scale=True)  # no range yet: cannot encode
    with pytest.raises(ValueError, match="value_range='dataset' needs"):
        fresh(x, ln)
    fresh.load_state_dict(state)
    assert torch.equal(fresh(x, ln), enc(x, ln))
    np.testing.assert_allclose(fresh.value_range[0], lo, rtol=1e-6)


def test_description_json_round_trip_recreates_identical_images(tmp_path):
    x, ln = _batch()
    lo, hi = [-1.0, -0.9, -0.5], [1.1, 0.8, 0.7]
    cfg = S2IConfig(height=96, width=48, stream="motion", layout="random", layout_seed=7, persons="stack",
                    part_resample="nearest", range_lo=lo, range_hi=hi)
    enc = S2IEncoder("ntu25", cfg)
    path = enc.save(tmp_path / "encoder.json")
    data = json.loads(path.read_text())
    assert data["value_range"] == {"lo": pytest.approx(lo), "hi": pytest.approx(hi)}
    assert data["config"]["stream"] == "motion" and data["format"]["name"] == "ntu25"
    again = S2IEncoder.load(path)
    keep = {"range_lo", "range_hi"}  # the range is the float32 state, compared through the images
    assert again.config.model_dump(exclude=keep) == enc.config.model_dump(exclude=keep)
    assert torch.equal(again(x, ln), enc(x, ln))


def test_description_carries_a_user_format_without_the_file(tmp_path):
    spec = get_format("ntu25").to_dict()
    spec["name"] = "my_lab_kinect"
    user = FormatSpec.from_dict(spec, source="mine.yaml")
    enc = S2IEncoder(user, value_range="fixed")
    again = S2IEncoder.from_description(json.loads(json.dumps(enc.describe())))
    assert again.spec.name == "my_lab_kinect" and again.spec.joints == user.joints
    x, ln = _batch()
    assert torch.equal(again(x, ln), enc(x, ln))


def test_load_rejects_what_is_not_an_encoder(tmp_path):
    bad = tmp_path / "enc.json"
    bad.write_text('{"kind": "something else"}')
    with pytest.raises(ValueError, match="enc.json: not an S2I encoder description"):
        S2IEncoder.load(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="enc.json: cannot read"):
        S2IEncoder.load(bad)


def test_encoder_built_under_inference_mode_encodes_inside_and_outside_it():
    """Buffers made under torch.inference_mode() keep no version counter (benchmarks/encode.py failed so)."""
    x, ln = _batch()
    cfg = S2IConfig(height=32, width=24, range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
    ref = S2IEncoder("ntu25", cfg)(x, ln)
    with torch.inference_mode():
        enc = S2IEncoder("ntu25", cfg)
        assert torch.equal(enc(x, ln), ref)
        from_numpy = encode(x.numpy(), "ntu25", cfg, lengths=ln.numpy())  # builds its encoder in the mode
    assert torch.equal(enc(x, ln), ref)
    np.testing.assert_array_equal(from_numpy, ref.numpy())


def test_inference_mode_encoder_still_checks_and_takes_a_new_range():
    x, ln = _batch()
    ref = S2IEncoder("ntu25", range_lo=(-1, -1, -1), range_hi=(1, 1, 1))(x, ln)
    with torch.inference_mode():
        enc = S2IEncoder("ntu25", range_lo=(-1, -1, -1), range_hi=(1, 1, 1))
        assert torch.equal(enc(x, ln), ref)
        enc.set_value_range([float("nan")] * 3, [1.0] * 3)  # in place on the unversioned buffers: checked again
        with pytest.raises(ValueError, match="value_range='dataset' needs"):
            enc(x, ln)
    with pytest.raises(ValueError, match="value_range='dataset' needs"):
        enc(x, ln)
    enc.set_value_range([-1.0] * 3, [1.0] * 3)  # outside the mode such buffers cannot change: replaced
    assert torch.equal(enc(x, ln), ref)
