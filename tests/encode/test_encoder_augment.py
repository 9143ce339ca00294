"""Training augmentations run inside the encoder, on the centred and view-aligned joints.

A rotation of raw joints is undone by the encoder's view alignment (hips -> x, spine -> y): passed as
``augment=``, it acts after the alignment and changes the image, with draws independent of the chunking.
"""

from __future__ import annotations

import pytest
import torch

from s2i.data import AugmentConfig, Compose, RandomRotation, RandomShear, build_augment
from s2i.encode import S2IConfig, S2IEncoder
from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu

CFG = S2IConfig(height=40, width=24, persons="first", value_range="fixed", range_lo=(-1.5,) * 3,
                range_hi=(1.5,) * 3)


def batch(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    seqs = [torch.from_numpy(synthetic_ntu(1, 30, 1, seed=s)[0]) for s in range(n)]
    return torch.stack(seqs), torch.full((n,), 30)


def test_rotation_of_raw_joints_is_undone_by_view_alignment_but_not_as_augment():
    x, ln = batch()
    enc = S2IEncoder("ntu25", CFG)
    plain = enc(x, ln)
    rot = RandomRotation(40)
    before = enc(rot(x, torch.Generator().manual_seed(1)), ln)
    assert torch.allclose(before, plain, atol=1e-5)  # the alignment removes a rotation of the raw joints
    inside = enc(x, ln, generator=torch.Generator().manual_seed(1), augment=rot)
    assert (inside - plain).abs().amax(dim=(1, 2, 3)).min() > 0.02  # every sample's image changed


def test_augment_acts_on_the_normalised_joints():
    """encoder(x, augment=f) == the same encoder without normalisation, fed f(normalise(x))."""
    x, ln = batch()
    enc = S2IEncoder("ntu25", CFG)
    bare = S2IEncoder("ntu25", CFG.model_copy(update={"center": False, "rotate": False}))
    aug = Compose([RandomRotation(30), RandomShear(0.4)])
    got = enc(x, ln, generator=torch.Generator().manual_seed(3), augment=aug)
    want = bare(aug(enc.normalize(x), torch.Generator().manual_seed(3)), ln)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    # the origin the augmentation turns about is the body centre of the first frame
    centre = torch.from_numpy(get_format("ntu25").center_indices)
    assert torch.allclose(enc.normalize(x)[:, 0, 0, centre].mean(1), torch.zeros(len(x), 3), atol=1e-5)


def test_augment_draws_do_not_depend_on_chunking_and_repeat_with_the_seed():
    x, ln = batch(7)
    enc = S2IEncoder("ntu25", CFG)
    aug = build_augment(AugmentConfig(rotate=20, shear=0.3, scale=(0.8, 1.2), noise=0.01), get_format("ntu25"))
    a = enc(x, ln, generator=torch.Generator().manual_seed(5), augment=aug, chunk=2)
    b = enc(x, ln, generator=torch.Generator().manual_seed(5), augment=aug, chunk=7)
    c = enc(x, ln, generator=torch.Generator().manual_seed(6), augment=aug, chunk=7)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (a - c).abs().max() > 0.02


def test_build_augment_order_and_off_switch():
    spec = get_format("ntu25")
    assert build_augment(AugmentConfig(), spec) is None
    every = AugmentConfig(flip=0.5, rotate=10, shear=0.2, scale=(0.9, 1.1), noise=0.01, joint_dropout=0.1)
    names = [type(t).__name__ for t in build_augment(every, spec).transforms]  # type: ignore[union-attr]
    assert names == ["RandomFlip", "RandomRotation", "RandomShear", "RandomScale", "GaussianNoise", "JointDropout"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_augment_inside_encoder_on_cuda_matches_cpu():
    """Draws come from a CPU generator and are moved to the device: the same images on GPU and CPU."""
    x, ln = batch()
    enc = S2IEncoder("ntu25", CFG)
    aug = build_augment(AugmentConfig(rotate=20, shear=0.3, scale=(0.8, 1.2)), get_format("ntu25"))
    cpu = enc(x, ln, generator=torch.Generator().manual_seed(2), augment=aug)
    gpu = enc.to("cuda")(x.cuda(), ln.cuda(), generator=torch.Generator().manual_seed(2), augment=aug)
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)


def test_encoder_runs_in_float32_inside_autocast():
    """Fine-tuning and pretraining call the encoder inside bf16 autocast: the images stay float32 and equal."""
    x, ln = batch()
    enc = S2IEncoder("ntu25", CFG)
    aug = build_augment(AugmentConfig(rotate=20, shear=0.3), get_format("ntu25"))
    want = enc(x, ln, generator=torch.Generator().manual_seed(4), augment=aug)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = enc(x, ln, generator=torch.Generator().manual_seed(4), augment=aug)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=0, rtol=0)
