"""A live Argilla server: connect with clear errors, create or update the dataset, log records, read responses.

Every failure a user can cause (server down, wrong URL, wrong key, missing workspace or dataset, not enough
rights) becomes one :class:`ReviewError` line; tracebacks are left for bugs.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from curation.review.errors import ReviewError, ReviewUsageError
from curation.review.layouts import Answer, ReviewedRecords
from curation.review.schema import FIELD_CONVERSATION, QUESTIONS

if TYPE_CHECKING:
    import argilla as rg

DEFAULT_TIMEOUT = 60
DEFAULT_RETRIES = 3
DEFAULT_BATCH_SIZE = 256


def _first_line(text: Any) -> str:
    text = str(text).strip()
    return text.splitlines()[0][:300] if text else ""


@contextmanager
def live_errors(api_url: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Turn what argilla/httpx raise for a user-side problem into one :class:`ReviewError` line."""
    import httpx
    from argilla._exceptions import ArgillaAPIError, ArgillaError
    from argilla._exceptions._client import ArgillaCredentialsError

    try:
        yield
    except ReviewError:
        raise
    except ArgillaCredentialsError:
        raise ReviewError(
            f"Argilla at {api_url} rejected the API key (401 Unauthorized): check --api-key or ARGILLA_API_KEY"
        ) from None
    except httpx.ConnectError as exc:
        why = _first_line(exc) or "connection failed"
        raise ReviewError(
            f"cannot connect to Argilla at {api_url} ({why}): is the server running? check --api-url or ARGILLA_API_URL"
        ) from None
    except httpx.TimeoutException:
        raise ReviewError(f"Argilla at {api_url} did not answer within {timeout:g}s (--timeout)") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ReviewUsageError(f"--api-url {api_url!r}: not a usable http(s) URL ({_first_line(exc)})") from None
    except ArgillaAPIError as exc:
        status = getattr(exc, "status_code", None)
        if status == 401:
            raise ReviewError(
                f"Argilla at {api_url} rejected the API key (401 Unauthorized): check --api-key or ARGILLA_API_KEY"
            ) from None
        raise ReviewError(f"Argilla at {api_url} answered HTTP {status}: {_first_line(exc)}") from None
    except ArgillaError as exc:
        raise ReviewError(f"Argilla at {api_url}: {_first_line(exc)}") from None
    except httpx.HTTPError as exc:
        raise ReviewError(f"Argilla at {api_url}: {type(exc).__name__}: {_first_line(exc)}") from None


def connect(api_url: str | None, api_key: str | None, timeout: float = DEFAULT_TIMEOUT,
            retries: int = DEFAULT_RETRIES) -> "rg.Argilla":
    """A client that has checked the server and the key (``GET /api/v1/me``)."""
    if not api_url:
        raise ReviewUsageError("no Argilla server: pass --api-url or set ARGILLA_API_URL (or use --to DIR to export offline)")
    if not api_key:
        raise ReviewUsageError("no Argilla API key: pass --api-key or set ARGILLA_API_KEY (see My settings in the Argilla UI)")
    import argilla as rg

    with live_errors(api_url, timeout):
        try:
            return rg.Argilla(api_url=api_url, api_key=api_key, timeout=timeout, retries=retries)
        except (ValueError, KeyError, TypeError) as exc:  # a server that answers, but not like Argilla v2
            raise ReviewError(
                f"the server at {api_url} does not answer like Argilla 2.x ({type(exc).__name__}: {_first_line(exc)})"
            ) from None


def workspace(client: "rg.Argilla", name: str | None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name is None:
            return client.workspaces.default
        found = client.workspaces(name)
    if found is None:
        available = ", ".join(sorted(ws.name for ws in client.workspaces.list())) or "none"
        raise ReviewError(f"workspace {name!r} not found on {client.api_url} (available to this key: {available}); "
                          "pass --workspace with one of them or create it in the Argilla UI")
    return found


def find_dataset(client: "rg.Argilla", name: str, ws) -> "rg.Dataset | None":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.datasets(name, workspace=ws)


def _check_compatible(existing: "rg.Dataset", settings: "rg.Settings") -> bool:
    """Fail when the existing dataset's form is not ours; add metadata/vectors it lacks. True if settings changed."""
    fields = {f.name for f in existing.settings.fields}
    questions = {q.name for q in existing.settings.questions}
    if FIELD_CONVERSATION not in fields or not set(QUESTIONS) <= questions:
        raise ReviewError(
            f"dataset {existing.name!r} exists with other fields/questions ({', '.join(sorted(fields | questions))}); "
            "pick another --name"
        )
    changed = False
    for prop in settings.metadata:
        if existing.settings.metadata[prop.name] is None:
            existing.settings.add(prop)
            changed = True
    for vec in settings.vectors:
        have = existing.settings.vectors[vec.name]
        if have is None:
            existing.settings.add(vec)
            changed = True
        elif have.dimensions != vec.dimensions:
            raise ReviewError(f"dataset {existing.name!r} has vector {vec.name!r} of {have.dimensions} dimensions, "
                              f"this export has {vec.dimensions}; pick another --name or the same --embed-model")
    return changed


def push(
    client: "rg.Argilla",
    name: str,
    workspace_name: str | None,
    settings: "rg.Settings",
    make_records: Callable[["rg.Dataset"], list["rg.Record"]],
    batch_size: int = DEFAULT_BATCH_SIZE,
    track: Callable | None = None,
) -> dict[str, Any]:
    """Create the dataset (or update one of the same name) and upsert the records in batches."""
    import argilla as rg

    url = client.api_url
    with live_errors(url):
        ws = workspace(client, workspace_name)
        dataset = find_dataset(client, name, ws)
        created = dataset is None
        if created:
            dataset = rg.Dataset(name=name, workspace=ws, settings=settings, client=client)
            dataset.create()
        elif _check_compatible(dataset, settings):
            dataset.update()
        records = make_records(dataset)
        starts = range(0, len(records), batch_size)
        iterator = track(starts, len(starts), "logging to Argilla") if track else starts
        for start in iterator:
            batch = records[start : start + batch_size]
            # argilla draws its own tqdm bar per call; ours already shows the batches
            with contextlib.redirect_stderr(io.StringIO()):
                dataset.records.log(records=batch, batch_size=len(batch))
    return {"url": url, "workspace": ws.name, "dataset": name, "created": created, "records": len(records)}


def fetch(
    client: "rg.Argilla",
    name: str,
    workspace_name: str | None,
    track: Callable | None = None,
) -> ReviewedRecords:
    """Every record of the dataset with its responses (statuses included; only submitted ones count later)."""
    url = client.api_url
    with live_errors(url):
        ws = workspace(client, workspace_name)
        dataset = find_dataset(client, name, ws)
        if dataset is None:
            raise ReviewError(f"dataset {name!r} not found in workspace {ws.name!r} on {url} (--dataset, --workspace)")
        usernames = _usernames(client)
        out = ReviewedRecords({"kind": "live", "url": url, "workspace": ws.name, "dataset": name}, [])
        total = _record_count(dataset)
        records = dataset.records(with_responses=True, with_suggestions=False, with_vectors=False)
        iterator = track(records, total, "reading responses") if track else records
        for record in iterator:
            rid = str(record.id)
            out.record_ids.append(rid)
            for response in record.responses:
                status = response.status.value if response.status is not None else "submitted"
                user = usernames.get(str(response.user_id), str(response.user_id))
                out.answers.append(Answer(rid, user, response.question_name, response.value, status))
    return out


def _record_count(dataset) -> int:
    """For the progress bar only; 0 (an open-ended bar) when the server cannot say."""
    from argilla._exceptions import ArgillaAPIError

    try:
        return int(dataset.progress().get("total", 0))
    except (ArgillaAPIError, AttributeError, TypeError, ValueError):
        return 0


def _usernames(client: "rg.Argilla") -> dict[str, str]:
    """user id -> username, when this key may list users (owners and admins); else ids stay ids."""
    from argilla._exceptions import ArgillaAPIError

    try:
        return {str(m.id): m.username for m in client.api.users.list()}
    except ArgillaAPIError:
        return {}

