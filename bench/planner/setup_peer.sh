#!/usr/bin/env bash
# Install the peer solver (OR-Tools CP-SAT) into a venv OUTSIDE the repository.
set -euo pipefail
VENV="${PEER_VENV:-/work/peers/venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet ortools
"$VENV/bin/python" -c 'import ortools; print("ortools", ortools.__version__)'
