"""The store Dataset (splits, resampling, crops, collation) and the skeleton augmentations."""

import numpy as np
import pytest
import torch

from s2i import SkeletonSequence
from s2i.data import (Compose, GaussianNoise, JointDropout, RandomFlip, RandomRotation, RandomScale, RandomShear,
                      SkeletonDataset, StoreWriter, pad_collate)
from s2i.formats import get_format

from helpers import synthetic_ntu


@pytest.fixture()
def store(tmp_path):
    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        for i in range(6):
            j = synthetic_ntu(1, 20 + 10 * i, 1 + i % 2, seed=i)[0]
            w.append(SkeletonSequence(j, "ntu25", meta={"label": i % 3}))
        w.finalize({"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}}, {"num_classes": 3}, {})
    return tmp_path / "st"


def test_fixed_length_items_and_loader(store):
    ds = SkeletonDataset(store, "xsub", "train", num_frames=32)
    assert len(ds) == 4 and ds.num_classes == 3
    assert ds[0]["joints"].shape == (2, 32, 25, 3) and torch.isnan(ds[0]["joints"][1]).all()  # padded person
    item = ds[1]
    assert item["joints"].shape == (2, 32, 25, 3) and item["length"] == 32 and item["label"] == 1
    # no crop: the first and last frames are kept exactly
    raw = ds.store.joints(1)
    torch.testing.assert_close(item["joints"][:, 0], torch.from_numpy(raw[:, 0]))
    torch.testing.assert_close(item["joints"][:, -1], torch.from_numpy(raw[:, -1]))
    batch = next(iter(torch.utils.data.DataLoader(SkeletonDataset(store, "xsub", "train", num_frames=32,
                                                                  max_persons=1), batch_size=4)))
    assert batch["joints"].shape == (4, 1, 32, 25, 3)


def test_store_pickles_by_path_for_spawned_workers(store):
    import pickle

    ds = SkeletonDataset(store, "xsub", "train", num_frames=16)
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # the frames are not in the pickle
    again = pickle.loads(blob)
    torch.testing.assert_close(again[2]["joints"], ds[2]["joints"], equal_nan=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert next(iter(loader))["joints"].shape == (2, 2, 16, 25, 3)


def test_seeded_crops_are_reproducible_and_change_per_epoch(store):
    ds = SkeletonDataset(store, "xsub", "test", num_frames=16, crop=(0.5, 0.6), seed=3)
    a, b = ds[0]["joints"], ds[0]["joints"]
    torch.testing.assert_close(a, b, equal_nan=True)
    ds.set_epoch(1)
    assert not torch.allclose(ds[0]["joints"][0], a[0])


def test_variable_length_pad_collate(store):
    ds = SkeletonDataset(store, "xsub", "test", num_frames=None)
    batch = pad_collate([ds[0], ds[1]])
    assert batch["joints"].shape == (2, 2, 70, 25, 3)
    assert batch["length"].tolist() == [60, 70]
    assert torch.isnan(batch["joints"][0, :, 60:]).all() and torch.isnan(batch["joints"][0, 1]).all()


def test_modality_bone(store):
    ds = SkeletonDataset(store, "xsub", "train", num_frames=8, modality="bone")
    x = ds[0]["joints"]
    assert torch.allclose(x[0, :, 0], torch.zeros(3))  # the root's bone is zero
    assert torch.isnan(x[1]).all()  # the padded second person stays missing


def bone_lengths(x, spec):
    p = torch.as_tensor(spec.parent_indices)
    return torch.linalg.vector_norm(x - x[..., p, :], dim=-1)


def test_rotation_keeps_bone_lengths_and_is_reproducible():
    spec = get_format("ntu25")
    x = torch.from_numpy(synthetic_ntu(4, 10, 2))
    rot = RandomRotation(45)
    y = rot(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(bone_lengths(y, spec), bone_lengths(x, spec), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y, rot(x, torch.Generator().manual_seed(0)))
    assert not torch.allclose(y, x)
    single = rot(x[0], torch.Generator().manual_seed(0))
    assert single.shape == x[0].shape


def test_flip_is_an_involution_and_swaps_sides():
    spec = get_format("ntu25")
    x = torch.from_numpy(synthetic_ntu(2, 5))
    flip = RandomFlip(spec, p=1.0)
    y = flip(x)
    torch.testing.assert_close(y[..., spec.index("ShoulderLeft"), 0], -x[..., spec.index("ShoulderRight"), 0])
    torch.testing.assert_close(flip(y), x)


def test_dropout_shear_scale_noise():
    x = torch.from_numpy(synthetic_ntu(64, 6, 1))
    d = JointDropout(0.2)(x, torch.Generator().manual_seed(1))
    frac = torch.isnan(d[..., 0]).float().mean().item()
    assert 0.12 < frac < 0.28
    assert (torch.isnan(d[..., 0]).all(2) == torch.isnan(d[..., 0]).any(2)).all()  # whole joint tracks
    s = RandomScale((2.0, 2.0))(x)
    torch.testing.assert_close(s, 2 * x)
    sh = RandomShear(0.0)(x)
    torch.testing.assert_close(sh, x)
    pipe = Compose([RandomRotation(10), RandomShear(0.2), GaussianNoise(0.001)])
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    torch.testing.assert_close(pipe(x, g()), pipe(x, g()))
    x2 = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 2, 4, 17, 2)).astype(np.float32))
    assert RandomRotation(30)(x2).shape == x2.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_augmentations_on_gpu_match_cpu():
    x = torch.from_numpy(synthetic_ntu(4, 10, 2))
    pipe = Compose([RandomRotation(30), RandomShear(0.3), RandomScale(), RandomFlip("ntu25")])
    cpu = pipe(x, torch.Generator().manual_seed(0))
    gpu = pipe(x.cuda(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-5)
