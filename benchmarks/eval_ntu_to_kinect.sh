#!/usr/bin/env bash
# NTU-25 -> Kinect v1 on real data, and the encoding ablations where they matter, across joint sets (a 25-joint
# Kinect v2 arm has 6 joints, a 20-joint Kinect v1 arm 4): part_resample linear vs arclength, and the body-part
# layout vs the format's raw joint order vs a fixed random permutation.
#  source: every 25-joint (NTU order) sequence of the shared data, unlabelled — the three untrimmed PKU-MMD
#          streams cut into WIN-frame windows (stride WIN/2) and the five raw NTU RGB+D files — prepared with
#          `s2i prepare folder --format ntu25 --labels windows.csv` (start,end rows = segments);
#  target: NW-UCLA cross-view (kinect_v1, 20 joints, a format and data set the model never saw), evaluated
#          with `s2i eval cross-format` (linear, probe seed = pretraining seed; kNN), pretrained vs random init.
# One pretraining (configs/nwucla_small.yaml, STEPS steps) per variant (VARIANTS: name=encode option) and
# seed; the random-init baseline uses the same variant and seed.
# Then the union of joint sets (UNION=1): UTD-MHAD + MSR Action3D (two 20-joint orders) with and without the
# 25-joint windows, UNION_STEPS steps per seed, every sequence once per epoch, same evaluation on NW-UCLA.
# Two runs side by side (JOBS), one thread each. Steps with outputs are skipped, so an interrupted run continues.
#
#   bash benchmarks/eval_ntu_to_kinect.sh   # WORK=/tmp/s2i_ntu_to_kinect, STEPS=800, UNION_STEPS=1600, SEEDS="0 1 2"
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${S2I_SHARED_DATA:-../shared/data}
WORK=${WORK:-/tmp/s2i_ntu_to_kinect}
STEPS=${STEPS:-800} WIN=${WIN:-60} SEEDS=${SEEDS:-0 1 2} JOBS=${JOBS:-2} UNION=${UNION:-1}
UNION_STEPS=${UNION_STEPS:-1600}
VARIANTS=${VARIANTS:-linear=part_resample=linear arclength=part_resample=arclength raw=layout=raw permuted=layout=random}
PRE_CFG=${PRE_CFG:-configs/nwucla_small.yaml} CFG=${CFG:-configs/eval/nwucla_small.yaml}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" S2I_CACHE="$WORK/cache" OMP_NUM_THREADS=1
s2i() { python -m s2i "$@"; }
S=$WORK/stores RAW=$WORK/raw25
mkdir -p "$RAW"
for f in "$DATA"/pku_mmd_sample/phase1/Data/Skeleton/*/*.txt "$DATA"/pku_mmd_sample/phase2/*.txt \
         "$DATA"/ntu_samples/*.skeleton; do
  ln -sf "$(realpath "$f")" "$RAW/$(basename "$f")"
done
if [ ! -f "$RAW/windows.csv" ]; then  # untrimmed streams -> WIN-frame windows; NTU files whole
  python - "$RAW" "$WIN" <<'EOF'
import csv, sys
from pathlib import Path
from s2i.readers import read_input
raw, win = Path(sys.argv[1]), int(sys.argv[2])
rows = []
for p in sorted(raw.iterdir()):
    if p.suffix not in (".txt", ".skeleton"):
        continue
    n = read_input(p).num_frames
    starts = range(1, max(n - win + 1, 1) + 1, win // 2) if p.suffix == ".txt" else [1]
    rows += [(p.name, "unlabelled", s, min(s + win - 1, n) if p.suffix == ".txt" else n, "train") for s in starts]
with open(raw / "windows.csv", "w", newline="") as f:
    csv.writer(f).writerows([("file", "label", "start", "end", "split"), *rows])
print(f"{len(rows)} segments of 25-joint data in {raw / 'windows.csv'}")
EOF
fi
[ -f "$S/ntu25/manifest.json" ] || s2i prepare folder --root "$RAW" --format ntu25 --labels "$RAW/windows.csv" \
  --out "$S/ntu25" --quiet
[ -f "$S/nwucla/manifest.json" ] || s2i prepare nw-ucla --root "$DATA/nw_ucla/all_sqe" --out "$S/nwucla" --quiet
if [ "$UNION" = 1 ]; then
  [ -f "$S/utd/manifest.json" ] || s2i prepare utd-mhad --root "$DATA/utd_mhad" --out "$S/utd" --quiet
  [ -f "$S/msr/manifest.json" ] || s2i prepare msr-action3d --root "$DATA/msr_action3d/MSRAction3DSkeletonReal3D" \
    --out "$S/msr" --quiet
fi

pretrain() {  # pretrain NAME SEED STEPS STORE... -- OPTION...
  local run=$WORK/runs/$1-s$2 seed=$2 steps=$3 data=()
  shift 3
  while [ "$1" != -- ]; do data+=(--data "$1"); shift; done
  shift
  [ -f "$run/metrics.json" ] || s2i pretrain --config "$PRE_CFG" "${data[@]}" --out "$run" \
    --set "seed=$seed" --set "optim.max_steps=$steps" --set "optim.warmup_steps=$((steps / 20))" \
    --set trainer.checkpoint_every="$steps" --set trainer.progress_bar=false "$@" > "$WORK/logs/pretrain-${run##*/}.log" 2>&1
}
jobs_started=0
spawn() {  # run "$@" in the background, at most JOBS at a time
  "$@" &
  jobs_started=$((jobs_started + 1)); [ $((jobs_started % JOBS)) -ne 0 ] || wait
}
mkdir -p "$WORK/logs"
for v in $VARIANTS; do
  for seed in $SEEDS; do  # layout_seed: layout=random draws another permutation per seed (the others ignore it)
    spawn pretrain "${v%%=*}" "$seed" "$STEPS" "$S/ntu25" -- --set "encode.${v#*=}" --set "encode.layout_seed=$seed"
  done
done
if [ "$UNION" = 1 ]; then
  for seed in $SEEDS; do
    spawn pretrain utd-msr "$seed" "$UNION_STEPS" "$S/utd" "$S/msr" --
    spawn pretrain utd-msr-ntu25 "$seed" "$UNION_STEPS" "$S/utd" "$S/msr" "$S/ntu25" --
  done
fi
wait
dirs=()
evaluate() {  # evaluate NAME SEED LABEL: cross-format on NW-UCLA, pretrained and random init, linear and kNN
  for init in pretrained random; do
    for m in linear knn; do
      local out=$WORK/eval/$init-$1-s$2-$m
      dirs+=("$out")
      [ -f "$out/results.json" ] || s2i eval cross-format --checkpoint "$WORK/runs/$1-s$2" --data "$S/nwucla" \
        --out "$out" --config "$CFG" --set init="$init" --set "seeds=[$2]" --set init_seed="$2" \
        --set cross_format.method="$m" --method "$init, $3" --quiet
    done
  done
}
for v in $VARIANTS; do
  for seed in $SEEDS; do evaluate "${v%%=*}" "$seed" "ntu25, ${v#*=}"; done
done
if [ "$UNION" = 1 ]; then
  for seed in $SEEDS; do
    evaluate utd-msr "$seed" "utd+msr"
    evaluate utd-msr-ntu25 "$seed" "utd+msr+ntu25"
  done
fi
s2i results "${dirs[@]}" --runs
