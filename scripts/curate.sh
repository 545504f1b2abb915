#!/usr/bin/env bash
# The main job on a fresh machine, in one command: installs what is missing (the first time only), then curates
# the embedded sample into out/ (no network needed). Options go to `tome curate`, e.g. -i rows.jsonl -o curated/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_installed.sh
exec "${PYTHON:-python3}" -m tomecraft.cli curate "$@"
