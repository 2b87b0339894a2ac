#!/usr/bin/env bash
# Run the test suite on every Python found under pyenv for the given minor versions.
# Usage: scripts/matrix.sh 3.8 3.9 ... -- tool==version ...
set -euo pipefail
cd "$(dirname "$0")/.."
versions=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do versions+=("$1"); shift; done
shift || true
tools=("$@")
root="${PYENV_ROOT:-$HOME/.pyenv}/versions"
failed=()
ran=0
# moto (the SQS tests' server) needs Python 3.10+: older venvs run it from the dev venv's Python
if [ -z "${PYQUEUE_MOTO_PYTHON:-}" ] && [ -x .venv/bin/python ] \
    && .venv/bin/python -c "import moto" 2>/dev/null; then
    export PYQUEUE_MOTO_PYTHON="$PWD/.venv/bin/python"
fi
for minor in "${versions[@]}"; do
    python=$(ls -d "$root/$minor".*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$python" ]; then
        echo "== Python $minor: not installed under $root, skipped"
        continue
    fi
    venv=".venv-matrix/$minor"
    echo "== Python $minor ($python)"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet "${tools[@]}"
    fi
    ran=$((ran + 1))
    if ! PYTHONPATH="$PWD" "$venv/bin/python" -m pytest -q -p no:cacheprovider; then
        failed+=("$minor")
    fi
done
if [ "$ran" -eq 0 ]; then
    echo "matrix: no Python found under $root" >&2
    exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "matrix: failed on ${failed[*]}" >&2
    exit 1
fi
echo "matrix: passed on $ran Python versions"
