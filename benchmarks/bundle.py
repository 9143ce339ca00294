"""Regenerate a bundled encoder (``src/s2i/bundled/<name>/``) from a pretraining run, evaluations included.

1. refuse the run if its pretraining used a test sequence of any store given (``s2i.bundle.check_reports``);
2. stage the run's encoder with bf16 weights (the file that ships) in ``WORK/<name>``;
3. on each store's default split: frozen linear probe and kNN (``--seeds``), the staged weights and the same
   architecture with random weights (``--eval-config``); runs already in ``WORK/evals`` for these weights are kept;
4. keep small copies of the results.json files under ``--results/<data set>-<split>/`` (to commit);
5. write bundle.json and the model card, and install the folder as ``--dest`` (replaced whole).

    python benchmarks/bundle.py RUN --name s2i-tiny --data STORE [--data STORE ...] --work DIR \\
        [--eval-config configs/eval/nwucla_small.yaml] [--seeds 0 1 2] [--results docs/results/s2i-tiny] \\
        [--dest src/s2i/bundled/s2i-tiny]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from s2i.bundle import check_reports, make_bundle, stage_bundle
from s2i.evaluation.config import load_eval_config
from s2i.evaluation.headline import save_trimmed
from s2i.evaluation.protocols import default_split, run_protocol
from s2i.evaluation.record import load_record
from s2i.evaluation.results import file_sha256, load_results
from s2i.store import SkeletonStore

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a finished pretraining run folder (provenance.json, config.yaml, encoder/)")
    p.add_argument("--name", required=True, help="the bundled encoder's name, e.g. s2i-tiny")
    p.add_argument("--data", action="append", required=True, help="a store to report on (repeat)")
    p.add_argument("--work", required=True, help="folder for the staged encoder and the evaluation runs")
    p.add_argument("--eval-config", default=str(ROOT / "configs/eval/nwucla_small.yaml"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--results", default=None, help="where the small result copies go (default docs/results/NAME)")
    p.add_argument("--dest", default=None, help="the bundle folder (default src/s2i/bundled/NAME)")
    args = p.parse_args(argv)
    run, work = Path(args.run), Path(args.work)
    results_dir = Path(args.results or ROOT / "docs/results" / args.name)
    dest = Path(args.dest or ROOT / "src/s2i/bundled" / args.name)

    stores = [(s, default_split(SkeletonStore(s))) for s in args.data]
    check_reports(run, stores)  # before any work
    staged = stage_bundle(run, work / args.name)
    digest = file_sha256(staged / "model.safetensors")
    runs = []
    for store, split in stores:
        key = f"{SkeletonStore(store).manifest.get('dataset')}-{split}"
        for proto in ("linear", "knn"):
            for init, label in (("pretrained", args.name), ("random", f"random init ({args.name} architecture)")):
                out = work / "evals" / key / f"{proto}-{init}"
                done = out / "results.json"
                if done.is_file() and (init == "random" or load_record(done).checkpoint_hash == digest):
                    runs.append((key, out))
                    print(f"kept {out}")
                    continue
                cfg = load_eval_config(args.eval_config, [f"seeds={args.seeds}", f"init={init}", f"method={label}"])
                res = run_protocol(proto, staged, store, out, split, cfg, progress=False)
                print(f"{key} {proto} {init}: top-1 {res.top1:.1f} (seeds {args.seeds})", flush=True)
                runs.append((key, out))
    for key in dict.fromkeys(k for k, _ in runs):
        save_trimmed([o for k, o in runs if k == key], results_dir / key)
    results = load_results(sorted(results_dir.rglob("results.json")))
    command = " ".join(["python", "benchmarks/bundle.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    make_bundle(staged, run, dest, results, command, args.name)
    print(f"bundled {args.name} in {dest} ({len(results)} results)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
