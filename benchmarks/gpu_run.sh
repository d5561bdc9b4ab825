#!/usr/bin/env bash
# The prepared GPU run of issue 15 (benchmarks/gpu_run.py says what it measures).
#
# Here, once (network and the project's .venv):
#   bash benchmarks/gpu_run.sh --fetch-wheels DIR   the wheels the GPU machine lacks, into DIR
#   bash benchmarks/gpu_run.sh --prepare [DIR]      the whole payload (wheels, MiniLM in float16,
#                                                   IMDb encoded) into DIR (default gpu_payload/,
#                                                   which git ignores; it travels as `carry`)
# On the GPU machine (one H200: PyTorch, JAX, transformers; no TensorFlow, no network):
#   bash benchmarks/gpu_run.sh --payload DIR --out OUT [--budget SECONDS]
#     installs the payload's wheels that are missing there into /tmp, then runs every stage
#     within the budget (default 480 s); results in OUT/gpu_run.{json,md,log}
# Here, on the CPU, in the test suite (tests/test_gpu_run.py):
#   bash benchmarks/gpu_run.sh --smoke --out OUT
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export KERAS_BACKEND=jax TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
usage="usage: bash benchmarks/gpu_run.sh --fetch-wheels DIR | --prepare [DIR] | --payload DIR --out OUT [--budget S] | --smoke --out OUT"

case "${1:-}" in
    --fetch-wheels)
        [[ $# -eq 2 ]] || { echo "$usage" >&2; exit 2; }
        exec "$PYTHON" -m benchmarks.gpu_run fetch-wheels "$2" ;;
    --prepare)
        exec "$PYTHON" -m benchmarks.gpu_run prepare "${2:-gpu_payload}" ;;
    --smoke)
        [[ "${2:-}" == --out && $# -eq 3 ]] || { echo "$usage" >&2; exit 2; }
        exec "$PYTHON" -m benchmarks.gpu_run smoke --out "$3" ;;
    --payload)
        payload="$2"; shift 2
        site=/tmp/gpu_run-site
        mapfile -t wheels < <("$PYTHON" -m benchmarks.gpu_run missing-wheels "$payload/wheels")
        if [[ ${#wheels[@]} -gt 0 ]]; then
            echo "[gpu_run] installing ${wheels[*]##*/} into $site"
            "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
                --upgrade --target "$site" "${wheels[@]}"
            export PYTHONPATH="$site:$PYTHONPATH"
        fi
        exec "$PYTHON" -m benchmarks.gpu_run run --payload "$payload" "$@" ;;
    *)
        echo "$usage" >&2; exit 2 ;;
esac
