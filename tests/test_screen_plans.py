"""The screen plans in configs/screens validate: every variant's pretraining and evaluation settings load."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from s2i.evaluation.config import load_eval_config
from s2i.training.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "configs" / "screens").glob("*.yaml"))


def _screen():
    spec = importlib.util.spec_from_file_location("screen", ROOT / "benchmarks" / "screen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["screen"] = module  # pydantic resolves the plan's annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_every_variant_of_a_plan_makes_a_valid_config(path):
    plan = _screen().Plan.model_validate(yaml.safe_load(path.read_text()))
    assert plan.variants
    runs = {(load_config(ROOT / plan.pretrain_config, [*plan.set, *v.set]).to_yaml(), tuple(v.stores or plan.stores),
             v.eval_store or plan.eval_store) for v in plan.variants.values()}
    assert len(runs) == len(plan.variants)  # no two variants are the same run
    load_eval_config(ROOT / plan.eval_config, plan.eval_set)
    for sets in plan.carves.values():
        assert load_eval_config(ROOT / plan.eval_config, [*plan.eval_set, *sets]).linear.val_fraction > 0


def test_a_plan_with_an_unknown_key_is_refused():
    with pytest.raises(ValueError, match="varients"):
        _screen().Plan.model_validate({"pretrain_config": "a", "eval_config": "b", "stores": [], "eval_store": "x",
                                       "variants": {}, "varients": {}})
