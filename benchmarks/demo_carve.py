"""The demo's few-label fine-tuning on a validation carve of its training split, for choosing its settings.

Copies the demo store (``s2i-demo/store``) to ``--work``/carve with one more split, ``carve``: training =
the training cameras at 0, 120, 180 and 300 degrees, test = those at 60 and 240 (opposite each other, like
the real test cameras 30 and 210). The real test cameras are in neither. Then runs the recipe's few-label
row (``s2i/recipes/demo_eval.yaml``, ``rows.few-labels``) on that split with each ``--set`` variant, for
one initialisation, and prints one line per variant (``--row`` picks another row of the recipe, ``--run`` may
name a bundled encoder such as ``s2i-tiny``) (the copy's splits.json differs from its manifest's
content hash: a scratch store, never published).

    python benchmarks/demo_carve.py --run s2i-demo/pretrain --store s2i-demo/store --init random \\
        --work /tmp/carve --set finetune.base_lr=0.01 --set finetune.layer_decay=1.0
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from s2i.config_files import apply_overrides
from s2i.demo import demo_eval_rows
from s2i.evaluation.config import validate_eval_config
from s2i.evaluation.protocols import run_protocol

VAL_VIEWS = (60, 240)


def carve_store(store: Path, work: Path) -> Path:
    """``work``/carve: a copy of ``store`` with the ``carve`` split added (made once)."""
    out = work / "carve"
    if out.is_dir():
        return out
    tmp = work / "carve.tmp"
    shutil.copytree(store, tmp)
    splits = json.loads((tmp / "splits.json").read_text())
    meta = [json.loads(line) for line in (tmp / "meta.jsonl").read_text().splitlines() if line.strip()]
    train = splits["xview"]["train"]
    splits["carve"] = {"train": [i for i in train if meta[i]["view"] not in VAL_VIEWS],
                       "test": [i for i in train if meta[i]["view"] in VAL_VIEWS]}
    (tmp / "splits.json").write_text(json.dumps(splits))
    tmp.rename(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the demo's pretraining run (s2i-demo/pretrain), or a bundled"
                    " encoder's name (s2i-tiny)")
    ap.add_argument("--row", default="few-labels", help="the recipe's row whose config is the starting point")
    ap.add_argument("--store", required=True, help="the demo's store (s2i-demo/store)")
    ap.add_argument("--init", choices=("pretrained", "random"), required=True)
    ap.add_argument("--work", required=True, help="scratch folder: the carve store and the evaluations")
    ap.add_argument("--name", default=None, help="the evaluation's folder name under --work")
    ap.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                    help="EvalConfig keys over the row's config (not its `random` part), e.g. finetune.base_lr=0.01")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = carve_store(Path(args.store), work)
    row = demo_eval_rows()[args.row]
    # the labelled fraction of the carve's pool: the same number of labels per class as the demo
    per_class_full, per_class_carve = 24, 16
    labels = round(row.config["semi"]["fraction"] * per_class_full)
    tree = apply_overrides({**row.config, "init": args.init, "cache_dir": str(work / ".features")},
                           [f"semi.fraction={labels / per_class_carve}", *args.overrides])
    cfg = validate_eval_config(tree, "demo_carve")
    name = args.name or f"{args.init}-" + "-".join(o.replace("=", "") for o in args.overrides)
    t = time.perf_counter()
    r = run_protocol(row.protocol, args.run, store, work / name, split="carve", config=cfg, progress=False)
    print(json.dumps({"name": name, "run": args.run, "row": args.row, "init": args.init,
                      "overrides": args.overrides, "labels_per_class": labels, "top1": r.top1,
                      "per_seed": r.seed_top1s, "n": r.num_test_samples,
                      "wall_s": round(time.perf_counter() - t, 1)}), flush=True)


if __name__ == "__main__":
    main()
