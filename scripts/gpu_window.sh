#!/usr/bin/env bash
# One GPU window (issue 11), run by the device tool in the checkout's root; see DEVELOPING.md.
#   call 1: bash scripts/gpu_window.sh stage .gpu/data/part00.npzpart --commit HASH   (carry: that part + .gpu/state)
#   call 2: bash scripts/gpu_window.sh run .gpu/data/part01.npzpart 9       (carry: that part)
#   here:   bash scripts/gpu_window.sh unpack /path/to/files_at
#   here:   bash scripts/gpu_window.sh prepare                              (split CIFAR-10, print the calls)
# Rehearsal on a CPU: OUT=$(mktemp -d) bash scripts/gpu_window.sh run "" 1 --profile smoke --quick
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
action=${1:?usage: gpu_window.sh prepare|stage|run|unpack [PART] [MINUTES] [options]}
shift
case "$action" in
  stage)  exec "$PY" "$(dirname "$0")/gpu_window.py" stage --part "${1:?the CIFAR-10 part}" "${@:2}" ;;
  run)    part=${1:-}; minutes=${2:-9}; shift $(( $# < 2 ? $# : 2 ))
          exec "$PY" "$(dirname "$0")/gpu_window.py" run ${part:+--part "$part"} --minutes "$minutes" --out "${OUT:-/tmp/td/out}" "$@" ;;
  unpack) exec "$PY" "$(dirname "$0")/gpu_window.py" unpack "$@" ;;
  prepare) exec "$PY" "$(dirname "$0")/gpu_window.py" prepare --source "${TDLIB_DATA:-../shared/data/cifar10.npz}" "$@" ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
