#!/usr/bin/env bash
# Runs scripts/install.sh only when it has something to do. The stamp (.cache/install.stamp) holds a hash of
# what the install depends on (pyproject.toml, setup.py, scripts/install.sh, the Python interpreter); when it
# matches and tomecraft and the test tools import, a second run returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.cache/install.stamp
key=$( { cat pyproject.toml setup.py scripts/install.sh; "$PY" -c 'import sys; print(sys.executable, sys.version)'; } \
  | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] \
  && "$PY" -c "import tomecraft.cli, curation.pipeline, pytest, hypothesis" 2>/dev/null; then
  echo "install: up to date (pyproject.toml, setup.py and scripts/install.sh unchanged since the last install)"
  exit 0
fi
bash scripts/install.sh
mkdir -p .cache
echo "$key" > "$stamp"
