"""persons: auto is decided once per pretraining run from its stores (one image layout for every format)."""

from s2i import SkeletonSequence
from s2i.testing import synthetic_ntu
from s2i.training.config import PretrainConfig
from s2i.training.fit import resolve_run_persons


def test_auto_is_first_for_single_person_stores_and_stack_when_any_store_has_two(make_store):
    one = make_store([SkeletonSequence(synthetic_ntu(1, 20, 1, seed=i)[0], "ntu25", meta={"label": 0})
                      for i in range(2)], {"xsub": {"train": [0], "test": [1]}}, name="one")
    two = make_store([SkeletonSequence(synthetic_ntu(1, 20, 2, seed=i)[0], "ntu25", meta={"label": 0})
                      for i in range(2)], {"xsub": {"train": [0], "test": [1]}}, name="two")
    cfg = PretrainConfig(optim={"max_steps": 1})
    assert cfg.encode.persons == "auto"
    assert resolve_run_persons(cfg, [str(one.path)]).encode.persons == "first"
    assert resolve_run_persons(cfg, [str(one.path), str(two.path)]).encode.persons == "stack"
    fixed = cfg.model_copy(update={"encode": cfg.encode.model_copy(update={"persons": "mean"})})
    assert resolve_run_persons(fixed, [str(two.path)]).encode.persons == "mean"
