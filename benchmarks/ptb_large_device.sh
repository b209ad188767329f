#!/usr/bin/env bash
# One PTB Table 1 run on the lent GPU machine, all inside one device command: train (resuming a
# run that an earlier command left on the machine), then evaluate, extract the compact model and
# evaluate it, and copy the small files (log, config, results, kept unit indices) to $OUT: the
# 2 x 1500 checkpoints are too large to come back.
#
#   KERAS_BACKEND=jax OUT=$OUT bash benchmarks/ptb_large_device.sh large --model=large
#   KERAS_BACKEND=jax OUT=$OUT bash benchmarks/ptb_large_device.sh iss --model=sparselarge \
#       --config_file=ptb/configs/structure_grouplasso.json
#
# DATA (default .data/ptb) is the PTB folder; BUDGET_S (default 540) stops training before the
# command's limit; a stopped run is resumed by calling the script again with the same name.
set -uo pipefail
name=${1:?run name}; shift
data=${DATA:-.data/ptb}; out=${OUT:?set OUT}; budget=${BUDGET_S:-540}
run=runs/ptb_large/$name
mkdir -p "$out/$name" "$run"
start=$(date +%s)
timeout "$budget" python -m ptb.train --data_path="$data" --save_path="$run" --verbose=2 "$@" 2>&1 | tee -a "$run/train.log"
status=${PIPESTATUS[0]}
echo "train exit $status after $(( $(date +%s) - start )) s" | tee -a "$run/train.log"
cp "$run/log.csv" "$run/config.json" "$run/train.log" "$out/$name/" 2>/dev/null
if [ -f "$run/results.json" ]; then
  python -m ptb.extract --restore_path="$run" --output="${run}_compact" 2>&1 | tee "$out/$name/extract.log"
  python -m ptb.evaluate --restore_path="${run}_compact" --data_path="$data" 2>&1 | tee "$out/$name/compact_evaluate.log"
  cp "$run/results.json" "${run}_compact/kept_units.npz" "$out/$name/"
fi
exit "$status"
