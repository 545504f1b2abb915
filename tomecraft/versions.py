"""Versions of tomecraft and of the packages a run depends on, for manifests and run folders."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version


@functools.lru_cache(maxsize=None)
def _installed(name: str) -> str | None:
    """The installed version of ``name``, or None; looked up once per process (each lookup scans every
    ``site-packages`` folder's metadata: a few ms, on every run and every manifest)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def tomecraft_version() -> str:
    return _installed("tomecraft") or "0+unknown"  # (unknown: a source tree that was never installed)


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{name: version}`` for the installed ones among ``names``."""
    return {name: found for name in names if (found := _installed(name)) is not None}
