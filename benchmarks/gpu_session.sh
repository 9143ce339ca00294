#!/usr/bin/env bash
# One prepared GPU session for issue 14 (pretraining speed): run it from the repository root on a machine
# with one CUDA GPU (H100/H200), e.g. the device tool's `run`:
#
#     bash benchmarks/gpu_session.sh                  # results in $OUT (default: ./gpu_session_out)
#
# Steps, in order, each time-boxed with `timeout` (limits 50+150+70(+70)+20+60 s, all steps together at most
# S2I_BUDGET = 360 s; expected 3-5 minutes), so a 600 s device call always gets the summary back and has time
# left for benchmarks/gpu_eval.sh:
#   1. the CUDA tests (pytest -k 'gpu or cuda' over the tests that compare GPU with CPU)
#   2. benchmarks/train_step.py on the GPU: ViT-B/16, 224 px, bf16, batch 256, with the loop (store ->
#      DataLoader -> encode -> step) and the torch.compile / bf16 encoder variants -> train_step_vitb16.json
#      (its --partial lines: a step cut short by its limit keeps the figures measured before)
#   3. the same for ViT-Tiny (decoder 256 x 4), without the compile variant -> train_step_vittiny.json
#   4. a 100-step `s2i pretrain` smoke run, bf16-mixed, on a synthetic store -> pretrain_metrics.json
# plus env.json (versions, GPU), summary.json (exit status and seconds of each step) and session.log (all
# output). Six files: the device tool brings back at most eight.
#
# The machine has no pydantic (nor pip access to an index). Carry its wheels and put them on PYTHONPATH
# (the set of the development venv, Python 3.12 there; pydantic 2.14 wants typing-extensions >= 4.16):
#   here:  echo /.whl/ >> .git/info/exclude; for p in pydantic==2.14.4 pydantic-core==2.50.5 \
#            annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0; do python3 -m pip \
#            download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "$p"; done
#   there: S2I_WHEELS=.whl bash benchmarks/gpu_session.sh      (pip-installs them into a temp dir), or
#          PYTHONPATH=/path/to/site bash benchmarks/gpu_session.sh
# (run with carry: [".whl"]). Without pydantic the script stops at once with a message saying so.
#
# Without a GPU it refuses, unless S2I_GPU_DRY_RUN=1: then every step runs on the CPU at toy sizes (tests,
# the benchmark with --cpu-only, a few pretraining steps), which checks the script itself.
#
# A baseline in the same run: S2I_BASELINE_SRC=DIR (the src/ folder of an older checkout, e.g.
#   mkdir -p .baseline && git archive 06b5271 src | tar -x -C .baseline   ->   S2I_BASELINE_SRC=.baseline/src,
#   carry [".baseline"]) adds step 2b, the ViT-B/16 step on that code, and summary.json's vitb16_vs_baseline.
# Knobs (environment): PYTHON (python3), OUT, S2I_WORKERS (DataLoader workers, 8), S2I_STEPS (timed steps
# per measurement, 10), S2I_SMOKE_STEPS (100), S2I_SMOKE_BACKBONE (vit_base_patch16_224), S2I_SMOKE_BATCH (256),
# S2I_NO_COMPILE=1 (skip the torch.compile variant), S2I_LIMIT_SCALE (multiplies every step's time limit;
# 1, or 3 in a dry run).

set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$PWD/gpu_session_out}
mkdir -p "$OUT"
LOG="$OUT/session.log"
: > "$LOG"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
DRY=${S2I_GPU_DRY_RUN:-0}
WORKERS=${S2I_WORKERS:-8}
STEPS=${S2I_STEPS:-10}
SMOKE_STEPS=${S2I_SMOKE_STEPS:-100}
SMOKE_BACKBONE=${S2I_SMOKE_BACKBONE:-vit_base_patch16_224}
SMOKE_BATCH=${S2I_SMOKE_BATCH:-256}
BUDGET=${S2I_BUDGET:-360}  # seconds for all steps (x S2I_LIMIT_SCALE): a step is cut short or skipped past it
COMPILE=""
[ "${S2I_NO_COMPILE:-0}" = 1 ] && COMPILE="--no-compile"
WORK=$(mktemp -d /tmp/s2i-gpu-session.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)

log() { echo "[gpu_session +$(( $(date +%s) - START ))s] $*" | tee -a "$LOG"; }

if [ -n "${S2I_WHEELS:-}" ]; then
    log "installing the wheels of $S2I_WHEELS into $WORK/site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" \
        "$S2I_WHEELS"/*.whl >>"$LOG" 2>&1 || log "WARNING: installing $S2I_WHEELS failed (see above)"
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# --- preflight: packages and the GPU ------------------------------------------------------------------
if ! "$PY" - >"$OUT/env.json" 2>>"$LOG" <<'EOF'
import importlib, json, platform
out = {"python": platform.python_version()}
for name in ("torch", "timm", "lightning", "pydantic", "numpy", "yaml", "triton"):
    try:
        out[name] = getattr(importlib.import_module(name), "__version__", "?")
    except Exception as e:  # noqa: BLE001
        out[name] = None
        out[name + "_error"] = f"{type(e).__name__}: {e}"
import torch
out["cuda"] = torch.cuda.is_available()
out["gpu"] = torch.cuda.get_device_name(0) if out["cuda"] else None
out["cpus"] = __import__("os").cpu_count()
print(json.dumps(out))
EOF
then
    log "ERROR: python ($PY) with torch could not run; see $LOG"
    exit 2
fi
cat "$OUT/env.json" | tee -a "$LOG"
if grep -q '"pydantic": null' "$OUT/env.json"; then
    log "ERROR: pydantic is not installed here, and s2i's configuration needs it (pydantic>=2.5)."
    log "       Carry its wheels (pydantic, pydantic-core, annotated-types, typing-inspection; see the header"
    log "       of this script) and run with S2I_WHEELS=DIR, or put an installed copy on PYTHONPATH."
    exit 3
fi
for name in timm lightning; do
    if grep -q "\"$name\": null" "$OUT/env.json"; then log "ERROR: $name is not installed here"; exit 3; fi
done
HAVE_GPU=0
grep -q '"cuda": true' "$OUT/env.json" && HAVE_GPU=1
if [ "$HAVE_GPU" = 0 ] && [ "$DRY" != 1 ]; then
    log "ERROR: no CUDA GPU here; set S2I_GPU_DRY_RUN=1 to run the steps on the CPU at toy sizes"
    exit 4
fi
SCALE=${S2I_LIMIT_SCALE:-1}
if [ "$HAVE_GPU" = 0 ]; then
    SCALE=${S2I_LIMIT_SCALE:-3}  # a loaded CPU machine imports torch + Lightning in tens of seconds
    log "DRY RUN: no GPU, every step at toy sizes on the CPU (time limits x $SCALE)"
fi

SUMMARY="$WORK/summary.tsv"
: > "$SUMMARY"
# step NAME SECONDS CMD...: run CMD under `timeout`, its output to the log; records exit status and time
step() {
    local name=$1 limit=$2; shift 2
    local t0 rc left
    t0=$(date +%s)
    limit=$(( limit * SCALE ))
    left=$(( BUDGET * SCALE - (t0 - START) ))
    if [ "$left" -lt 15 ]; then
        log "step $name SKIPPED: the session's budget of $(( BUDGET * SCALE ))s is spent"
        printf '%s\t%s\t%s\n' "$name" 125 0 >> "$SUMMARY"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    log "step $name (limit ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1
    rc=$?
    [ $rc = 124 ] && log "step $name TIMED OUT after ${limit}s"
    log "step $name: exit $rc in $(( $(date +%s) - t0 ))s"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" >> "$SUMMARY"
}
# bench NAME SECONDS ARGS...: benchmarks/train_step.py, its JSON line to $OUT/train_step_NAME.json
bench() {
    local name=$1 limit=$2; shift 2
    step "bench_$name" "$limit" bash -c 'py=$1 out=$2; shift 2; "$py" benchmarks/train_step.py "$@" > "$out"' \
        _ "$PY" "$WORK/train_step_$name.json" --partial "$@"
    if [ -s "$WORK/train_step_$name.json" ]; then
        tail -n 1 "$WORK/train_step_$name.json" > "$OUT/train_step_$name.json"
        cat "$OUT/train_step_$name.json" >> "$LOG"
    fi
}

# --- 1. CUDA tests ---------------------------------------------------------------------------------------
step tests 50 "$PY" -m pytest -q -p no:cacheprovider -rs -k "gpu or cuda" \
    tests/encode/test_encode.py tests/encode/test_encoder_augment.py tests/encode/test_encoder_sync_free.py \
    tests/data/test_dataset_augment.py \
    tests/training/test_pretrain_images.py

# --- 2./3. benchmark: ViT-B/16 and ViT-Tiny, bf16, batch 256, loop + compile variants ---------------------
if [ "$HAVE_GPU" = 1 ]; then
    bench vitb16 150 --gpu-only --gpu-backbone vit_base_patch16_224 \
        --gpu-img 224 --gpu-patch 16 --gpu-batch 256 --gpu-decoder 512,8,16 --steps "$STEPS" \
        --workers "$WORKERS" $COMPILE
    bench vittiny 70 --gpu-only --gpu-backbone vit_tiny_patch16_224 \
        --gpu-img 224 --gpu-patch 16 --gpu-batch 256 --gpu-decoder 256,4,8 --steps "$STEPS" \
        --workers "$WORKERS" --no-compile
    BASE_ARGS=(--gpu-only --gpu-backbone vit_base_patch16_224 --gpu-img 224 --gpu-patch 16 --gpu-batch 256
               --gpu-decoder 512,8,16 --steps "$STEPS")
else
    BASE_ARGS=(--cpu-only --cpu-img 32 --cpu-depth 1 --cpu-batch 8 --steps 1)
    bench vitb16 130 --cpu-only --cpu-img 32 --cpu-depth 1 \
        --cpu-batch 8 --steps 1 --loop-items 16 --workers "${S2I_WORKERS:-0}" $COMPILE
    bench vittiny 70 --cpu-only --cpu-img 32 --cpu-depth 1 \
        --cpu-batch 8 --steps 1 --loop-items 16 --no-compile --workers "${S2I_WORKERS:-0}"
fi

# --- 2b. the same ViT-B/16 step with an older s2i (S2I_BASELINE_SRC, e.g. the code before a speed change):
# this script's train_step.py, eager encoder, no loop; its figures and the ratios go to summary.json only
if [ -n "${S2I_BASELINE_SRC:-}" ]; then
    step bench_baseline 70 bash -c 'py=$1 out=$2 src=$3; shift 3; PYTHONPATH="$src:$PYTHONPATH" \
        "$py" benchmarks/train_step.py "$@" > "$out"' _ "$PY" "$WORK/train_step_baseline.json" \
        "$(cd "$S2I_BASELINE_SRC" && pwd)" "${BASE_ARGS[@]}" --no-compile --no-loop
fi

# --- 4. s2i pretrain smoke run: bf16-mixed, synthetic store ---------------------------------------------
if [ "$HAVE_GPU" = 1 ]; then
    ITEMS=$(( SMOKE_BATCH * 4 )); SETS=(encode.height=224 encode.width=224 model.patch_size=16
        "model.backbone=$SMOKE_BACKBONE" trainer.precision=bf16-mixed "data.batch_size=$SMOKE_BATCH"
        "data.num_workers=$WORKERS" "optim.max_steps=$SMOKE_STEPS" optim.warmup_steps=20
        "trainer.checkpoint_every=$SMOKE_STEPS" trainer.log_every=20 trainer.progress_bar=false
        augment.rotate=15 "augment.scale=[0.9, 1.1]")
else
    ITEMS=16; SETS=(encode.height=32 encode.width=32 model.patch_size=8 model.backbone=vit_tiny_patch16_224
        "model.backbone_kwargs={depth: 1, embed_dim: 64, num_heads: 2}" model.decoder_dim=32 model.decoder_depth=1
        model.decoder_heads=2 trainer.precision=bf16-mixed data.batch_size=4 "optim.max_steps=${S2I_SMOKE_STEPS:-4}"
        trainer.checkpoint_every=4 trainer.log_every=1 trainer.progress_bar=false augment.rotate=15)
fi
# the store of benchmarks/train_step.py's write_store (two persons, 80-120 frames), without its imports
step smoke_store 20 "$PY" - "$WORK/store" "$ITEMS" <<'EOF'
import sys
import numpy as np
from s2i.skeleton import SkeletonSequence
from s2i.store import StoreWriter
from s2i.testing.synthetic import synthetic_ntu
path, items = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
with StoreWriter(path, "ntu25", 3, 25) as w:
    for i in range(items):
        t = int(rng.integers(80, 121))
        w.append(SkeletonSequence(synthetic_ntu(1, t, 2, seed=i)[0], "ntu25", meta={"label": i % 10}))
    w.finalize({"xsub": {"train": list(range(items))}}, {"num_classes": 10}, {})
EOF
SET_ARGS=()
for s in "${SETS[@]}"; do SET_ARGS+=(--set "$s"); done
step pretrain_smoke 60 "$PY" -m s2i pretrain --data "$WORK/store" --out "$WORK/run" "${SET_ARGS[@]}"
[ -f "$WORK/run/metrics.json" ] && cp "$WORK/run/metrics.json" "$OUT/pretrain_metrics.json" \
    && cat "$OUT/pretrain_metrics.json" >> "$LOG"

# --- summary ---------------------------------------------------------------------------------------------
"$PY" - "$SUMMARY" "$OUT" "$HAVE_GPU" "$(( $(date +%s) - START ))" "$WORK" > "$OUT/summary.json" <<'EOF'
import json, sys
from pathlib import Path
rows = [line.split("\t") for line in Path(sys.argv[1]).read_text().splitlines() if line]
out = {"gpu": sys.argv[3] == "1", "total_s": int(sys.argv[4]),
       "steps": {name: {"exit": int(rc), "seconds": int(s)} for name, rc, s in rows}}
for name in ("vitb16", "vittiny"):
    f = Path(sys.argv[2]) / f"train_step_{name}.json"
    if f.is_file():
        r = json.loads(f.read_text())
        r = r.get("gpu") or r.get("cpu") or {}
        out[name] = {k: r.get(k) for k in ("full_step_samples_per_s", "model_step_samples_per_s",
                                           "encode_augment_share", "encode_compiled_share", "encode_compile_s",
                                           "encode_compiled_ok", "full_step_bf16_vs_eager", "loop_vs_model",
                                           "encode_compiled_vs_eager", "encode_compiled_graph_breaks")}
base = Path(sys.argv[5]) / "train_step_baseline.json"
if base.is_file() and base.stat().st_size:
    r = json.loads(base.read_text().splitlines()[-1])
    r = r.get("gpu") or r.get("cpu") or {}
    keys = ("full_step_ms", "model_step_ms", "encode_augment_ms", "encode_augment_share")
    out["vitb16_baseline"] = {k: r.get(k) for k in keys}
    now = json.loads((Path(sys.argv[2]) / "train_step_vitb16.json").read_text())
    now = now.get("gpu") or now.get("cpu") or {}
    if r.get("encode_augment_ms") and now.get("encode_augment_ms"):
        out["vitb16_vs_baseline"] = {  # < 1: faster than the baseline code, same machine, same call
            "encode_augment_ms": round(now["encode_augment_ms"] / r["encode_augment_ms"], 3),
            "full_step_ms": round(now["full_step_ms"] / r["full_step_ms"], 3),
            "full_minus_model_ms": round((now["full_step_ms"] - now["model_step_ms"])
                                         / max(r["full_step_ms"] - r["model_step_ms"], 1e-9), 3)}
m = Path(sys.argv[2]) / "pretrain_metrics.json"
if m.is_file():
    out["pretrain"] = {k: json.loads(m.read_text()).get(k) for k in ("steps", "samples_per_s", "final_loss",
                                                                     "first_loss", "wall_time_s")}
out["ok"] = all(v["exit"] == 0 for v in out["steps"].values())
print(json.dumps(out))
EOF
cat "$OUT/summary.json" | tee -a "$LOG"
log "done in $(( $(date +%s) - START ))s; results in $OUT"
grep -q '"ok": true' "$OUT/summary.json"
