"""Files tomecraft ships beside its code: the default configs and the embedded sample.

In a checkout they are ``configs/`` and ``data/`` at the repository root; an installed wheel carries the same
files as the packages ``tomecraft.configs`` and ``tomecraft.sample`` (``setup.py`` maps the folders there), so
``tome curate``, ``tome train --print-config`` and ``tome eval`` find them outside the checkout too.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


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


def sample_path() -> Path:
    """The embedded sample ``sample.jsonl`` (what ``tome curate`` curates with no ``--input``)."""
    return _folder("data", "tomecraft.sample") / "sample.jsonl"
