"""models/optim.py: the weight-decay groups keep the optimiser-state layout of existing checkpoints, and
"auto" picks CUDA exactly when a GPU is there. (The schedule's values are pinned in test_schedule_resume.py
and test_eval_values.py, the groups of the real models in test_schedule_resume.py and test_finetune_values.py.)"""

from __future__ import annotations

import torch
from torch import nn

from s2i.models.optim import resolve_device, weight_decay_groups


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.pos_embed = nn.Parameter(torch.zeros(1, 3, 4))
        self.fc = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


def _names(model: nn.Module, groups: list[dict]) -> list[tuple[list[str], float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return [([names[id(p)] for p in g["params"]], g["weight_decay"]) for g in groups]


def test_weight_decay_groups_are_matrices_then_the_rest_even_without_weight_decay():
    """[decay, no decay] in this order with the same members whatever the weight decay: timm alone would give
    [no decay, decay], and one group at weight decay 0, and old checkpoints' optimiser state would not load."""
    net = _Net()
    expected_members = [["fc.weight"], ["cls_token", "pos_embed", "fc.bias", "norm.weight", "norm.bias"]]
    for wd in (0.05, 0.0):
        got = _names(net, weight_decay_groups(net, wd))
        assert [m for m, _ in got] == expected_members
        assert [d for _, d in got] == [wd, 0.0]


def test_resolve_device_auto_follows_cuda_and_names_pass_through(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
