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


def test_pretrain_images_are_draw_then_render_and_render_is_one_graph():
    """images() = render(draw()): the draws (CPU generator) stay outside what torch.compile traces."""
    import torch._dynamo

    cfg = tiny_config("augment.scale=[0.9, 1.1]", "augment.shear=0.2", "augment.flip=0.5",
                      "augment.joint_dropout=0.1")
    module = MAEPretrainModule(cfg, {"ntu25": (get_format("ntu25"), ([-1.0] * 3, [1.0] * 3))}, 10, 2, 4,
                               load_init=False)
    joints = torch.from_numpy(synthetic_ntu(4, 30, 2, seed=5))
    batch = {"formats": {"ntu25": {"joints": joints, "length": torch.tensor([30, 20, 25, 12])}}, "batch": 0}
    draws = module.draw(batch, torch.Generator().manual_seed(2))
    assert torch.equal(module.render(batch, draws), module.images(batch, torch.Generator().manual_seed(2)))
    torch._dynamo.reset()
    explained = torch._dynamo.explain(module.render)(batch, draws)
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
