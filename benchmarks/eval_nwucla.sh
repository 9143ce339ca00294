#!/usr/bin/env bash
# NW-UCLA cross-view: MAE pretraining, then linear, kNN, fine-tune and 10 % semi-supervised evaluation of the
# pretrained encoder and of the same architecture with random initialisation; prints the tables of
# docs/results.md. Every step is skipped when its output exists (delete WORK to start over).
#
#   bash benchmarks/eval_nwucla.sh                      # WORK=/tmp/s2i_eval_nwucla, data in ../shared/data
#   S2I_SHARED_DATA=/path/to/data WORK=/tmp/w bash benchmarks/eval_nwucla.sh
#   PRE_CFG=configs/nwucla_small.yaml CFG=configs/eval/nwucla_small.yaml WORK=/tmp/s2i_nwucla_small \
#     bash benchmarks/eval_nwucla.sh                    # the longer pretraining of docs/results.md
#
# Budgets: $PRE_CFG (pretraining; default configs/nwucla_tiny.yaml) and $CFG (evaluation; default
# configs/eval/nwucla_tiny.yaml). Seeds: linear, fine-tune and semi run $SEEDS (default [0,1,2]: the
# mean +- std cells of docs/results.md; SEEDS="[0]" for a quick look); kNN has no seed.
# EVAL_SET: extra --set for every evaluation (e.g. "finetune.test_crops=32"); RANDOM_SET: extra --set for
# random init only (e.g. "finetune.base_lr=4e-3 finetune.layer_decay=0.75", the random-init cells' recipe).
# SAVE=DIR: keep small copies of the results.json under DIR (s2i results --save), e.g. to commit under
# docs/results/ and rebuild the README table with `s2i results --readme docs/results`.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${S2I_SHARED_DATA:-../shared/data}
WORK=${WORK:-/tmp/s2i_eval_nwucla}
PRE_SET=${PRE_SET:-}                       # extra --set for pretraining, e.g. "optim.max_steps=400"
SEEDS=${SEEDS:-[0,1,2]} EVAL_SET=${EVAL_SET:-} RANDOM_SET=${RANDOM_SET:-} SAVE=${SAVE:-}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" S2I_CACHE="$WORK/cache"
s2i() { python -m s2i "$@"; }
PRE_CFG=${PRE_CFG:-configs/nwucla_tiny.yaml} CFG=${CFG:-configs/eval/nwucla_tiny.yaml}
STORE=$WORK/stores/nwucla RUN=$WORK/runs/pretrain EVAL=$WORK/eval
mkdir -p "$WORK"
[ -f "$STORE/manifest.json" ] || s2i prepare nw-ucla --root "$DATA/nw_ucla/all_sqe" --out "$STORE" --quiet
if [ ! -f "$RUN/metrics.json" ]; then  # written with the exported encoder, at the end of a run
  # shellcheck disable=SC2046
  s2i pretrain --config "$PRE_CFG" --data "$STORE" --out "$RUN" --set trainer.progress_bar=false \
    $(for s in $PRE_SET; do echo --set "$s"; done)
fi
sets() { for s in "$@"; do echo --set "$s"; done; }
for protocol in linear knn finetune semi; do
  for init in pretrained random; do
    out=$EVAL/$init-$protocol
    seeds=$SEEDS; [ "$protocol" = knn ] && seeds="[0]"
    extra=$EVAL_SET; [ "$init" = random ] && extra="$EVAL_SET $RANDOM_SET"
    # shellcheck disable=SC2046,SC2086
    [ -f "$out/results.json" ] || s2i eval "$protocol" --checkpoint "$RUN" --data "$STORE" --out "$out" \
      --config "$CFG" --set init="$init" --set "seeds=$seeds" --method "$init" --quiet $(sets $extra)
  done
done
python - "$RUN" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/metrics.json"))
print(f"pretraining: {m['steps']} steps, final loss {m['final_loss']:.4f}, {m['total_wall_time_s']:.0f} s")
PY
s2i results "$EVAL"/{pretrained,random}-{linear,knn,finetune,semi} --runs ${SAVE:+--save "$SAVE"}
