#!/usr/bin/env bash
# Lobacheva et al.'s model size, 1 x 256, on the `small` 13-epoch schedule: the dense baseline and the
# structured Bayesian method on every layer (weights + neurons + gates at three KL weights,
# weights + neurons at four, once with lr 1 for 10 epochs, twice for 24 epochs, lr 1 for 18, and once
# with the group variables drawn per sequence),
# each run its own folder under $1, then extraction, evaluation, timing, the table and the
# perplexity-compression plot.
#   bash benchmarks/methods_1x256.sh runs/methods256 DATA/ptb 13
# About 50-90 min per 13-epoch run on a 2-core CPU (the 24-epoch ones about 95 min).
# results/methods.md has the numbers these runs gave.
set -euo pipefail
out=${1:?output folder}; data=${2:?PTB data folder}; epochs=${3:-13}
common=(--model=small --data_path="$data" --max_max_epoch="$epochs" --verbose=2 --num_layers=1 --hidden_size=256)
bayes=(--method=bayes_structured --bayes_layers=all)
python -m ptb.train "${common[@]}" --save_path="$out/dense"
python -m ptb.train "${common[@]}" --save_path="$out/bayes" "${bayes[@]}"                       # KL 1 / training sequences
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn" "${bayes[@]}" --nobayes_gates   # no gate variables
python -m ptb.train "${common[@]}" --save_path="$out/bayes_kl01" "${bayes[@]}" --kl_weight=2.15e-6
python -m ptb.train "${common[@]}" --save_path="$out/bayes_kl03" "${bayes[@]}" --kl_weight=6.8e-6
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_kl03" "${bayes[@]}" --nobayes_gates --kl_weight=6.8e-6
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_kl04" "${bayes[@]}" --nobayes_gates --kl_weight=8.7e-6
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_kl02" "${bayes[@]}" --nobayes_gates --kl_weight=4.5e-6  # their size
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_kl02_seq" "${bayes[@]}" --nobayes_gates --kl_weight=4.5e-6 \
  --bayes_group_noise=sequence  # group variables drawn per sequence, as their code
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_lr10" "${bayes[@]}" --nobayes_gates --max_epoch=10  # lr 1 longer
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_long" "${bayes[@]}" --nobayes_gates --max_max_epoch=24 --max_epoch=18  # 24 epochs
python -m ptb.train "${common[@]}" --save_path="$out/bayes_wn_kl04_long" "${bayes[@]}" --nobayes_gates --kl_weight=8.7e-6 \
  --max_max_epoch=24 --max_epoch=18
# Each Bayesian run as a model of stock LSTMs (removed neurons dropped), evaluated (it must give the
# run's own perplexities) and timed against the dense 1 x 256 shapes.
for run in bayes bayes_wn bayes_kl01 bayes_kl03 bayes_wn_kl03 bayes_wn_kl04 bayes_wn_lr10 bayes_wn_long \
    bayes_wn_kl04_long bayes_wn_kl02 bayes_wn_kl02_seq; do
  python -m ptb.extract --restore_path="$out/$run" --output="$out/${run}_dense"
  python -m ptb.evaluate --restore_path="$out/${run}_dense" --data_path="$data"
  python -m benchmarks.inference --restore_path="$out/$run" --baseline_sizes=256 --baseline_embedding_size=256 \
    --output="$out/$run/inference.json"
done
python -m benchmarks.methods_table "$out"
python -m benchmarks.tradeoff_plot "$out" "$out/tradeoff.png" --published=lobacheva_1x256
