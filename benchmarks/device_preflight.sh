#!/usr/bin/env bash
# First command on a fresh GPU machine, before any long run: checks in under two minutes that the
# carried wheels install, that Python finds JAX and the GPU, and that one Keras LSTM step runs.
# Each step has its own time limit and is killed with SIGABRT, which PYTHONFAULTHANDLER turns into
# a stack dump: a hang shows where it hangs instead of eating the command's whole 10 minutes
# (2026-11-24: `import jax` / `jax.devices()` hung silently there and used up a session's budget).
#
#   bash benchmarks/device_preflight.sh && KERAS_BACKEND=jax OUT=$OUT bash benchmarks/device_parallel.sh ...
#
# Source it (`. benchmarks/device_preflight.sh`) to keep its PATH / PYTHONPATH for what follows.
export PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-jax}
step() {  # step SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local start=$SECONDS
  timeout -s ABRT "$limit" "$@"
  local status=$?
  echo "preflight: $what: exit $status after $(( SECONDS - start )) s"
  return $status
}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "preflight: the wheels in .whl did not install"; return 1 2>/dev/null || exit 1; }
export PYTHONPATH=/tmp/site
# The task scripts call `python`; the machine's Python with JAX is `python3` (a symlink to it would
# lose its virtual environment, so this is a wrapper).
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > /tmp/bin/python && chmod +x /tmp/bin/python
export PATH=/tmp/bin:$PATH
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv
step 60 "import jax" python -c "import jax; print('jax', jax.__version__)" &&
step 60 "jax.devices()" python -c "import jax; print(jax.devices())" &&
step 60 "import keras" python -c "import keras; print('keras', keras.__version__, keras.backend.backend())" &&
step 120 "one LSTM training step" python -c "
import keras, numpy as np
m = keras.Sequential([keras.Input((35, 8)), keras.layers.LSTM(64), keras.layers.Dense(1)])
m.compile('sgd', 'mse'); print(m.train_on_batch(np.zeros((20, 35, 8)), np.zeros((20, 1))))"
status=$?
echo "preflight: $([ $status = 0 ] && echo passed || echo FAILED)"
return $status 2>/dev/null || exit $status
