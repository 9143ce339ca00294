#!/usr/bin/env bash
# Encoding ablation on NW-UCLA cross-view, same budget and seeds for every variant: body-part layout vs the
# format's raw joint order vs a fixed random joint permutation, and part_resample linear vs arclength.
# Budget: no pretraining — the architecture of the NW-UCLA model (benchmarks/eval_nwucla.sh, same WORK) with
# random initialisation, 3 seeds (a different random backbone and probe seed each), linear probe and kNN on
# frozen features. It measures how much each image layout keeps linearly decodable through a random ViT,
# not the pretrained comparison (that needs one pretraining run per variant and seed).
#
#   bash benchmarks/eval_ablation.sh                    # WORK=/tmp/s2i_eval_nwucla
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/s2i_eval_nwucla}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" S2I_CACHE="$WORK/cache"
s2i() { python -m s2i "$@"; }
STORE=$WORK/stores/nwucla RUN=$WORK/runs/pretrain EVAL=$WORK/ablation CFG=configs/eval/nwucla_tiny.yaml
dirs=()
for variant in layout=parts layout=raw layout=random part_resample=arclength; do
  for protocol in linear knn; do
    out=$EVAL/${variant/=/-}-$protocol
    dirs+=("$out")
    [ -f "$out/results.json" ] || s2i eval "$protocol" --checkpoint "$RUN" --data "$STORE" --out "$out" \
      --config "$CFG" --set init=random --set "seeds=[0,1,2]" --set "encode.$variant" --method "random init, $variant" \
      --quiet
  done
done
s2i results "${dirs[@]}" --runs
