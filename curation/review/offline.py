"""An Argilla client that never reaches the network.

argilla 2.8's settings classes (``rg.ChatField(...)``, ``rg.LabelQuestion(...)``, ``rg.Settings._copy()``
inside ``rg.Dataset(...)``) ask ``rg.Argilla._get_default()`` for a client on construction, and a default
``rg.Argilla()`` checks the server at once (``GET /api/v1/me``). Offline export and import build the real
argilla objects with :func:`offline_client` installed as the default instead: a genuine ``rg.Argilla``
instance whose HTTP transport refuses every request, made without the connection check. Nothing else of
argilla is replaced, so the objects and the files they write are argilla's own; a code path that would
need a server fails loudly (:class:`OfflineRequestError`) instead of reaching the network.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import httpx

if TYPE_CHECKING:
    import argilla as rg

OFFLINE_API_URL = "http://argilla.offline.invalid"


class OfflineRequestError(RuntimeError):
    """Offline code tried to talk to an Argilla server."""


class _RefuseTransport(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise OfflineRequestError(f"offline Argilla client refused {request.method} {request.url.path}")


def offline_client() -> "rg.Argilla":
    """A real ``rg.Argilla`` built without the server check; every HTTP request it would make raises."""
    import argilla as rg
    from argilla._api._client import ArgillaAPI

    client = rg.Argilla.__new__(rg.Argilla)
    client.api_url = OFFLINE_API_URL
    client.api_key = "offline"
    client.http_client = httpx.Client(base_url=OFFLINE_API_URL, transport=_RefuseTransport())
    client.api = ArgillaAPI(client.http_client)
    return client


@contextmanager
def offline_default_client() -> Iterator["rg.Argilla"]:
    """Install an offline client as argilla's default for the block, then put the previous one back."""
    import argilla as rg

    previous = rg.Argilla._default_client
    client = offline_client()
    rg.Argilla._default_client = client
    try:
        yield client
    finally:
        rg.Argilla._default_client = previous
        client.http_client.close()
