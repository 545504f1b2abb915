"""The Hugging Face hub when it cannot be reached: asked once, then loads from the local cache at once, quietly.

Where the network is down, ``huggingface_hub`` retries each request with back-off (about 23 s for a dataset, about
70 s for a model's files) and logs a line per retry before the load fails. `tome curate` (a hub dataset) and
`tome eval`, `tome serve` and `tome train` (a hub model) ask once (:func:`unreachable`), then load in offline mode
(:func:`offline_while`) with the retry lines held back (:func:`retries_quiet`): what the cache holds loads at once,
anything else fails in one line (:func:`local_cache_if_unreachable`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator

from tomecraft.errors import error_line


@contextmanager
def retries_quiet() -> Iterator[None]:
    """``huggingface_hub``'s warnings held back while a dataset or a model loads: where the hub cannot be reached
    it logs a line per retry (``'...' thrown while requesting HEAD ...``, ``Retrying in 1s``: a dozen when the
    network is down) before the error that ends the load, which the command's one ``error:`` line then names. Its
    errors still show; its level is given back after the load."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def unreachable(timeout: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be reached, on one line (one request, no retries), or None when it answers
    (any HTTP answer) or offline mode is set. Asked before a hub dataset or model loads."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.is_offline_mode():
        return None
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to get an answer (DNS, refused, timed out, proxy)
        return error_line(exc)
    return None


@contextmanager
def offline_while(offline: bool) -> Iterator[None]:
    """``huggingface_hub`` and ``datasets`` in offline mode while the block runs (when ``offline``): what they
    hold in their local cache loads at once, anything else fails at once instead of retrying. Both read the mode
    from their module settings at each call; the settings are given back after the block."""
    if not offline:
        yield
        return
    import datasets.config
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE = saved


@contextmanager
def local_cache_if_unreachable(needs_hub: bool, not_cached: Callable[[str], Exception]) -> Iterator[None]:
    """The block loads from the hub as `tome curate` loads a hub dataset: where it needs the hub (``needs_hub``)
    and one request finds the hub unreachable, in offline mode, from the local cache at once, without the retry
    lines; what the cache does not hold raises ``not_cached(why the hub cannot be reached)``, one line, from the
    error. Without this, an uncached hub model offline retried each file for about 70 s and printed some 30 lines
    of retries before its error."""
    reason = unreachable() if needs_hub else None
    if reason is None:
        yield
        return
    try:
        with retries_quiet(), offline_while(True):
            yield
    except Exception as exc:
        if not not_in_cache(exc):
            raise
        raise not_cached(reason) from exc


def not_in_cache(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is offline mode's "not in the local cache"."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
