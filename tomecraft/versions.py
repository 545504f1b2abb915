"""Versions of tomecraft and of the packages a run depends on, for manifests and run folders."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def tomecraft_version() -> str:
    try:
        return version("tomecraft")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{name: version}`` for the installed ones among ``names``."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
