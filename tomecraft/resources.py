"""Files tomecraft ships beside its code: the default configs, the embedded sample's generator, the cache.

In a checkout the configs are ``configs/`` and the sample generator ``data/samplegen/`` at the repository root;
an installed wheel carries the same files as the packages ``tomecraft.configs`` and ``tomecraft.sample``
(``setup.py`` maps the folders there), so ``tome curate``, ``tome train --print-config`` and ``tome eval`` find
them outside the checkout too.

The embedded sample itself is not stored: :func:`ensure_sample` generates it on first use (a few seconds; the
generator is deterministic, so every machine gets the same bytes, pinned in ``tests/data/test_sample_data.py``)
into ``data/`` of a checkout, or into the tomecraft cache for an installed wheel.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.util import find_spec
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
CACHE_ENV = "TOMECRAFT_CACHE"
SAMPLE_NAME, TRUTH_NAME = "sample.jsonl", "sample_truth.json"


def cache_dir() -> Path:
    """tomecraft's cache (converted models, tokenizers, judge scores, the generated sample):
    ``$TOMECRAFT_CACHE``, default ``~/.cache/tomecraft``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tomecraft")


def _folder(checkout_name: str, package: str) -> Path:
    local = CHECKOUT / checkout_name
    if local.is_dir():
        return local
    try:
        spec = find_spec(package)  # a folder without __init__.py: a namespace package, found by its location
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return local  # neither: callers report the missing file by this path
    return Path(list(spec.submodule_search_locations)[0])


def config_dir() -> Path:
    """The folder of the default configs (``train.yaml``, ``train_cpu.yaml``, ``eval_experiment*.yaml``, ...)."""
    return _folder("configs", "tomecraft.configs")


def config_path(name: str) -> Path:
    return config_dir() / name


def _in_checkout() -> bool:
    return (CHECKOUT / "data" / "samplegen").is_dir()


def sample_path() -> Path:
    """Where the embedded sample ``sample.jsonl`` (what ``tome curate`` curates with no ``--input``) is, once
    :func:`ensure_sample` has generated it; its planted truth ``sample_truth.json`` lies beside it."""
    if _in_checkout():
        return CHECKOUT / "data" / SAMPLE_NAME
    from tomecraft.versions import tomecraft_version

    return cache_dir() / "sample" / tomecraft_version() / SAMPLE_NAME


def _generator():
    """The sample generator package: ``data/samplegen`` in a checkout (imported as ``samplegen``, the way
    ``data/make_sample.py`` imports it), ``tomecraft.sample.samplegen`` in an installed wheel."""
    if _in_checkout():
        data = str(CHECKOUT / "data")
        if data not in sys.path:
            sys.path.insert(0, data)
        return importlib.import_module("samplegen.assemble")
    return importlib.import_module("tomecraft.sample.samplegen.assemble")


def ensure_sample(path: Path | None = None) -> Path:
    """The embedded sample's path, generating it and its truth first if it is not there yet (each file written
    whole under a temporary name, the sample last, so a half-written pair is never taken for the sample)."""
    path = path or sample_path()
    if path.exists():
        return path
    print(f"generating the embedded sample (first use, a few seconds): {path}", file=sys.stderr, flush=True)
    sample = _generator().generate(verify_truth=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, data in ((path.with_name(TRUTH_NAME), sample.truth), (path, sample.jsonl)):
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return path
