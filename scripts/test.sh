#!/usr/bin/env bash
# The tests on a fresh machine, in one command: installs what is missing (the first time only), then runs
# pytest. Options go to pytest, e.g. -m "not slow" for the fast lane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_installed.sh
# the project's and the tests' compiled bytecode is kept (in __pycache__ folders, which git ignores), also where
# PYTHONDONTWRITEBYTECODE is set: without it every run compiles every module again (~6 s of a fast-lane run)
unset PYTHONDONTWRITEBYTECODE
# the tests run on up to 4 worker processes (pytest-xdist; one per core on a smaller machine): give -n 0 (or
# -n N) to choose, -p no:xdist to run in this process alone
workers=(-n auto --maxprocesses 4)
for arg in "$@"; do
  case "$arg" in -n|-n*|--numprocesses*|no:xdist|-pno:xdist) workers=() ;; esac
done
exec "${PYTHON:-python3}" -m pytest ${workers[@]+"${workers[@]}"} "$@"
