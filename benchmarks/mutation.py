"""Mutation testing of the modules users rely on (issue 18): mutmut, one module group at a time.

    nice -n 19 python benchmarks/mutation.py                 # every group below, one after another
    nice -n 19 python benchmarks/mutation.py data store      # some groups
    python benchmarks/mutation.py --root /tmp/old-checkout   # the same run on another tree ("before" scores)
    nice -n 19 python benchmarks/mutation.py --rerun ntu     # only the survivors again, with the current tests
    nice -n 15 python benchmarks/mutation.py mae --time-limit 1800   # one learning-layer module, capped at 30 min

Each group is copied (src/, tests/, docs/, pyproject.toml) into ``--work`` (default /tmp/s2i-mutation/<group>),
given a ``[tool.mutmut]`` section that mutates only the group's modules and runs only the group's test
files, and run with ``mutmut run --max-children N`` (per-mutant timeout: mutmut's, from the measured test
times x ``timeout_multiplier`` + ``timeout_constant``). Prints per module: mutants, killed, survived,
timeouts, the score (killed + timeout) / (all - skipped), and the surviving mutant names; ``mutmut show
NAME`` in the group's work folder prints the diff of one. Too slow for CI (minutes per group on 2 cores):
the summary of the last run is recorded in docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: group -> (modules to mutate, test files that guard them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    # the encoder core (encoder.py, layout.py, streams.py, persons.py) is checked against the naive reference
    # encoder by every test in tests/encode/test_encode.py (minutes per mutant here): audit it with
    # --modules src/s2i/encode/encoder.py ... when it changes
    "encode": (["src/s2i/encode/value_range.py", "src/s2i/encode/normalize.py", "src/s2i/encode/temporal.py",
                "src/s2i/encode/config.py"],
               ["tests/encode/"]),
    "store": (["src/s2i/store/layout.py", "src/s2i/store/write.py", "src/s2i/store/read.py",
               "src/s2i/store/stats.py"],
              ["tests/store/test_store_confidence.py", "tests/store/test_store_prepare.py",
               "tests/store/test_store_values.py", "tests/store/test_store_stats.py",
               "tests/store/test_store_verify.py", "tests/store/test_store_publish.py"]),
    "data": (["src/s2i/data/dataset.py", "src/s2i/data/augment.py"], ["tests/data/"]),
    "formats": (["src/s2i/formats/spec.py", "src/s2i/formats/registry.py"], ["tests/formats/"]),
    # the learning layers (issue 36): one module per group, so each runs on 2 cores within --time-limit
    "mae": (["src/s2i/models/mae.py"], ["tests/models/test_mae.py", "tests/models/test_mae_internals.py"]),
    "models": (["src/s2i/models/backbone.py", "src/s2i/models/export.py"],
               ["tests/models/", "tests/test_embedding.py", "tests/test_embedding_values.py"]),
    # issue 36, third round: the LightningModule (lr, optimiser groups, scheduler, EMA step, divergence checks)
    "pretrain-module": (["src/s2i/training/pretrain_module.py"],
                        ["tests/training/test_schedule_resume.py", "tests/training/test_pretrain_run.py",
                         "tests/training/test_pretrain_guards.py", "tests/models/test_mae_objectives.py",
                         "tests/training/test_pins_pretrain_module.py"]),
    "pretrain-data": (["src/s2i/training/datamodule.py"],
                      ["tests/training/test_schedule_resume.py", "tests/training/test_pretrain_run.py"]),
    "pretrain-fit": (["src/s2i/training/fit.py"],
                     ["tests/training/test_schedule_resume.py", "tests/training/test_pretrain_run.py",
                      "tests/training/test_run_persons.py"]),
    "pretrain-config": (["src/s2i/training/config.py"], ["tests/training/test_pretrain_config.py"]),
    "eval-core": (["src/s2i/evaluation/knn.py", "src/s2i/evaluation/metrics.py", "src/s2i/evaluation/linear.py",
                   "src/s2i/evaluation/subsets.py"],
                  ["tests/evaluation/test_protocol_core.py", "tests/evaluation/test_eval_values.py"]),
    "eval-features": (["src/s2i/evaluation/features.py", "src/s2i/evaluation/baseline.py"],
                      ["tests/evaluation/test_eval_features.py", "tests/evaluation/test_eval_values.py",
                       "tests/evaluation/test_feature_cache.py"]),
    "eval-finetune": (["src/s2i/evaluation/finetune.py"],
                      ["tests/evaluation/test_finetune_values.py", "tests/evaluation/test_protocols_e2e.py"]),
    "eval-protocols": (["src/s2i/evaluation/protocols.py", "src/s2i/evaluation/fusion.py"],
                       ["tests/evaluation/test_eval_values.py", "tests/evaluation/test_fusion.py",
                        "tests/evaluation/test_protocols_e2e.py"]),
    "embedding": (["src/s2i/embedding.py"],
                  ["tests/test_embedding.py", "tests/test_embedding_values.py", "tests/test_pins_embedding.py"]),
    # issue 36, second round: the modules with the most user-visible arithmetic, one per group (--time-limit)
    "optim": (["src/s2i/models/optim.py"],
              ["tests/models/test_optim.py", "tests/evaluation/test_eval_values.py",
               "tests/training/test_schedule_resume.py", "tests/test_pins_optim.py"]),
    "knn": (["src/s2i/evaluation/knn.py"],
            ["tests/evaluation/test_eval_values.py", "tests/evaluation/test_protocol_core.py",
             "tests/test_pins_knn.py"]),
    "linear": (["src/s2i/evaluation/linear.py"],
               ["tests/evaluation/test_eval_values.py", "tests/evaluation/test_protocol_core.py",
                "tests/test_pins_linear.py"]),
    "subsets": (["src/s2i/evaluation/subsets.py"],
                ["tests/evaluation/test_protocol_core.py", "tests/evaluation/test_eval_values.py",
                 "tests/test_pins_subsets.py"]),
    "features": (["src/s2i/evaluation/features.py"],
                 ["tests/evaluation/test_eval_features.py", "tests/evaluation/test_feature_cache.py",
                  "tests/evaluation/test_feature_cache_keys.py", "tests/test_pins_features.py",
                  "tests/test_pins_features_options.py"]),
    "fusion": (["src/s2i/evaluation/fusion.py"],
               ["tests/evaluation/test_fusion.py", "tests/evaluation/test_pins_fusion.py"]),
    "latent": (["src/s2i/models/latent.py"],
               ["tests/models/test_mae_objectives.py", "tests/models/test_mae_internals.py",
                "tests/test_pins_latent.py"]),
    "ntu": (["src/s2i/readers/ntu.py"],
            ["tests/readers/test_ntu.py", "tests/readers/test_ntu_thresholds.py",
             "tests/readers/test_ntu_denoise_reference.py",
             "tests/readers/test_fuzz_ntu_ucla.py", "tests/readers/test_readers_core.py"]),
}


#: tests left out of the mutant runs: they start processes or the CLI's report (seconds each) and check plumbing,
#: not values. The two NW-UCLA tests share a fixture that prepares all 1484 files with two worker processes
#: (~10 s per mutant with the inspect report); the content hash that the last one checks through
#: ``s2i inspect --verify`` is compared value for value by tests/store/test_store_values.py.
DESELECT = ["tests/data/test_dataset_augment.py::test_store_pickles_by_path_for_spawned_workers",
            "tests/store/test_store_prepare.py::test_prepare_nw_ucla_official_counts",
            "tests/store/test_store_prepare.py::test_inspect_json_line",
            "tests/store/test_store_verify.py::test_inspect_verify_catches_a_flipped_byte_in_the_frames_file"]


def _config(modules: list[str], tests: list[str], children: int) -> str:
    q = lambda xs: "[" + ", ".join(json.dumps(x) for x in xs) + "]"
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/"]\n'
        'also_copy = ["docs/"]\n'
        f"only_mutate = {q(modules)}\n"
        f"pytest_add_cli_args_test_selection = {q(tests)}\n"
        f'pytest_add_cli_args = {q(["-p", "no:cacheprovider", "-q"] + [f"--deselect={d}" for d in DESELECT])}\n'
        'process_isolation = "forkserver"\n'  # torch is not fork-safe after the stats run
        "timeout_multiplier = 3.0\n"
        "timeout_constant = 20.0\n"
        "use_git_change_detection = false\n"
    )


def _env(root: Path) -> dict[str, str]:
    # one torch thread: mutmut's per-mutant limit is CPU time, which several threads use up early
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # the tests find the shared research samples next to the checkout (tests/helpers.py), not next to the copy
    env.setdefault("S2I_SHARED_DATA", str(root.parent / "shared" / "data"))
    return env


def run_group(name: str, root: Path, work: Path, children: int, modules_override: list[str] | None = None,
              time_limit: float | None = None) -> dict[str, dict[str, object]]:
    modules, tests = GROUPS[name]
    modules = modules_override or modules
    tests = [t for t in tests if (root / t).exists()]
    dest = work / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for part in ("src", "tests", "docs"):  # docs/: tests compare generated pages with it (docs/formats.md)
        shutil.copytree(root / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + _config(modules, tests, children))
    _mutmut(["run", "--max-children", str(children)], dest, root, time_limit)
    return _summary(dest, modules)


def _mutmut(args: list[str], cwd: Path, root: Path, time_limit: float | None) -> None:
    """``mutmut ARGS`` in ``cwd``; after ``time_limit`` seconds its whole process group is stopped (the mutants
    not reached stay "not checked" and are left out of the score, which then covers the part that ran)."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=cwd, env=_env(root), start_new_session=True)
    try:
        proc.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        print(f"time limit {time_limit:.0f} s reached: stopping mutmut in {cwd}", file=sys.stderr)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def rerun_survivors(name: str, root: Path, work: Path, children: int, modules_override: list[str] | None = None,
                    time_limit: float | None = None, unchecked: bool = False) -> dict[str, dict[str, object]]:
    """Run again only the mutants an earlier run in ``work`` left alive, with the checkout's current tests/
    and the group's current test list (the "after" score once tests were added).

    A changed test list makes mutmut forget every verdict; the verdicts of the mutants not re-run are put
    back afterwards (tests were only added, and adding a test cannot revive a killed mutant), and so are those of
    the mutants a ``time_limit`` stopped before they ran again. ``unchecked``: also run the mutants the earlier
    run left "not checked" (a time-limited run), after its survivors."""
    modules, tests = GROUPS[name]  # the mutated modules stay the group's: ``modules_override`` only picks
    picked = modules_override or modules  # whose survivors run again (a partial run: the modules it reached)
    tests = [t for t in tests if (root / t).exists()]
    dest = work / name
    summary = _summary(dest, picked).values()
    survivors = [s for r in summary for s in r["survivors"]]  # type: ignore[attr-defined]
    if unchecked:  # also the mutants a time-limited run did not reach (after the survivors: they run first)
        survivors += [s for r in summary for s in r["unchecked"]]  # type: ignore[attr-defined]
    if not survivors:
        return _summary(dest, picked)
    metas = {m: dest / "mutants" / (m + ".meta") for m in modules}
    before = {m: json.loads(f.read_text()).get("exit_code_by_key", {}) for m, f in metas.items() if f.exists()}
    shutil.rmtree(dest / "tests")
    shutil.copytree(root / "tests", dest / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + _config(modules, tests, children))
    _mutmut(["run", "--max-children", str(children), *survivors], dest, root, time_limit)
    alive = set(survivors)
    for m, old in before.items():
        meta = json.loads(metas[m].read_text())
        codes = meta.setdefault("exit_code_by_key", {})
        for key, code in old.items():
            if key not in alive or codes.get(key) is None:  # not re-run, or not reached before the time limit
                codes[key] = code
        metas[m].write_text(json.dumps(meta))
    return _summary(dest, picked)


def _summary(dest: Path, modules: list[str]) -> dict[str, dict[str, object]]:
    """Per module: counts by status and the surviving mutants, from mutmut's result files."""
    out: dict[str, dict[str, object]] = {}
    for mod in modules:
        meta = dest / "mutants" / (mod + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        status: Counter[str] = Counter()
        survivors, unchecked = [], []
        for key, code in sorted(codes.items()):
            s = _status(code)
            status[s] += 1
            if s in ("survived", "no tests"):
                survivors.append(key)
            elif s == "not checked":
                unchecked.append(key)
        # "no tests": no test reaches the mutated function, so it counts as not killed
        tested = sum(status.values()) - status["skipped"] - status["not checked"]
        score = 100.0 * (status["killed"] + status["timeout"]) / tested if tested else 0.0
        out[mod] = {"counts": dict(status), "tested": tested, "score": round(score, 1), "survivors": survivors,
                    "unchecked": unchecked}
    return out


def _status(code: int | None) -> str:
    from mutmut.stats import status_by_exit_code  # mutmut's own verdicts

    return str(status_by_exit_code[code])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groups", nargs="*", help=f"groups to run (default: all): {', '.join(GROUPS)}")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout to test (default: this one)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/s2i-mutation"))
    ap.add_argument("--children", type=int, default=1, help="mutants run in parallel (default 1)")
    ap.add_argument("--json", type=Path, help="also write the summary here")
    ap.add_argument("--time-limit", type=float, metavar="SECONDS",
                    help="stop each group's mutmut run after this long (e.g. 3600: the learning-layer groups hold"
                         " one module each, so this is a per-module limit); the score covers the mutants reached")
    ap.add_argument("--modules", nargs="+", help="mutate these modules instead of the group's (one group)")
    ap.add_argument("--unchecked", action="store_true",
                    help="with --rerun: also run the mutants an earlier time-limited run did not reach")
    ap.add_argument("--rerun", action="store_true",
                    help="run again only the mutants not killed in --work, with this checkout's tests/ ('after')")
    ap.add_argument("--summarize", action="store_true",
                    help="only summarise the results already in --work (also of a run still going)")
    a = ap.parse_args(argv)
    unknown = set(a.groups) - set(GROUPS)
    if unknown:
        ap.error(f"unknown groups {sorted(unknown)}; expected some of {list(GROUPS)}")
    total: dict[str, dict[str, object]] = {}
    for g in a.groups or list(GROUPS):
        if a.summarize:
            res = _summary(a.work / g, a.modules or GROUPS[g][0])
        elif a.rerun:
            res = rerun_survivors(g, a.root.resolve(), a.work, a.children, a.modules, a.time_limit, a.unchecked)
        else:
            res = run_group(g, a.root.resolve(), a.work, a.children, a.modules, a.time_limit)
        total.update(res)
        for mod, r in res.items():
            print(f"{mod}: score {r['score']}%  {r['counts']}")
            for s in list(r["survivors"]):  # type: ignore[call-overload]
                print(f"    not killed: {s}")
        if a.json:
            a.json.write_text(json.dumps(total, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
