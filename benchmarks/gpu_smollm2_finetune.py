"""A real fine-tune of SmolLM2-135M-Instruct on a curated train split, on a CUDA GPU with Unsloth (4-bit QLoRA),
through the same :func:`training.run.train` that ``tome train`` runs, with ``configs/train_smollm2_gpu.yaml``.

    python benchmarks/gpu_smollm2_finetune.py --data out/ --run runs/smollm2-gpu [--set training.max_steps=100]

Prints the validation losses and the summary; ``--pack DIR`` then copies what ``tome export`` needs from the run
folder (no checkpoints; the adapter split into pieces under 12 MiB) so it can travel back from the device machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tomecraft.config_files import deep_merge, parse_override  # noqa: E402
from training.config import CONFIG_DIR, load_config  # noqa: E402


def pack(run: Path, out: Path, piece: int = 12 * 2**20) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keep = ["config.yaml", "data_manifest.json", "metrics.jsonl", "skipped_rows.jsonl", "summary.json"]
    bundle = out / "run_meta"
    bundle.mkdir(exist_ok=True)
    for name in keep:
        if (run / name).exists():
            shutil.copy2(run / name, bundle / name)
    adapter = run / "adapter"
    for item in adapter.iterdir():
        if item.name != "adapter_model.safetensors":
            shutil.copy2(item, bundle / f"adapter__{item.name}")
    data = (adapter / "adapter_model.safetensors").read_bytes()
    for i in range(0, len(data), piece):
        (out / f"adapter_model.safetensors.part{i // piece:02d}").write_bytes(data[i:i + piece])
    shutil.make_archive(str(out / "run_meta"), "gztar", root_dir=bundle)
    shutil.rmtree(bundle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--config", default=str(CONFIG_DIR / "train_smollm2_gpu.yaml"))
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--pack", default=None)
    opts = parser.parse_args()
    overrides: dict = {}
    for item in opts.sets:
        overrides = deep_merge(overrides, parse_override(item))
    from training.run import train

    summary = train(opts.data, load_config(opts.config, overrides), opts.run)
    print("eval losses (step, loss):", json.dumps(summary.eval_losses))
    print(json.dumps({k: v for k, v in summary.to_dict().items() if k not in ("eval_losses", "packages")}, indent=1))
    if opts.pack:
        pack(Path(opts.run), Path(opts.pack))


if __name__ == "__main__":
    main()
