"""models/optim.py pinned on values (issue 36, mutation round 2): the layer-wise lr of every parameter of a
two-block ViT, the scheduler's lr at chosen steps with a floor, the one-step cosine, and the groups of models
that lack matrices or a ``no_weight_decay()``."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from s2i.models.optim import layer_decay_groups, step_schedule, warmup_cosine, weight_decay_groups


def _vit() -> VisionTransformer:
    return VisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=2, num_heads=2, num_classes=3)


def _by_name(model: nn.Module, groups: list[dict]) -> dict[str, tuple[float, float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}


def _layer(name: str) -> int:
    """timm's layer ids of a depth-2 ViT: the stem 0, block i at i + 1, the final norm with the last block, the
    head last (3)."""
    if name.startswith(("cls_token", "pos_embed", "patch_embed")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return 2 if name.startswith("norm") else 3


def test_layer_decay_gives_each_parameter_peak_times_decay_to_its_depth():
    vit = _vit()
    got = _by_name(vit, layer_decay_groups(vit, 0.05, 0.5, 0.8))
    assert set(got) == {n for n, _ in vit.named_parameters()}  # every parameter once
    for name, p in vit.named_parameters():
        lr, wd = got[name]
        assert lr == pytest.approx(0.8 * 0.5 ** (3 - _layer(name))), name
        # no decay on 1-D parameters and on the model's no_weight_decay() names (cls token, position embedding)
        no_wd = p.ndim <= 1 or name in ("cls_token", "pos_embed")
        assert wd == (0.0 if no_wd else 0.05), name


def test_layer_decay_groups_of_a_model_without_no_weight_decay():
    """A model that names no parameters to spare (no ``no_weight_decay()``): only its 1-D ones go without."""
    net = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
    got = _by_name(net, layer_decay_groups(net, 0.1, 0.75, 0.4))
    assert got == {"0.weight": (pytest.approx(0.4), 0.1), "0.bias": (pytest.approx(0.4), 0.0),
                   "1.weight": (pytest.approx(0.4), 0.0), "1.bias": (pytest.approx(0.4), 0.0)}


def test_weight_decay_groups_keep_an_empty_decay_group_as_a_list():
    """A model of 1-D parameters only still gets [decay (empty), no decay], both lists an optimiser accepts."""
    norm = nn.LayerNorm(3)
    groups = weight_decay_groups(norm, 0.1)
    assert groups[0]["params"] == [] and groups[0]["weight_decay"] == 0.1
    assert [p is q for p, q in zip(groups[1]["params"], (norm.weight, norm.bias))] == [True, True]
    assert groups[1]["weight_decay"] == 0.0
    torch.optim.AdamW(groups, lr=1.0)  # accepted as it is
    only_matrix = nn.Linear(2, 2, bias=False)
    groups = weight_decay_groups(only_matrix, 0.1)
    assert groups[1]["params"] == [] and groups[0]["params"][0] is only_matrix.weight


def test_the_scheduler_sets_peak_times_the_schedule_with_its_floor_at_every_step():
    p = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [p], "lr": 2.0}], lr=2.0)
    conf = step_schedule(opt, warmup=2, total=6, min_ratio=0.25)
    assert conf["optimizer"] is opt and conf["lr_scheduler"]["interval"] == "step"
    sched = conf["lr_scheduler"]["scheduler"]
    seen = []
    for _ in range(8):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # warm-up 1.0, 2.0; cosine from 2.0 over 4 steps to the floor 0.5 (0.25 x 2.0), flat after
    cos = [0.25 + 0.75 * 0.5 * (1 + c) for c in (1.0, 0.5 ** 0.5, 0.0, -(0.5 ** 0.5), -1.0, -1.0)]
    assert seen == pytest.approx([1.0, 2.0] + [2.0 * c for c in cos])


def test_a_warmup_of_one_step_starts_at_the_peak():
    assert warmup_cosine(0, 1, 5, 0.1, peak=2.0) == pytest.approx(2.0)
    assert warmup_cosine(1, 1, 5, 0.1, peak=2.0) == pytest.approx(2.0)  # the cosine's first step
    assert warmup_cosine(0, 1, 1) == pytest.approx(1.0)


def test_a_cosine_of_one_step_ends_at_the_floor():
    assert warmup_cosine(0, 0, 1, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(1, 0, 1, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(3, 2, 3, 0.0, peak=2.0) == pytest.approx(0.0)  # total - warmup = 1: one cosine step
    assert warmup_cosine(2, 2, 2, 0.2) == pytest.approx(1.0)  # all warm-up: the step after it is at the peak
    assert warmup_cosine(3, 2, 2, 0.2) == pytest.approx(0.2)  # and the one after that at the floor
