"""Random draws made ahead of an encode (S2IEncoder.draw): the same images and generator state as drawing
inside it, and an encode given them is one torch.compile graph (no graph breaks)."""

from __future__ import annotations

import pytest
import torch

from s2i.data import AugmentConfig, build_augment
from s2i.encode import S2IConfig, S2IEncoder
from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu

EVERY = AugmentConfig(flip=0.5, rotate=20, shear=0.2, scale=(0.9, 1.1), noise=0.01, joint_dropout=0.1)


def _case(stream: str = "bone"):
    x = torch.from_numpy(synthetic_ntu(6, 40, 2, seed=4))
    x[1, 1] = float("nan")  # one single-person sequence
    x[2, 0, 5:12, 7] = float("nan")  # a gap
    ln = torch.tensor([40, 31, 40, 22, 9, 40])
    cfg = S2IConfig(height=40, width=24, stream=stream, temporal_crop=(0.5, 1.0), value_range="fixed",
                    range_lo=(-1.5,) * 3, range_hi=(1.5,) * 3)
    return S2IEncoder("ntu25", cfg), x, ln, build_augment(EVERY, get_format("ntu25"))


@pytest.mark.parametrize("stream", ["joint", "bone", "motion"])
def test_draws_made_ahead_make_the_images_of_drawing_one_transform_at_a_time(stream):
    enc, x, ln, aug = _case(stream)
    g_ahead, g_turns = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    ahead = enc(x, ln, augment=aug, draws=enc.draw(x.shape, g_ahead, aug))
    # a plain callable cannot be split: the encoder draws the crop, then each transform draws as it runs
    in_turns = enc(x, ln, generator=g_turns, augment=lambda y, g: aug(y, g))
    assert torch.equal(ahead, in_turns)
    assert torch.equal(g_ahead.get_state(), g_turns.get_state())  # the generator is left where it was
    assert torch.equal(enc(x, ln, generator=torch.Generator().manual_seed(11), augment=aug), ahead)


def test_draws_without_their_augmentation_are_refused():
    enc, x, ln, aug = _case()
    with pytest.raises(ValueError, match="need the augmentation"):
        enc(x, ln, draws=enc.draw(x.shape, torch.Generator().manual_seed(0), aug))


def test_encoder_with_every_augmentation_compiles_without_graph_breaks():
    import torch._dynamo

    enc, x, ln, aug = _case()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(enc)(x, ln, augment=aug, draws=enc.draw(x.shape, None, aug))
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
    assert explained.graph_count == 1


@pytest.mark.slow
def test_compiled_encoder_makes_the_eager_images():
    enc, x, ln, aug = _case()
    draws = enc.draw(x.shape, torch.Generator().manual_seed(3), aug)
    torch.testing.assert_close(torch.compile(enc)(x, ln, augment=aug, draws=draws),
                               enc(x, ln, augment=aug, draws=draws), atol=1e-5, rtol=0)
