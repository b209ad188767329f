#!/usr/bin/env bash
# Several runs of benchmarks/device_run.sh at once on the lent GPU. A batch-20 LSTM leaves the H100
# mostly idle, so runs sharing it finish sooner together than one after another; and each runs in
# its own process session (setsid), so it outlives the 10-minute device command that started it
# (it lives as long as the machine is held: keep calling `watch` without a pause).
#
#   OUT=$OUT BUDGET_S=1200 bash benchmarks/device_parallel.sh start large --model=large
#   OUT=$OUT bash benchmarks/device_parallel.sh watch 560     # until all end or 560 s pass
#   OUT=$OUT bash benchmarks/device_parallel.sh stop iss2      # give the GPU to the other runs
#
# `watch` prints each run's last epoch lines and packs each run's small files (log, config,
# results, extraction logs, kept unit indices; never the checkpoints) into $OUT/<run>.tgz.
set -uo pipefail
verb=${1:?start, watch or stop}; shift
mkdir -p runs/device
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # share the GPU's memory between the runs

case $verb in
start)
  name=${1:?run name}; shift
  OUT=runs/device/${name}_files setsid bash benchmarks/device_run.sh "$name" "$@" \
    > "runs/device/$name.out" 2>&1 < /dev/null &
  echo $! > "runs/device/$name.pid"
  echo "started $name (pid $!, training budget ${BUDGET_S:-540} s)"
  ;;
stop)
  name=${1:?run name}
  pkill -TERM -f "save_path=runs/device/$name " || true
  echo "stopped $name's training (it still evaluates and extracts its last epoch)"
  ;;
watch)
  out=${OUT:?set OUT}
  end=$(( $(date +%s) + ${1:-560} ))
  while [ "$(date +%s)" -lt "$end" ]; do
    running=0
    for pid in runs/device/*.pid; do kill -0 "$(cat "$pid")" 2>/dev/null && running=1; done
    [ "$running" = 0 ] && break
    sleep 10
  done
  for pid in runs/device/*.pid; do
    name=$(basename "$pid" .pid)
    state=finished; kill -0 "$(cat "$pid")" 2>/dev/null && state=running
    echo "== $name ($state)"
    grep -E "Epoch [0-9]+/|Valid Perplexity|Test Perplexity|exact_match|Hidden sizes|Error|Traceback" "runs/device/$name.out" | tail -n 4
    # $name.out already holds the whole training log (device_run.sh tees it), so train.log is not packed twice.
    files=$(cd runs/device && ls -d "$name/log.csv" "$name/config.json" "$name/results.json" "${name}_files" "$name.out" \
      2>/dev/null)
    tar czf "$out/$name.tgz" -C runs/device $files
  done
  ;;
*)
  echo "unknown verb $verb (start, watch or stop)" >&2; exit 2
  ;;
esac
