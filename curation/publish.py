"""`tome publish OUT --repo USER/NAME [--private]`: a curation output folder to a Hugging Face dataset repo.

Uploads the splits, the ``messages`` splits if written, ``removed.parquet``, ``quarantine.jsonl``,
``manifest.json``, the report and the dataset card (``README.md``, written first if the folder has none) with
``huggingface_hub``; checkpoints and caches stay home. Offline, or without a token, it stops with one line
saying so, before anything is sent and before the folder's card is rewritten; so does a damaged folder, a repo
name the hub would refuse, and a card kept as it is (no ``--format``) that no longer describes the folder's files
(a header that does not parse, data files not there, row counts or features that differ: ``load_dataset`` would
refuse the published dataset).

The card, the manifest and the report go up naming each local absolute path they hold (an input given as
``/home/me/data/rows.jsonl``, a config's input found beside it) by its last part (``rows.jsonl``): the folder's
own files keep the paths, which say on this machine where the data came from; the hub's copy says nothing of
the machine that curated it. The data files name inputs by name only.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from curation.card import CARD_FILE, OUTPUT_FORMATS, CardError, check_card, read_card_format, write_card
from curation.contract import OutputFolderError, check_output_folder
from curation.readers.errors import InputError
from tomecraft.errors import error_line

# huggingface_hub matches these with fnmatch on the path in the folder, where "**/" needs a folder before the
# name: a leftover of an interrupted write at the top (train.parquet.tmp, README.md.tmp) needs "*.tmp".
IGNORE = [".cache/**", ".checkpoints/**", "*.tmp", "**/*.tmp", ".*", "**/.*"]


class PublishError(Exception):
    """Publishing stopped; the message is one line saying why and that nothing was uploaded. The command exits 1
    (the hub could not be reached, refused the token, a file could not be written)."""


class PublishUsageError(PublishError):
    """The command line cannot be published as given (not an output folder, a repo name the hub refuses, an
    unknown format): found before the hub is called, and the command exits 2, as every `tome` usage error."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _reason(exc: BaseException) -> str:
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
    try:
        paths = check_output_folder(root)
    except FileNotFoundError as exc:  # not an output folder: the path given is wrong
        raise PublishUsageError(str(exc)) from None
    except OutputFolderError as exc:  # a file of it damaged
        raise PublishError(str(exc)) from None
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise PublishUsageError(f"{repo}: expected a dataset repo as USER/NAME")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:  # the hub's own rule, checked here: sent, it is refused as if the hub could not be reached
        validate_repo_id(repo)
    except HFValidationError as exc:
        raise PublishUsageError(f"{repo}: not a valid dataset repo name ({error_line(exc)})") from None
    if format is not None and format not in OUTPUT_FORMATS:
        raise PublishUsageError(f"unknown format {format!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    if format is None:
        try:  # the folder's card goes up as it is: it must still describe the folder's files
            check_card(paths.root)
        except OutputFolderError as exc:  # a messages split damaged
            raise PublishError(f"{exc}; nothing was uploaded") from None
        except CardError as exc:
            raise PublishError(f"{exc}; rewrite it with --format finetome, messages or both; nothing was uploaded") from None
    if _offline():
        raise PublishError(f"{repo}: not published, offline (HF_HUB_OFFLINE is set); nothing was uploaded")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:  # the first call to the hub: it must be reachable and take the token before the folder's card is rewritten
        url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    except Exception as exc:  # huggingface_hub raises its own errors, httpx's and OSError: all are one line here
        raise PublishError(f"{repo}: not published, {_reason(exc)}; nothing was uploaded") from None
    if format is not None or not (paths.root / CARD_FILE).exists():
        try:
            write_card(paths.root, format or read_card_format(paths.root) or "finetome")
        except (OSError, ValueError, InputError) as exc:  # a split damaged past its footer, a folder not writable
            raise PublishError(f"{paths.root}: not published, cannot write the dataset card ({exc}); "
                               "nothing was uploaded") from None
    public = public_texts(paths.root)
    try:
        with staged(paths.root, public) as folder:
            api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset", ignore_patterns=IGNORE,
                              commit_message="tome publish: curated dataset")
    except PublishError:
        raise
    except Exception as exc:
        raise PublishError(f"{repo}: not published, {_reason(exc)}; nothing was uploaded") from None
    return str(url)


# the files that describe the run in words and numbers (the data files name inputs by name, never by path)
DESCRIBING = ("README.md", "manifest.json", "report.md", "report.html")


def local_paths(manifest: Any) -> dict[str, str]:
    """Every absolute local path the manifest holds (an input given as /home/me/data.jsonl, a config's input
    found beside it, an --against folder, an eval set, a model folder), each with what the published files say
    instead: its last part, the file's (or folder's, or glob's) own name. Longest first, so that a path is
    replaced before one that starts it."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if "://" not in value and os.path.isabs(value) and "\n" not in value:
                found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(manifest)
    public = {}
    for path in sorted(found, key=len, reverse=True):
        name = os.path.basename(path.rstrip("/" + os.sep))
        public[path] = name or path
    return {path: name for path, name in public.items() if name != path}


def _without(text: str, paths: dict[str, str], html: bool = False) -> str:
    import html as html_lib
    import json

    for path, name in paths.items():
        forms = {path: name, json.dumps(path)[1:-1]: json.dumps(name)[1:-1]}
        if html:
            forms.update({html_lib.escape(given): html_lib.escape(said) for given, said in list(forms.items())})
        for given, said in forms.items():
            text = text.replace(given, said)
    return text


def public_texts(root: Path) -> dict[str, bytes]:
    """The folder's describing files (card, manifest, report) as they are published, where they name local
    absolute paths: each such path as its last part (``/home/me/data/rows.jsonl`` -> ``rows.jsonl``), so that a
    published dataset does not tell where its inputs lay on the machine that curated it. The folder's own files
    keep the paths (a local report says where the data came from); ``{}`` when none names one."""
    import json

    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    paths = local_paths(manifest)
    if not paths:
        return {}
    out = {}
    for name in DESCRIBING:
        try:
            text = (root / name).read_text(encoding="utf-8")
        except (OSError, ValueError):
            continue
        public = _without(text, paths, html=name.endswith(".html"))
        if public != text:
            out[name] = public.encode("utf-8")
    return out


@contextmanager
def staged(root: Path, public: dict[str, bytes]) -> Iterator[Path]:
    """The folder to upload: ``root`` itself when ``public`` is empty, else a hidden folder in it (removed after)
    holding the same files (hard links, or copies where the file system takes none), with ``public``'s files in
    place of the folder's own."""
    if not public:
        yield root
        return
    import shutil
    import tempfile

    from huggingface_hub.utils import filter_repo_objects

    try:
        folder = Path(tempfile.mkdtemp(prefix=".publish-", dir=root))
    except OSError as exc:
        raise PublishError(f"{root}: not published, cannot prepare the upload ({error_line(exc)}); nothing was "
                           "uploaded") from None
    try:
        try:
            files = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()
                     and folder not in p.parents]
            for name in filter_repo_objects(files, ignore_patterns=IGNORE):
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
    out: Path = typer.Argument(..., help="A `tome curate` output folder."),
    repo: str = typer.Option(..., "--repo", help="The Hugging Face dataset repo, USER/NAME (created if missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    format: Optional[str] = typer.Option(None, "--format", help="Rewrite the card (and messages splits) for finetome, "
                                         "messages or both before uploading; default: keep the folder's card."),
    token: Optional[str] = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the saved login)."),
) -> None:
    """Upload a curated folder (splits, card, manifest, report) to the Hugging Face hub as a dataset repo."""
    from tomecraft.console import console, error

    from curation.report.markdown_text import one_line

    try:
        url = publish(out, repo, private=private, token=token, format=format)
    except PublishError as exc:  # one line, a folder named with a line break included
        error(one_line(exc), code=2 if isinstance(exc, PublishUsageError) else 1)
    console.print(f"published {one_line(out)} -> {url}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_command)
