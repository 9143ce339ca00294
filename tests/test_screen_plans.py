"""The screen plans in configs/screens validate: every variant's pretraining and evaluation settings load."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2i.evaluation.config import load_eval_config
from s2i.evaluation.record import RunRecord
from s2i.training.config import load_config

from helpers import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "configs" / "screens").glob("*.yaml"))


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_every_variant_of_a_plan_makes_a_valid_config(path):
    plan = load_benchmark("screen").load_plan(path)
    assert plan.variants
    runs = {(load_config(ROOT / (v.pretrain_config or plan.pretrain_config), [*plan.set, *v.set]).to_yaml(),
             tuple(v.stores or plan.stores), v.eval_store or plan.eval_store) for v in plan.variants.values()}
    assert len(runs) == len(plan.variants)  # no two variants are the same run
    for v in plan.variants.values():
        config, sets = plan.eval_sets(v, *v.random_set)
        load_eval_config(ROOT / config, sets)
        for carve in plan.carves.values():
            assert load_eval_config(ROOT / config, [*sets, *carve]).linear.val_fraction > 0
        for e, ev in plan.evals.items():
            assert ev.variants is None or set(ev.variants) <= set(plan.variants), e
            cfg = load_eval_config(ROOT / config, [*sets, *ev.set])
            if ev.carve:  # a carve evaluation holds a carve out, or its "carve score" would be empty
                assert getattr(cfg, ev.protocol).val_fraction > 0, e


def test_a_plan_runs_its_protocols_evaluations_and_carves_with_their_own_overrides(tmp_path, monkeypatch):
    """What each evaluation of a variant is given: folder, protocol, store and overrides, in order (nothing is
    trained: pretrain and run_protocol are recorded)."""
    screen = load_benchmark("screen")
    plan = screen.Plan.model_validate({
        "pretrain_config": "configs/nwucla_tiny.yaml", "eval_config": "configs/eval/nwucla_tiny.yaml",
        "stores": ["a"], "eval_store": "a", "eval_set": ["seeds=[0,1,2]"], "protocols": ["linear"],
        "evals": {"k": {"protocol": "knn", "set": ["seeds=[0]"], "inits": ["pretrained", "random"]},
                  "t": {"protocol": "transfer", "store": "b", "variants": ["other"]},
                  "f": {"protocol": "finetune", "set": ["finetune.val_fraction=0.2"], "carve": True}},
        "carves": {"c": ["linear.val_fraction=0.2"]}, "random": True,
        "variants": {"v": {"eval_set": ["batch_size=8"], "random_set": ["finetune.base_lr=4e-3"]}, "other": {}}})
    calls = []
    monkeypatch.setattr(screen, "pretrain", lambda cfg, data, run, resume: calls.append(("pretrain", data)))
    monkeypatch.setattr(screen, "load_eval_config", lambda path, sets: list(sets))

    def protocol(name, run, store, folder, config, progress):
        calls.append((folder.name, name, store.name, config))
        training = ({"finetune": {"joint": [{"val_top1": [30.0, 45.0], "num_val_samples": 6},
                                            {"val_top1": [20.0, 55.0], "num_val_samples": 6}]}}
                    if name == "finetune" else {"linear": {"joint": [{"val_top1": [40.0], "num_val_samples": 4}]}})
        return RunRecord.model_validate({
            "protocol": name, "top1": 50.0, "top5": 90.0, "dataset": "d", "split": "s", "stream": "joint",
            "top1_seeds": {"mean": 50.0, "std": 1.0}, "num_test_samples": 10, "seeds": [0],
            "training": training})

    monkeypatch.setattr(screen, "run_protocol", protocol)
    out = screen.run_variant(plan, "v", tmp_path / "stores", tmp_path / "work")
    base = ["seeds=[0,1,2]", "batch_size=8"]
    assert calls == [
        ("pretrain", [tmp_path / "stores" / "a"]),
        ("pretrained-linear", "linear", "a", [*base, "init=pretrained", "method=v pretrained"]),
        ("random-linear", "linear", "a", [*base, "finetune.base_lr=4e-3", "init=random", "method=v random"]),
        ("pretrained-k", "knn", "a", [*base, "seeds=[0]", "init=pretrained", "method=v pretrained k"]),
        ("random-k", "knn", "a", [*base, "seeds=[0]", "finetune.base_lr=4e-3", "init=random", "method=v random k"]),
        ("pretrained-f", "finetune", "a", [*base, "finetune.val_fraction=0.2", "init=pretrained",
                                           "method=v pretrained f"]),
        ("carve-c", "linear", "a", [*base, "linear.val_fraction=0.2", "method=v carve-c"])]
    assert set(out) == {"pretrained-linear", "random-linear", "pretrained-k", "random-k", "carve-pretrained-f",
                        "carve-c"}
    # a carve evaluation is summarised by its carve's last epoch over seeds (sample std), never by its test score
    assert out["carve-pretrained-f"] == {"val_top1": 50.0, "std": 7.07, "n_val": 6, "val_groups": None}
    assert out["carve-c"]["val_top1"] == 40.0 and "top1" not in out["carve-pretrained-f"]
    calls.clear()
    screen.run_variant(plan, "other", tmp_path / "stores", tmp_path / "work")
    assert [c[:3] for c in calls if c[0] == "pretrained-t"] == [("pretrained-t", "transfer", "b")]


def test_a_plan_with_an_unknown_key_is_refused():
    with pytest.raises(ValueError, match="varients"):
        load_benchmark("screen").Plan.model_validate({"pretrain_config": "a", "eval_config": "b", "stores": [],
                                                      "eval_store": "x", "variants": {}, "varients": {}})
