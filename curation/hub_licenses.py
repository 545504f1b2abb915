"""The licenses the Hugging Face hub takes in a card's header (``license:``), and an input's license as stated
(``Apache 2.0``, ``MIT License``, ``CC BY-NC-SA 4.0``) as one of them.

The hub checks a README's metadata when a commit adds it and refuses a ``license`` it does not list, so a card
that names one ends ``tome publish`` with the hub's error. The ids below are the hub's list
(https://huggingface.co/docs/hub/repositories-licenses); one it adds later is written ``other`` until it is
added here, which the hub takes, while the card's body names each input's license as given.
"""

from __future__ import annotations

import re

HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl
openmdw-1.0 openmdw-1.1 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license
fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 grok2-community gemma unknown
other
""".split())

# words a license's name holds beside its id: "Apache License, Version 2.0", "MIT License", "the Unlicense" keeps its own
_FILLER = re.compile(r"\b(?:the|licen[cs]e|version)\b")


def license_id(given: str) -> str:
    """``given`` (an input's license as the config states it) as the card header's ``license``: the hub's id it
    names (``MIT`` and ``MIT License`` are ``mit``, ``Apache License, Version 2.0`` is ``apache-2.0``, ``CC BY-NC
    4.0`` is ``cc-by-nc-4.0``), or ``other`` for one the hub does not list (which it would refuse)."""
    text = given.strip().lower()
    if text in HUB_LICENSES:
        return text
    words = re.findall(r"[a-z0-9.+]+", _FILLER.sub(" ", text))
    candidates = ["-".join(words), "".join(words)]
    if len(words) == 2:  # "Llama 3.1": the hub writes its version joined on
        candidates.append(words[0] + words[1])
    return next((c.strip(".") for c in candidates if c.strip(".") in HUB_LICENSES), "other")
