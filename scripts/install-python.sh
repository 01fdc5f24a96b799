#!/usr/bin/env bash
# The Python install steps, shared by `make install` and the Docker image so both install the same way.
#   scripts/install-python.sh VENV_DIR [--dev]
# --dev: editable install with the test tools (make install); without it: a plain install (image).
set -euo pipefail
venv="${1:?usage: install-python.sh VENV_DIR [--dev]}"
mode="${2:-}"
python="${PYTHON:-python3.11}"
mediapipe="mediapipe==0.10.21"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
if [ "$mode" = "--dev" ]; then
  "$venv/bin/python" -m pip install -q -e '.[dev]'
else
  "$venv/bin/python" -m pip install -q --no-cache-dir .
fi
# MediaPipe without its own dependency list, which pulls the non-headless OpenCV and jax;
# what it really imports is listed in pyproject.toml.
"$venv/bin/python" -m pip install -q --no-cache-dir --no-deps "$mediapipe"
"$venv/bin/python" -m vigilo.tools.verify_install
