#!/usr/bin/env bash
# Steps of the GPU evidence runs on the lent device machine (no network there; files arrive through `carry`,
# at most 64 MiB a call, and stay in /tmp while the machine is warm between back-to-back calls).
#   bash benchmarks/gpu_device.sh install DIR        pip-install the wheels in DIR into /tmp/site (no deps, no index)
#   bash benchmarks/gpu_device.sh stash FILE...      keep files in /tmp/stage for a later call
#   bash benchmarks/gpu_device.sh assemble NAME      cat /tmp/stage/NAME.part* > /tmp/stage/NAME
#   bash benchmarks/gpu_device.sh info               GPU, driver, python, torch and the installed training stack
# Python commands then run with: PYTHONPATH=/tmp/site:$PWD
set -euo pipefail
cmd=${1:?usage: gpu_device.sh install|stash|assemble|info ...}; shift
mkdir -p /tmp/site /tmp/stage
case "$cmd" in
  install)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$1"/*.whl
    echo "installed $(ls "$1"/*.whl | wc -l) wheels from $1" ;;
  stash)
    cp -v "$@" /tmp/stage/ ;;
  assemble)
    cat /tmp/stage/"$1".part* > /tmp/stage/"$1"
    ls -l /tmp/stage/"$1"; sha256sum /tmp/stage/"$1" ;;
  info)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    PYTHONPATH=/tmp/site python3 - <<'PY'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "datasets", "unsloth_zoo", "gguf"):
    try:
        mod = importlib.import_module(name)
        print(name, getattr(mod, "__version__", "?"))
    except Exception as exc:  # noqa: BLE001
        print(name, "MISSING", type(exc).__name__, str(exc)[:120])
PY
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
