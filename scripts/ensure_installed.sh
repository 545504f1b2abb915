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
# where `import tomecraft` leads from outside the checkout (what the `tome` command runs): this checkout's
# tomecraft/, or another clone's that was installed since (then only the editable install is redone)
ours() {
  local here="$PWD/tomecraft/__init__.py"
  (cd / && "$PY" -c 'import os, sys, tomecraft; sys.exit(os.path.realpath(tomecraft.__file__) != os.path.realpath(sys.argv[1]))' \
    "$here") 2>/dev/null
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] \
  && "$PY" -c "import tomecraft.cli, curation.pipeline, pytest, xdist, hypothesis" 2>/dev/null; then
  if ! ours; then
    echo "install: tomecraft pointed at another checkout; installing this one (editable, no dependencies)"
    "$PY" -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || "$PY" -m pip install -q --no-deps -e .
  fi
  if ours; then
    echo "install: up to date (pyproject.toml, setup.py and scripts/install.sh unchanged since the last install)"
    exit 0
  fi
fi
bash scripts/install.sh
mkdir -p .cache
echo "$key" > "$stamp"
