"""Representation screens from a YAML plan: pretrain each variant, then evaluate it frozen, resumably.

A plan (``configs/screens/*.yaml``; ``_base_: PLAN`` extends another) names a pretraining config, the ``--set``
overrides every variant shares, the variants (each its own overrides and, optionally, its own configs, stores
and evaluation overrides), the evaluation config, protocols and the store each variant is evaluated on. For
every variant the runner pretrains (``--resume`` when a run was cut off), evaluates each protocol, and keeps the
results under ``WORK/VARIANT/``; ``random: true`` also evaluates the same architecture with random weights;
``evals`` are further named evaluations (a protocol with its own overrides, for the inits it names);
``carves`` run the linear probe again with a validation carve of the training split held out (the scores that
choose a variant; the test numbers never do); an evaluation with ``carve: true`` (a fine-tune recipe held out
on a carve, say) is summarised by its carve's score too. The last line
printed is one JSON object: per variant and protocol, top-1 mean, std and seeds, n and the 95 % Wilson
interval of the mean accuracy on n test sequences.

    python benchmarks/screen.py configs/screens/objectives.yaml --stores DIR --work DIR [--only NAME ...]

Stores are named by folder under ``--stores`` (``nwucla`` is ``DIR/nwucla``). Run two variants at once with
two ``--only`` processes; a finished step is never run again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from s2i.config_files import read_config_tree
from s2i.evaluation.config import load_eval_config
from s2i.evaluation.metrics import mean_std, top1_interval
from s2i.evaluation.protocols import run_protocol
from s2i.evaluation.record import RunRecord, load_record
from s2i.training.config import load_config
from s2i.training.fit import pretrain


class Variant(BaseModel):
    """One pretraining of a screen: its overrides and, when not the plan's, its configs and stores."""

    model_config = ConfigDict(extra="forbid")
    set: list[str] = Field(default_factory=list)
    stores: list[str] | None = None
    eval_store: str | None = None
    pretrain_config: str | None = None
    eval_config: str | None = None
    eval_set: list[str] = Field(default_factory=list, description="overrides of every evaluation of this variant")
    random_set: list[str] = Field(default_factory=list, description="and of its random-init evaluations (their"
                                  " own recipe)")


class Eval(BaseModel):
    """A named evaluation of every variant: a protocol with its own overrides, for the inits it names."""

    model_config = ConfigDict(extra="forbid")
    protocol: str
    set: list[str] = Field(default_factory=list)
    inits: list[Literal["pretrained", "random"]] = Field(default_factory=lambda: ["pretrained"])
    store: str | None = Field(None, description="the store evaluated on, when not the variant's (transfer)")
    variants: list[str] | None = Field(None, description="the variants it evaluates (None: all)")
    carve: bool = Field(False, description="its set holds out a validation carve of the training split: the summary"
                        " is the carve's last-epoch score (what chooses); the test score stays in results.json")


class Plan(BaseModel):
    """A screen: shared pretraining and evaluation settings, and the variants that differ."""

    model_config = ConfigDict(extra="forbid")
    pretrain_config: str
    eval_config: str
    stores: list[str]
    eval_store: str
    set: list[str] = Field(default_factory=list)
    eval_set: list[str] = Field(default_factory=list)
    protocols: list[str] = Field(default_factory=lambda: ["linear", "knn"])
    carves: dict[str, list[str]] = Field(default_factory=dict, description="name: the linear probe's --set that "
                                         "holds out a validation carve of the training split (what chooses)")
    random: bool = True
    evals: dict[str, Eval] = Field(default_factory=dict)
    variants: dict[str, Variant]

    def eval_sets(self, variant: Variant, *sets: str) -> tuple[str, list[str]]:
        """(evaluation config, overrides) of one evaluation of ``variant``."""
        return variant.eval_config or self.eval_config, [*self.eval_set, *variant.eval_set, *sets]


def load_plan(path: str | Path) -> Plan:
    """A screen plan, its ``_base_`` plan merged underneath."""
    tree, _ = read_config_tree(path)
    return Plan.model_validate(tree)


def _carve_summary(res: RunRecord) -> dict[str, Any]:
    """The last-epoch accuracy on the validation carve (linear probe or fine-tuning), mean and std over seeds."""
    runs: list[Any] = next(iter((res.training.linear or res.training.finetune or {}).values()))
    agg = mean_std([r.val_top1[-1] for r in runs])
    return {"val_top1": round(agg["mean"], 2), "std": round(agg["std"], 2), "n_val": int(runs[0].num_val_samples or 0),
            "val_groups": runs[0].val_groups}


def _summary(res: RunRecord) -> dict[str, Any]:
    agg, n = res.top1_seeds, int(res.num_test_samples or 0)
    assert agg is not None, "a protocol run records its mean ± std over seeds"
    lo, hi = top1_interval(agg.mean, n)
    out = {"top1": round(agg.mean, 2), "std": round(agg.std, 2), "seeds": res.seeds, "n": n,
           "wilson95": [round(lo, 1), round(hi, 1)]}
    per_k = res.training.knn_top1  # {stream: [{k: top-1} per seed]}
    if per_k:
        seeds = next(iter(per_k.values()))
        out["knn_top1_by_k"] = {str(k): round(sum(s[k] for s in seeds) / len(seeds), 2) for k in seeds[0]}
    return out


def _evaluate(plan: Plan, v: Variant, run: Path, eval_store: Path, folder: Path, protocol: str,
              sets: list[str]) -> RunRecord:
    """One evaluation's results.json (read back when it already exists: a finished step never runs again)."""
    if (folder / "results.json").is_file():
        return load_record(folder)
    config, overrides = plan.eval_sets(v, *sets)
    return run_protocol(protocol, run, eval_store, folder, config=load_eval_config(config, overrides), progress=False)


def run_variant(plan: Plan, name: str, stores: Path, work: Path) -> dict[str, Any]:
    """Pretrain (or resume) one variant and evaluate it; returns {evaluation: summary}."""
    v = plan.variants[name]
    run = work / name / "run"
    if not (run / "metrics.json").is_file():  # a finished run (an unfinished one is resumed)
        cfg = load_config(v.pretrain_config or plan.pretrain_config, [*plan.set, *v.set])
        data = [stores / s for s in (v.stores or plan.stores)]
        pretrain(cfg, data, run, resume=run.is_dir())
    eval_store = stores / (v.eval_store or plan.eval_store)
    out: dict[str, Any] = {}
    inits = ["pretrained", "random"] if plan.random else ["pretrained"]
    # (folder, protocol, store, overrides, init, method label, scored on a carve)
    todo = [(f"{init}-{protocol}", protocol, eval_store, [], init, f"{name} {init}", False)
            for init in inits for protocol in plan.protocols]
    todo += [(f"{init}-{e}", ev.protocol, stores / ev.store if ev.store else eval_store, ev.set, init,
              f"{name} {init} {e}", ev.carve)
             for e, ev in plan.evals.items() if ev.variants is None or name in ev.variants for init in ev.inits]
    for label, protocol, store, sets, init, method, carve in todo:
        own = v.random_set if init == "random" else []
        res = _evaluate(plan, v, run, store, work / name / label, protocol,
                        [*sets, *own, f"init={init}", f"method={method}"])
        out[f"carve-{label}" if carve else label] = _carve_summary(res) if carve else _summary(res)
    for carve, sets in plan.carves.items():
        res = _evaluate(plan, v, run, eval_store, work / name / f"carve-{carve}", "linear",
                        [*sets, f"method={name} carve-{carve}"])
        out[f"carve-{carve}"] = _carve_summary(res)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", help="a screen plan (configs/screens/*.yaml)")
    ap.add_argument("--stores", required=True, help="folder of prepared stores, one sub-folder per store name")
    ap.add_argument("--work", required=True, help="where runs and results go")
    ap.add_argument("--only", nargs="+", help="variants to run (default: all, in order)")
    args = ap.parse_args()
    plan = load_plan(args.plan)
    names = args.only or list(plan.variants)
    unknown = [n for n in names if n not in plan.variants]
    if unknown:
        raise SystemExit(f"{args.plan}: no variant {', '.join(unknown)}; the plan has {', '.join(plan.variants)}")
    work = Path(args.work)
    results = {n: run_variant(plan, n, Path(args.stores), work) for n in names}
    for n, r in results.items():
        for k, s in r.items():
            if k.startswith("carve-"):
                print(f"{n:>24} {k:>22}: {s['val_top1']:6.2f} ± {s['std']:.2f} on {s['n_val']} held-out training"
                      " sequences (what chooses)")
            else:
                print(f"{n:>24} {k:>22}: {s['top1']:6.2f} ± {s['std']:.2f} (n {s['n']}, 95 % {s['wilson95']})")
    print(json.dumps({"benchmark": "screen", "plan": args.plan, "results": results}))


if __name__ == "__main__":
    main()
