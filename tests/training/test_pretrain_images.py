"""The images of a pretraining step (augment + encode in MAEPretrainModule.images) on a GPU equal the CPU's."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_config

from s2i.formats import get_format
from s2i.testing.synthetic import synthetic_ntu
from s2i.training.pretrain_module import MAEPretrainModule


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_pretrain_images_on_gpu_match_cpu():
    cfg = tiny_config("augment.scale=[0.9, 1.1]", "augment.shear=0.2")
    module = MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), ([-1.0] * 3, [1.0] * 3))}, 10, 2, 4,
                               load_init=False)
    joints = torch.from_numpy(synthetic_ntu(6, 30, 2, seed=3))
    joints[1, 1] = float("nan")  # one single-person sequence
    batch = {"formats": {"ntu25": {"joints": joints, "length": torch.tensor([30, 20, 25, 30, 12, 30])}}, "batch": 0}
    cpu = module.images(batch, torch.Generator().manual_seed(7))
    gpu = module.to("cuda").images(batch, torch.Generator().manual_seed(7))
    assert gpu.is_cuda and gpu.shape == cpu.shape
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)
