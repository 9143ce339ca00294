#!/usr/bin/env bash
# Cross-format evaluation on the shared data (S2I's emphasis), pretrained vs random initialisation:
#  1. pretrain one ViT on the union of UTD-MHAD + MSR Action3D (two Kinect-v1 joint orders, two format specs),
#     evaluate on NW-UCLA (Kinect v1 SDK order, a format the model never saw): linear and kNN;
#  2. 3D -> 2D: the NW-UCLA model of benchmarks/eval_nwucla.sh evaluated on NW-UCLA seen as 2D: depth dropped
#     (orthographic, (x, y)) and projected through a pinhole camera at the Kinect ((x/z, y/z), perspective);
#  3. transfer across data sets and formats: the NW-UCLA model evaluated on UTD-MHAD (linear).
# Run benchmarks/eval_nwucla.sh first (same WORK) for the NW-UCLA model. Steps with outputs are skipped.
#
#   bash benchmarks/eval_crossformat.sh                 # WORK=/tmp/s2i_eval_nwucla
#   CFG=configs/eval/nwucla_small.yaml WORK=/tmp/s2i_nwucla_small bash benchmarks/eval_crossformat.sh
#                                                       # after the nwucla_small run of eval_nwucla.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${S2I_SHARED_DATA:-../shared/data}
WORK=${WORK:-/tmp/s2i_eval_nwucla}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" S2I_CACHE="$WORK/cache"
s2i() { python -m s2i "$@"; }
CFG=${CFG:-configs/eval/nwucla_tiny.yaml}
S=$WORK/stores EVAL=$WORK/eval
[ -f "$S/nwucla/manifest.json" ] || s2i prepare nw-ucla --root "$DATA/nw_ucla/all_sqe" --out "$S/nwucla" --quiet
[ -f "$S/utd/manifest.json" ] || s2i prepare utd-mhad --root "$DATA/utd_mhad" --out "$S/utd" --quiet
[ -f "$S/msr/manifest.json" ] || s2i prepare msr-action3d --root "$DATA/msr_action3d/MSRAction3DSkeletonReal3D" \
  --out "$S/msr" --quiet
MIXED=$WORK/runs/mixed_utd_msr
[ -f "$MIXED/metrics.json" ] || s2i pretrain --config configs/mixed_kinect_tiny.yaml --data "$S/utd" \
  --data "$S/msr" --out "$MIXED" --set "data.weights=[1,1]" --set trainer.progress_bar=false
run() {  # run NAME PROTOCOL CHECKPOINT STORE [--set ...]
  local name=$1 protocol=$2 ckpt=$3 store=$4; shift 4
  for init in pretrained random; do
    [ -f "$EVAL/$init-$name/results.json" ] || s2i eval "$protocol" --checkpoint "$ckpt" --data "$store" \
      --out "$EVAL/$init-$name" --config "$CFG" --set init="$init" --method "$init" --quiet "$@"
  done
}
run xf-mixed-linear cross-format "$MIXED" "$S/nwucla" --set cross_format.method=linear --set "seeds=[0,1,2]"
run xf-mixed-knn cross-format "$MIXED" "$S/nwucla" --set cross_format.method=knn
run xf-2d-linear cross-format "$WORK/runs/pretrain" "$S/nwucla" --set drop_depth=true --set "seeds=[0,1,2]"
run xf-2d-knn cross-format "$WORK/runs/pretrain" "$S/nwucla" --set drop_depth=true --set cross_format.method=knn
run xf-2dp-linear cross-format "$WORK/runs/pretrain" "$S/nwucla" --set drop_depth=true --set projection=perspective \
  --set "seeds=[0,1,2]"
run xf-2dp-knn cross-format "$WORK/runs/pretrain" "$S/nwucla" --set drop_depth=true --set projection=perspective \
  --set cross_format.method=knn
run tr-utd-linear transfer "$WORK/runs/pretrain" "$S/utd" --set "seeds=[0,1,2]"
s2i results "$EVAL"/{pretrained,random}-{xf-mixed-linear,xf-mixed-knn,xf-2d-linear,xf-2d-knn,xf-2dp-linear,xf-2dp-knn,tr-utd-linear} --runs
