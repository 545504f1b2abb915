"""`tome publish OUT --repo USER/NAME [--private]`: a curation output folder to a Hugging Face dataset repo.

Uploads the splits, the ``messages`` splits if written, ``removed.parquet``, ``quarantine.jsonl``,
``manifest.json``, the report and the dataset card (``README.md``, written first if the folder has none) with
``huggingface_hub``: those files and no other (:func:`published_files`). Checkpoints, caches and any file
the run did not write (notes, a copy of an input, a key dropped in the folder) stay home, and the command says
which it left out. Offline, or without a token, it stops with one line
saying so, before anything is sent and before the folder's card is rewritten; so does a damaged folder, a repo
name the hub would refuse, and a card kept as it is (no ``--format``) that no longer describes the folder's files
(a header that does not parse, data files not there, row counts or features that differ: ``load_dataset`` would
refuse the published dataset).

The card, the manifest and the report go up naming each local path they hold (an input given as
``/home/me/data/rows.jsonl``, ``~/rows.jsonl`` or ``../private/rows.jsonl``, a config's input found beside it, an
``--against`` folder) by its last part (``rows.jsonl``), and each URL without its user, password and query
(``https://me:hf_x@host/x.jsonl?sig=...`` -> ``https://host/x.jsonl``), only where the path is the value (a
manifest string, the code span a page names it in), never inside other text (:func:`public_texts`): the folder's
own files keep the paths, which say on this machine where the data came from; the hub's copy says nothing of the
machine that curated it. The data files name inputs by name only. ``--private`` makes a new repo private, and stops (nothing
uploaded) where the repo exists and is public: the hub keeps an existing repo's visibility.
"""

from __future__ import annotations

import glob
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from curation.card import CARD_FILE, MESSAGES_DIR, OUTPUT_FORMATS, CardError, check_card, read_card_format, write_card
from curation.contract import QUARANTINE_FILE, SPLITS, OutputFolderError, output_paths, read_quarantine
from curation.readers.errors import InputError
from tomecraft.console import non_empty_path
from tomecraft.errors import error_line

# huggingface_hub matches these with fnmatch on the path in the folder, where "**/" needs a folder before the
# name: a leftover of an interrupted write at the top (train.parquet.tmp, README.md.tmp) needs "*.tmp". (Only
# the files of published_files go up; these keep what a hub call adds of its own out too.)
IGNORE = [".cache/**", ".checkpoints/**", "*.tmp", "**/*.tmp", ".*", "**/.*"]


class PublishError(Exception):
    """Publishing stopped; the message is one line saying why and that nothing was uploaded. The command exits 1
    (the hub could not be reached, refused the token, a file could not be written)."""


class PublishUsageError(PublishError):
    """The command line cannot be published as given (not an output folder, a repo name the hub refuses, an
    unknown format): found before the hub is called, and the command exits 2, as every `tome` usage error."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def offline_line(repo: str) -> str | None:
    """The one line an upload to ``repo`` stops with when ``HF_HUB_OFFLINE`` is set (checked before any work:
    ``huggingface_hub`` would refuse the first call), or None."""
    return f"{repo}: not published, offline (HF_HUB_OFFLINE is set); nothing was uploaded" if _offline() else None


def hub_reason(exc: BaseException) -> str:
    """Why a call to the hub failed, in a few words on one line (offline, no token, a refused token, an HTTP
    answer, the hub not reached)."""
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return "offline (HF_HUB_OFFLINE is set)"
    if isinstance(exc, LocalTokenNotFoundError):
        return "not logged in: run `hf auth login` or set HF_TOKEN"
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return f"the hub refused the token (HTTP {status}): log in with `hf auth login` or set HF_TOKEN"
        return f"the hub answered HTTP {status}: {str(exc).splitlines()[0]}"
    return f"cannot reach the Hugging Face hub ({error_line(exc)})"


def publish(root: str | Path, repo: str, private: bool = False, token: str | None = None,
            format: str | None = None) -> str:
    """Upload the folder ``root`` to the dataset repo ``repo``; return the repo's URL."""
    from curation.report.facts import check_folder

    try:  # what the report and the card read of it, checked as they check it (a count of -5 goes up as no fact)
        paths, _ = check_folder(root)  # (the files' rows too: with --format the card is written from the files)
        read_quarantine(paths.root)
    except FileNotFoundError as exc:  # not an output folder: the path given is wrong
        raise PublishUsageError(str(exc)) from None
    except OutputFolderError as exc:  # a file of it damaged
        raise PublishError(str(exc)) from None
    check_repo(repo)
    if format is not None and format not in OUTPUT_FORMATS:
        raise PublishUsageError(f"unknown format {format!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    if format is None:
        try:  # the folder's card goes up as it is: it must still describe the folder's files
            check_card(paths.root)
        except OutputFolderError as exc:  # a messages split damaged
            raise PublishError(f"{exc}; nothing was uploaded") from None
        except CardError as exc:
            raise PublishError(f"{exc}; rewrite it with --format finetome, messages or both; nothing was uploaded") from None
    if (line := offline_line(repo)) is not None:
        raise PublishError(line)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    # the first call to the hub: it must be reachable and take the token before the folder's card is rewritten
    url = open_repo(api, repo, private)
    if format is not None or not (paths.root / CARD_FILE).exists():
        try:
            write_card(paths.root, format or read_card_format(paths.root) or "finetome")
        except (OSError, ValueError, InputError) as exc:  # a split damaged past its footer, a folder not writable
            raise PublishError(f"{paths.root}: not published, cannot write the dataset card ({exc}); "
                               "nothing was uploaded") from None
    public = public_texts(paths.root)
    files, _ = published_files(paths.root)
    try:
        with staged(paths.root, public, files) as folder:
            api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                              allow_patterns=[glob.escape(name) for name in files], ignore_patterns=IGNORE,
                              commit_message="tome publish: curated dataset")
    except PublishError:
        raise
    except Exception as exc:
        raise PublishError(f"{repo}: not published, {hub_reason(exc)}; nothing was uploaded") from None
    return str(url)


def published_files(root: Path) -> tuple[list[str], list[str]]:
    """``(published, left out)``: the files of the output folder ``root`` that go up, and those that stay home,
    each as a path in the folder (``train.parquet``, ``train/part-00000.parquet``, ``messages/test.parquet``),
    sorted. What goes up is what `tome curate` writes there (:data:`~curation.contract.SPLITS` and the removed
    rows, as files or ``--engine ray``'s shard folders, ``quarantine.jsonl``, the ``messages`` splits, the card,
    the manifest and the report); what is left out is every other file but the hidden ones (``.cache``,
    ``.checkpoints``): a file a user put there is not theirs to publish by accident."""
    paths = output_paths(root)
    ours: set[str] = {name for name in (*DESCRIBING, QUARANTINE_FILE) if (root / name).is_file()}
    for path in [paths.split(name) for name in SPLITS] + [paths.removed]:
        ours.update(f.relative_to(root).as_posix() for f in paths.files(path) if f.is_file())
    ours.update(f"{MESSAGES_DIR}/{name}.parquet" for name in SPLITS if (root / MESSAGES_DIR / f"{name}.parquet").is_file())
    from huggingface_hub.utils import filter_repo_objects

    present = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()]
    shown = set(filter_repo_objects(present, ignore_patterns=IGNORE))
    return sorted(ours), sorted(name for name in shown if name not in ours)


def check_repo(repo: str) -> None:
    """:class:`PublishUsageError` unless ``repo`` is a dataset repo name the hub takes: ``USER/NAME``, by the hub's
    own rule (checked before any work: sent, it is refused as if the hub could not be reached). The message names
    ``repo`` whole, on one line, its line breaks and other control characters spelled as escapes (``me/da\\nta``):
    every command that prints it (`tome publish`, `tome review export --push-to-hub`) shows one line, not two."""
    from curation.report.markdown_text import one_line

    if repo.count("/") != 1 or not all(repo.split("/")):
        raise PublishUsageError(f"{one_line(repo)}: expected a dataset repo as USER/NAME")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError as exc:  # (its message quotes the name: a line break in it would cut the line there)
        raise PublishUsageError(f"{one_line(repo)}: not a valid dataset repo name "
                                f"({error_line(one_line(exc))})") from None


def open_repo(api: Any, repo: str, private: bool) -> str:
    """Create the dataset repo ``repo`` where it is missing (private with ``private``) and return its URL;
    :class:`PublishError` with one line where the hub cannot be reached or refuses. With ``private``, an existing
    repo must be private already: ``create_repo`` keeps an existing repo's visibility, and uploading into a
    public one would publish what the user asked to keep private."""
    try:
        url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        public = private and not getattr(api.repo_info(repo, repo_type="dataset"), "private", False)
    except Exception as exc:  # huggingface_hub raises its own errors, httpx's and OSError: all are one line here
        raise PublishError(f"{repo}: not published, {hub_reason(exc)}; nothing was uploaded") from None
    if public:
        raise PublishError(f"{repo}: not published, the repo exists and is public and --private does not change "
                           "an existing repo: make it private on the hub (Settings) or publish without --private; "
                           "nothing was uploaded")
    return str(url)


# the files that describe the run in words and numbers (the data files name inputs by name, never by path)
DESCRIBING = ("README.md", "manifest.json", "report.md", "report.html")
# the kinds of input not read from this machine's files (curation.readers): a hub id, a streamed hub dataset, the
# built-in sample, several inputs (named by their names): their specs go up as they are
NOT_LOCAL_KINDS = frozenset({"hub", "stream", "sample", "mix"})
_SEPARATOR = re.compile(r"[/\\]")
# a home folder (~, ~/x, ~user/x), a Windows drive or share (C:\x, \\server\x), a file: URL
_HOME = re.compile(r"~[\w.-]*(?:[/\\]|$)")
_WINDOWS = re.compile(r"[A-Za-z]:[/\\]|\\\\")


def is_local_path(text: str) -> bool:
    """Whether ``text``, written as a path, can only name a place on this machine: absolute (``/data``,
    ``C:\\data``), in a home folder (``~/x``, ``~me/x``), a ``file:`` URL, or relative with a ``.`` or ``..``
    part (``./x``, ``../private/x.jsonl``). A plain relative ``a/b`` is not, on its own: a hub id is written so."""
    if not text or "\n" in text or "\r" in text:
        return False
    if text[:5].lower() == "file:":
        return True
    if "://" in text:
        return False
    if text.startswith("/") or _HOME.match(text) or _WINDOWS.match(text):
        return True
    parts = _SEPARATOR.split(text)
    return parts[0] in (".", "..") or ".." in parts


def public_name(path: str) -> str:
    """What the published files say instead of the local ``path``: its last part, the file's (or folder's, or
    glob's) own name (``/home/me/data/rows.jsonl``, ``../private/rows.jsonl``, ``~/rows.jsonl`` ->
    ``rows.jsonl``); ``~`` for a home folder itself (``~me`` names a user)."""
    parts = [part for part in _SEPARATOR.split(path) if part]
    if not parts:
        return path
    if len(parts) == 1 and _HOME.match(parts[0]):
        return "~"
    return parts[-1]


def public_url(text: str) -> str | None:
    """``text``, a URL, without its user, password and query, where credentials, tokens and signatures travel
    (``https://me:hf_x@host/x.jsonl?sig=...`` -> ``https://host/x.jsonl``); None where it is no URL or holds none
    of them."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in text or "\n" in text or "\r" in text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:  # a URL urllib cannot split (a bracket that is no IPv6 address): not one to rewrite
        return None
    host = parts.netloc.rpartition("@")[2]
    if not parts.scheme or (host == parts.netloc and not parts.query):
        return None
    return urlunsplit((parts.scheme, host, parts.path, "", parts.fragment))


def _read_here(manifest: dict[str, Any]) -> Iterator[Any]:
    """The values the manifest says name this machine's files, written as plain relative paths too
    (``data/rows.jsonl``): the spec of each input read from local files (by its ``kind``), the config's path of
    the same input, the ``--against`` set's path when it was read from local files (its stage's
    ``existing_kind``), and the folders ``tome review import`` read (``review.input_folder``,
    ``review.source.path``)."""
    records = manifest.get("inputs") if isinstance(manifest.get("inputs"), list) else [manifest.get("input")]
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    given = config.get("inputs") if isinstance(config.get("inputs"), list) else []
    for n, record in enumerate(records):
        if not isinstance(record, dict) or record.get("kind") in NOT_LOCAL_KINDS:
            continue
        yield record.get("spec")
        if len(given) == len(records) and isinstance(given[n], dict):  # the config's inputs, in the same order
            yield given[n].get("path")
    against = next((s for s in manifest.get("stages") or () if isinstance(s, dict) and s.get("name") == "against"), {})
    kind = (against.get("stats") or {}).get("existing_kind") if isinstance(against.get("stats"), dict) else None
    if kind is not None and kind not in NOT_LOCAL_KINDS:  # the --against set, read from local files
        stages = config.get("stages") if isinstance(config.get("stages"), dict) else {}
        yield (stages.get("against") or {}).get("path") if isinstance(stages.get("against"), dict) else None
    review = manifest.get("review")
    if isinstance(review, dict):
        yield review.get("input_folder")
        source = review.get("source")
        if isinstance(source, dict) and source.get("kind") != "live":
            yield source.get("path")


def local_paths(manifest: Any) -> dict[str, str]:
    """Every local path the manifest holds as a value, each with what the published files say instead
    (:func:`public_name`, its last part); the paths that are their own last part (``rows.jsonl``) left out. A URL
    that holds a user, a password or a query (an input read over https, a judge's endpoint) goes up without them
    (:func:`public_url`).

    A value is a local path when it is written as one only this machine can mean (:func:`is_local_path`: an input
    given as ``/home/me/data.jsonl`` or ``~/data.jsonl`` or ``../private/data.jsonl``, a config's input found
    beside it, an ``--against`` folder, an eval set, a model folder), or when the manifest says it was read from
    this machine's files (:func:`_read_here`: an input given as ``data/rows.jsonl``). Hub ids (``org/name`` of a
    hub input, a model id), other URLs and ``sample`` go up as they are. Two inputs of the same file name in different
    folders are both named by it: their input names tell them apart."""
    found: set[str] = set()
    urls: dict[str, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if is_local_path(value):
                found.add(value)
            elif (url := public_url(value)) is not None:
                urls[value] = url
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(manifest)
    if isinstance(manifest, dict):
        found.update(v for v in _read_here(manifest) if isinstance(v, str) and v and "://" not in v
                     and "\n" not in v and v != "sample")
    public = {path: public_name(path) for path in sorted(found, key=len, reverse=True)}
    return {path: name for path, name in public.items() if name != path} | urls


def _public_value(value: Any, paths: dict[str, str]) -> Any:
    """``value`` (the manifest, or a part of it) with each string that is one of ``paths`` as its public name."""
    if isinstance(value, str):
        return paths.get(value, value)
    if isinstance(value, dict):
        return {key: _public_value(item, paths) for key, item in value.items()}
    if isinstance(value, list):
        return [_public_value(item, paths) for item in value]
    return value


def _markdown_without(text: str, paths: dict[str, str]) -> str:
    """The card's or ``report.md``'s text with each path where the page names it: a code span holding the path
    and nothing else, as :func:`curation.report.markdown_text.md_code` writes it (a table cell's form too), not
    inside a longer span nor in prose."""
    from curation.report.markdown_text import md_code, one_line

    for path, name in paths.items():
        for cell in (False, True):
            span = md_code(one_line(path), cell)
            text = re.sub(rf"(?<!`){re.escape(span)}(?!`)", lambda _: md_code(one_line(name), cell), text)
    return text


def _within(text: str, start: str, end: str, change) -> str:
    """``text`` with ``change`` applied to the part from the first ``start`` to the first ``end`` after it."""
    at = text.find(start)
    stop = text.find(end, at + len(start)) if at >= 0 else -1
    if stop < 0:
        return text
    return text[:at] + change(text[at:stop]) + text[stop:]


def _html_without(text: str, paths: dict[str, str]) -> str:
    """``report.html`` with each path where the page names it: the header's ``<code>`` elements holding the path
    and nothing else (the input, the ``--against`` set), and the config section's JSON strings equal to it; the
    examples' turns, ids and quarantined lines stay as they are."""
    import json

    from curation.report.html_page import e
    from curation.report.markdown_text import one_line

    def header(part: str) -> str:
        for path, name in paths.items():
            part = part.replace(f"<code>{e(one_line(path))}</code>", f"<code>{e(one_line(name))}</code>")
        return part

    def config(part: str) -> str:
        for path, name in paths.items():  # json.dumps as the page's config is written, quotes escaped as there
            part = part.replace(e(json.dumps(path, ensure_ascii=False)), e(json.dumps(name, ensure_ascii=False)))
        return part

    text = _within(text, '<div class="sub">', "</div>", header)
    return _within(text, '<section id="config">', "</section>", config)


def public_texts(root: Path) -> dict[str, bytes]:
    """The folder's describing files (card, manifest, report) as they are published, where they name local
    paths: each such path as its last part (``/home/me/data/rows.jsonl``, ``~/rows.jsonl``,
    ``../private/rows.jsonl`` -> ``rows.jsonl``), so that a published dataset does not tell where its inputs lay
    on the machine that curated it, and each URL holding a user, a password or a query without them
    (:func:`public_url`). The folder's own files keep them (a local report says where the data came from); ``{}``
    when none names one.

    A path is replaced only where it is the value: a string of the manifest equal to it (the manifest is written
    again as ``tome curate`` writes it), a code span of the card or ``report.md`` holding it alone (how they name
    inputs and the ``--against`` set; a user's own code span naming it too), and in ``report.html`` the header's
    ``<code>`` and the config's JSON strings. The same characters anywhere else (a turn's text in the report's
    examples, the card's prose, a longer path that starts with it) are text and go up as they are."""
    import json

    from tomecraft.files import dumps_utf8

    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    paths = local_paths(manifest)
    if not paths:
        return {}
    manifest_text = dumps_utf8(_public_value(manifest, paths), indent=2, sort_keys=False) + "\n"
    out = {"manifest.json": manifest_text.encode("utf-8")}
    for name in DESCRIBING:
        if name == "manifest.json":
            continue
        try:
            text = (root / name).read_text(encoding="utf-8")
        except (OSError, ValueError):
            continue
        public = _html_without(text, paths) if name.endswith(".html") else _markdown_without(text, paths)
        if public != text:
            out[name] = public.encode("utf-8")
    return out


@contextmanager
def staged(root: Path, public: dict[str, bytes], files: list[str]) -> Iterator[Path]:
    """The folder to upload ``files`` of ``root`` from: ``root`` itself when ``public`` is empty (the upload takes
    ``files`` alone), else a hidden folder in it (removed after) holding those files (hard links, or copies where
    the file system takes none), with ``public``'s files in place of the folder's own."""
    if not public:
        yield root
        return
    import shutil
    import tempfile

    try:
        folder = Path(tempfile.mkdtemp(prefix=".publish-", dir=root))
    except OSError as exc:
        raise PublishError(f"{root}: not published, cannot prepare the upload ({error_line(exc)}); nothing was "
                           "uploaded") from None
    try:
        try:
            for name in files:
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if name in public:
                    target.write_bytes(public[name])
                    continue
                try:
                    os.link(root / name, target)
                except OSError:
                    shutil.copyfile(root / name, target)
        except OSError as exc:
            raise PublishError(f"{root}: not published, cannot prepare the upload ({error_line(exc)}); nothing "
                               "was uploaded") from None
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish_command(
    out: Path = typer.Argument(..., parser=non_empty_path, help="A `tome curate` output folder."),
    repo: str = typer.Option(..., "--repo", help="The Hugging Face dataset repo, USER/NAME (created if missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private; an existing public repo is refused "
                                 "(the hub keeps a repo's visibility), nothing uploaded."),
    format: Optional[str] = typer.Option(None, "--format", help="Rewrite the card (and messages splits) for finetome, "
                                         "messages or both before uploading; default: keep the folder's card."),
    token: Optional[str] = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the saved login)."),
) -> None:
    """Upload a curated folder (splits, card, manifest, report) to the Hugging Face hub as a dataset repo."""
    from tomecraft.console import console, error, refuse_long_names

    from curation.report.markdown_text import one_line

    refuse_long_names(("OUT", out))
    try:
        url = publish(out, repo, private=private, token=token, format=format)
    except PublishError as exc:  # one line, a folder named with a line break included
        error(one_line(exc), code=2 if isinstance(exc, PublishUsageError) else 1)
    console.print(f"published {one_line(out)} -> {url}", markup=False)
    _, left_out = published_files(Path(out))
    if left_out:
        shown = ", ".join(one_line(name) for name in left_out[:5]) + (f" and {len(left_out) - 5} more" if len(left_out) > 5 else "")
        console.print(f"not published (not written by tome curate): {shown}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_command)
