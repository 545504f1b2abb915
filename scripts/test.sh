#!/usr/bin/env bash
# The tests on a fresh machine, in one command: installs what is missing (the first time only), then runs
# pytest. Options go to pytest, e.g. -m "not slow" for the fast lane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_installed.sh
exec "${PYTHON:-python3}" -m pytest "$@"
