#!/usr/bin/env bash
# The sparsity methods side by side on PTB small (2 x 200), each run its own folder under $1.
#   bash benchmarks/methods_ptb_small.sh runs/methods DATA/ptb 13        # the full 13-epoch schedule
# Every run writes results.json (test perplexity, nonzero_weights, live units / structure).
set -euo pipefail
out=${1:?output folder}; data=${2:?PTB data folder}; epochs=${3:-13}
common=(--model=small --data_path="$data" --max_max_epoch="$epochs" --verbose=2)
python -m ptb.train "${common[@]}" --save_path="$out/dense"
python -m ptb.train "${common[@]}" --save_path="$out/iss" --method=iss --config_file=ptb/configs/small_structure_grouplasso.json
python -m ptb.train "${common[@]}" --save_path="$out/l1" --method=l1 --config_file=ptb/configs/small_l1.json
python -m ptb.train "${common[@]}" --save_path="$out/set" --method=set --set_epsilon=20 --set_zeta=0.3
python -m ptb.train "${common[@]}" --save_path="$out/bayes" --method=bayes_structured
python -m ptb.train "${common[@]}" --save_path="$out/grow_prune" --method=grow_prune --gate_hidden=64 --target_density=0.2
# Inference speedup of the extracted dense models (ISS, L1 and Bayesian remove whole units; SET and
# grow-and-prune masks are unstructured and have no dense structure to extract).
for m in iss l1 bayes; do
  python -m benchmarks.inference --restore_path="$out/$m" --baseline="$out/dense" --output="$out/$m/inference.json"
done
