#!/usr/bin/env bash
# The two commands of the README:
#   bash scripts/run.sh demo   set up .venv/, convert all-MiniLM-L6-v2, print its parity report
#   bash scripts/run.sh test   set up .venv/, lint, run the test suite
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2
case "${1:-demo}" in
    demo)
        exec .venv/bin/attention-lab demo ;;
    test)
        .venv/bin/ruff check .
        .venv/bin/ruff format --check .
        # Two worker processes, each test file kept in one of them: much of the suite waits on
        # one thread (imports, tracing, subprocesses), so a second process uses the idle core
        # (timings: docs/benchmarks.md, "Test suite"). `-n 0` runs it in one process.
        exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "${@:2}" ;;
    *)
        echo "usage: bash scripts/run.sh [demo|test] [pytest args...]" >&2
        exit 2 ;;
esac
