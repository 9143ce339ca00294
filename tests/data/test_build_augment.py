"""``build_augment`` (config -> transforms, in a fixed order) and ``seeded_generator`` (the draws a resumed run
repeats): what pretraining and fine-tuning build their augmentations and random draws from."""

from __future__ import annotations

import pytest
import torch

from s2i.data import AugmentConfig, build_augment, seeded_generator
from s2i.data.augment import GaussianNoise, JointDropout, RandomFlip, RandomRotation, RandomScale, RandomShear
from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu

SPEC = get_format("ntu25")


def _described(aug) -> list[tuple]:
    out = []
    for t in aug.transforms:
        if isinstance(t, RandomFlip):
            out.append(("flip", t.spec.name, t.p))
        elif isinstance(t, RandomRotation):
            out.append(("rotate", t.degrees))
        elif isinstance(t, RandomShear):
            out.append(("shear", t.magnitude))
        elif isinstance(t, RandomScale):
            out.append(("scale", tuple(t.scale)))
        elif isinstance(t, GaussianNoise):
            out.append(("noise", t.std))
        elif isinstance(t, JointDropout):
            out.append(("dropout", t.p))
        else:
            raise AssertionError(f"unexpected transform {t!r}")
    return out


def test_nothing_configured_builds_nothing():
    assert build_augment(AugmentConfig(), SPEC) is None


def test_every_option_builds_its_transform_with_its_value_in_the_fixed_order():
    cfg = AugmentConfig(rotate=12.5, shear=0.25, scale=(0.8, 1.3), flip=0.4, joint_dropout=0.05, noise=0.02)
    assert _described(build_augment(cfg, SPEC)) == [
        ("flip", "ntu25", 0.4), ("rotate", (12.5, 12.5, 12.5)), ("shear", 0.25), ("scale", (0.8, 1.3)),
        ("noise", 0.02), ("dropout", 0.05)]


@pytest.mark.parametrize(("option", "value", "kind"), [
    ("flip", 0.5, "flip"), ("rotate", 10.0, "rotate"), ("rotate", 0.5, "rotate"), ("shear", 0.1, "shear"),
    ("scale", (0.9, 1.1), "scale"),
    ("noise", 0.01, "noise"), ("joint_dropout", 0.2, "dropout")])
def test_each_option_alone_builds_only_its_transform(option, value, kind):
    aug = build_augment(AugmentConfig(**{option: value}), SPEC)
    assert [d[0] for d in _described(aug)] == [kind]
    x = torch.from_numpy(synthetic_ntu(3, 8, 1))
    assert aug(x, torch.Generator().manual_seed(0)).shape == x.shape


def test_seeded_generator_repeats_its_draws_and_depends_on_every_part_and_their_order():
    def draws(*parts: int) -> torch.Tensor:
        return torch.rand(4, generator=seeded_generator(*parts))

    torch.testing.assert_close(draws(3, 10, 7), draws(3, 10, 7), atol=0, rtol=0)
    for other in [(3, 10, 8), (3, 11, 7), (4, 10, 7), (10, 3, 7), (3, 10)]:
        assert not torch.equal(draws(3, 10, 7), draws(*other)), other
    g = seeded_generator(3, 10, 7)
    assert g.device.type == "cpu"
    # the seed is pinned: a resumed run (and the next version) must draw the same augmentations and masks
    assert g.initial_seed() == hash((3, 10, 7)) & 0x7FFF_FFFF_FFFF
