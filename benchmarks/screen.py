"""Representation screens from a YAML plan: pretrain each variant, then evaluate it frozen, resumably.

A plan (``configs/screens/*.yaml``) names a pretraining config, the ``--set`` overrides every variant shares,
the variants (each its own overrides and, optionally, its own pretraining stores), the evaluation config,
protocols and the store each variant is evaluated on. For every variant the runner pretrains
(``--resume`` when a run was cut off), evaluates each protocol, and keeps the results under
``WORK/VARIANT/``; ``random: true`` also evaluates the same architecture with random weights; ``carves`` run the
linear probe again with a validation carve of the training split held out (the scores that choose a variant;
the test numbers never do). The last line
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
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from s2i.evaluation.config import load_eval_config
from s2i.evaluation.metrics import mean_std, wilson_interval
from s2i.evaluation.protocols import run_protocol
from s2i.evaluation.record import RunRecord, load_record
from s2i.training.config import load_config
from s2i.training.fit import pretrain


class Variant(BaseModel):
    """One pretraining of a screen: its overrides and, when not the plan's, its stores."""

    model_config = ConfigDict(extra="forbid")
    set: list[str] = Field(default_factory=list)
    stores: list[str] | None = None
    eval_store: str | None = None


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
    variants: dict[str, Variant]


def _carve_summary(res: RunRecord) -> dict[str, Any]:
    """The linear probe's last-epoch accuracy on its validation carve, mean and std over seeds."""
    runs = next(iter((res.training.linear or {}).values()))
    agg = mean_std([r.val_top1[-1] for r in runs])
    return {"val_top1": round(agg["mean"], 2), "std": round(agg["std"], 2), "n_val": int(runs[0].num_val_samples or 0),
            "val_groups": runs[0].val_groups}


def _summary(res: RunRecord) -> dict[str, Any]:
    agg, n = res.top1_seeds, int(res.num_test_samples or 0)
    assert agg is not None, "a protocol run records its mean ± std over seeds"
    lo, hi = wilson_interval(agg.mean / 100.0 * n, n)
    out = {"top1": round(agg.mean, 2), "std": round(agg.std, 2), "seeds": res.seeds, "n": n,
           "wilson95": [round(100 * lo, 1), round(100 * hi, 1)]}
    per_k = res.training.knn_top1  # {stream: [{k: top-1} per seed]}
    if per_k:
        seeds = next(iter(per_k.values()))
        out["knn_top1_by_k"] = {str(k): round(sum(s[k] for s in seeds) / len(seeds), 2) for k in seeds[0]}
    return out


def run_variant(plan: Plan, name: str, stores: Path, work: Path) -> dict[str, Any]:
    """Pretrain (or resume) one variant and evaluate it; returns {protocol: summary}."""
    v = plan.variants[name]
    run = work / name / "run"
    if not (run / "metrics.json").is_file():  # a finished run (an unfinished one is resumed)
        cfg = load_config(plan.pretrain_config, [*plan.set, *v.set])
        data = [stores / s for s in (v.stores or plan.stores)]
        pretrain(cfg, data, run, resume=run.is_dir())
    eval_store = stores / (v.eval_store or plan.eval_store)
    out: dict[str, Any] = {}
    inits = ["pretrained", "random"] if plan.random else ["pretrained"]
    for init in inits:
        for protocol in plan.protocols:
            folder = work / name / f"{init}-{protocol}"
            if (folder / "results.json").is_file():
                res = load_record(folder)
            else:
                cfg = load_eval_config(plan.eval_config, [*plan.eval_set, f"init={init}", f"method={name} {init}"])
                res = run_protocol(protocol, run, eval_store, folder, config=cfg, progress=False)
            out[f"{init}-{protocol}"] = _summary(res)
    for carve, sets in plan.carves.items():
        folder = work / name / f"carve-{carve}"
        if (folder / "results.json").is_file():
            res = load_record(folder)
        else:
            cfg = load_eval_config(plan.eval_config, [*plan.eval_set, *sets, f"method={name} carve-{carve}"])
            res = run_protocol("linear", run, eval_store, folder, config=cfg, progress=False)
        out[f"carve-{carve}"] = _carve_summary(res)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plan", help="a screen plan (configs/screens/*.yaml)")
    ap.add_argument("--stores", required=True, help="folder of prepared stores, one sub-folder per store name")
    ap.add_argument("--work", required=True, help="where runs and results go")
    ap.add_argument("--only", nargs="+", help="variants to run (default: all, in order)")
    args = ap.parse_args()
    plan = Plan.model_validate(yaml.safe_load(Path(args.plan).read_text()))
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
