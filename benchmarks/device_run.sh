#!/usr/bin/env bash
# One language-model run (ptb: Table 1 and the other sparsity methods; rhns: the RHN runs) on the lent GPU machine, all inside one
# device command: train (resuming a run that an earlier command left on the machine), then
# evaluate, extract the compact model and evaluate it, and copy the small files (log, config,
# results, kept unit indices) to $OUT: the large checkpoints are too big to come back.
#
#   KERAS_BACKEND=jax OUT=$OUT bash benchmarks/device_run.sh large --model=large
#   KERAS_BACKEND=jax OUT=$OUT bash benchmarks/device_run.sh iss --model=sparselarge \
#       --config_file=ptb/configs/structure_grouplasso.json
#   KERAS_BACKEND=jax OUT=$OUT TASK=rhns bash benchmarks/device_run.sh rhn_iss --model=ptb_iss_sota
#   KERAS_BACKEND=jax OUT=$OUT TASK=bidaf bash benchmarks/device_run.sh bidaf_iss --model=bidaf_iss
#
# TASK (default ptb) is the task package; DATA the data folder (default .data/ptb, for bidaf the
# bidaf.prepro output .data/squad_bidaf, which its programs take as --data_dir); BUDGET_S
# (default 540) stops training before the command's limit; a stopped run is resumed by calling
# the script again with the same name. A stopped run's last finished epoch is evaluated and extracted
# all the same (shortened_evaluate.log), so a run cut short by the device budget still reports.
set -uo pipefail
name=${1:?run name}; shift
task=${TASK:-ptb}; out=${OUT:?set OUT}; budget=${BUDGET_S:-540}
case $task in
  bidaf) data_flag=--data_dir data=${DATA:-.data/squad_bidaf} ;;
  *) data_flag=--data_path data=${DATA:-.data/ptb} ;;
esac
run=runs/device/$name
mkdir -p "$out/$name" "$run"
start=$(date +%s)
timeout "$budget" python -m "$task.train" "$data_flag=$data" --save_path="$run" --verbose=2 "$@" 2>&1 | tee -a "$run/train.log"
status=${PIPESTATUS[0]}
echo "train exit $status after $(( $(date +%s) - start )) s" | tee -a "$run/train.log"
# sparsity.csv: zero fractions per matrix and epoch; structure.csv: what a Bayesian run keeps (either may be absent).
cp "$run/log.csv" "$run/config.json" "$run/train.log" "$run/sparsity.csv" "$run/structure.csv" "$out/$name/" 2>/dev/null
if [ ! -f "$run/results.json" ] && [ -d "$run/checkpoint" ]; then
  # Stopped before its last epoch: evaluate the last finished epoch (a shortened run, labelled so).
  python -m "$task.evaluate" --restore_path="$run" "$data_flag=$data" 2>&1 | tee "$out/$name/shortened_evaluate.log"
fi
if [ -d "$run/checkpoint" ]; then
  python -m "$task.extract" --restore_path="$run" --output="${run}_compact" 2>&1 | tee "$out/$name/extract.log"
  python -m "$task.evaluate" --restore_path="${run}_compact" "$data_flag=$data" 2>&1 | tee "$out/$name/compact_evaluate.log"
  cp "${run}_compact/kept_units.npz" "$out/$name/" 2>/dev/null  # ptb, rhns: the kept unit indices
  cp "$run/results.json" "$out/$name/" 2>/dev/null
fi
exit "$status"
