"""Real sentences in several languages: Debian's fortune files, labelled by the package they ship in.

``scripts/install.sh`` installs the packages (``fortunes``, ``fortunes-de``, ``fortunes-es``, ...). Each
fortune (the text between ``%`` lines) becomes one item: attribution lines (``-- Author``) dropped,
whitespace collapsed, kept when it has at least ``min_chars`` characters and is mostly letters (no ASCII
art). The label is the package's language; a fortune quoting another language keeps its package's label,
so a few labels are wrong for every detector alike.

    python -m benchmarks.fortunes          # items per language
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGES = {
    "en": "fortunes",
    "de": "fortunes-de",
    "es": "fortunes-es",
    "it": "fortunes-it",
    "ru": "fortunes-ru",
    "pl": "fortunes-pl",
    "pt": "fortunes-br",
    "cs": "fortunes-cs",
    "bg": "fortunes-bg",
    "zh": "fortunes-zh",
    "eo": "fortunes-eo",
    "ga": "fortunes-ga",
}
# files of a package that are in another language than the package's
_SKIP = {"cs": re.compile(r"klasik-sk")}
_ATTRIBUTION = re.compile(r"^\s*(--|—|~~)\s*\S")
_SPACE = re.compile(r"\s+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def package_files(package: str) -> list[Path]:
    """The fortune text files a Debian package installed (``dpkg -L``), ``.dat`` index files left out."""
    try:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    out = []
    for line in listing.splitlines():
        path = Path(line)
        if "/games/fortunes" not in line or path.suffix in (".dat", ".u8") or not path.is_file():
            continue
        if "/off/" in line:  # the offensive sections are stored rot13-encoded
            continue
        out.append(path)
    return sorted(out)


def split_fortunes(text: str, min_chars: int = 50, max_chars: int = 2000) -> list[str]:
    items = []
    for chunk in re.split(r"^%\s*$", _ANSI.sub("", text), flags=re.MULTILINE):
        lines = [ln for ln in chunk.splitlines() if not _ATTRIBUTION.match(ln)]
        item = _SPACE.sub(" ", " ".join(lines)).strip()
        if not (min_chars <= len(item) <= max_chars):
            continue
        letters = sum(ch.isalpha() for ch in item)
        if letters < 0.6 * len(item.replace(" ", "")):
            continue
        items.append(item)
    return items


@lru_cache(maxsize=None)
def fortunes(lang: str, min_chars: int = 50) -> tuple[str, ...]:
    """Every usable fortune of one language, in file order (empty when its package is not installed)."""
    skip = _SKIP.get(lang)
    items: list[str] = []
    for path in package_files(PACKAGES[lang]):
        if skip and skip.search(str(path)):
            continue
        items.extend(split_fortunes(path.read_text(encoding="utf-8", errors="replace"), min_chars))
    return tuple(dict.fromkeys(items))  # a fortune repeated across files counts once


def labelled(per_language: int, min_chars: int = 50, langs: tuple[str, ...] | None = None,
             seed: int = 0) -> list[tuple[str, str]]:
    """Up to ``per_language`` (text, language) pairs per installed language, sampled evenly with a seed."""
    import random

    rng = random.Random(seed)
    out = []
    for lang in langs or tuple(PACKAGES):
        items = list(fortunes(lang, min_chars))
        if len(items) > per_language:
            items = rng.sample(items, per_language)
        out.extend((text, lang) for text in items)
    return out


if __name__ == "__main__":
    for lang in PACKAGES:
        items = fortunes(lang)
        print(f"{lang}  {len(items):6d}  {items[0][:70] if items else '(package not installed)'}")
