"""`tome review export` end to end: select rows, embed them, build argilla's settings and records, then
write the offline layouts and/or log to a live server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from curation.review.errors import ReviewError, ReviewUsageError
from curation.review.folder import CurationFolder, read_folder
from curation.review.selection import Picked, Selection, select_rows
from curation.text_keys import text_for

if TYPE_CHECKING:
    import argilla as rg
    import numpy as np

DEFAULT_DATASET_NAME = "tome-review"
EMBED_TEXT_KEY = "conversation"


@dataclass(frozen=True)
class ExportOptions:
    name: str = DEFAULT_DATASET_NAME
    min_submitted: int = 1
    vectors: bool = True
    embed_model: str = "default"
    embed_batch_size: int = 64
    embed_cache: bool = True


def check_dataset_name(name: str) -> None:
    """The Argilla dataset name (``--name``) is one line of visible text: it names the dataset on the server and in
    the files the export writes (``.argilla/dataset.json``; with ``--hub-dir`` the card's title and its
    ``from_hub``/``load_dataset`` lines, where a line break would end the code line and a ``---`` line under it
    would cut the card); :class:`ReviewUsageError` naming it otherwise."""
    from curation.report.markdown_text import _BIDI, _CONTROL  # what one_line spells out: controls, LS/PS, bidi
    from curation.review.errors import shown

    if not name.strip():
        raise ReviewUsageError(f"--name {shown(name)}: the dataset name is blank; give it a visible character")
    found = _CONTROL.search(name)
    if found is not None:
        bad = found.group()
        kind = "bidirectional control character" if _BIDI.fullmatch(bad) else "control character"
        raise ReviewUsageError(f"--name {shown(name)}: the dataset name holds the {kind} {bad!r}; a name is one "
                               "line of visible text")


@dataclass
class Prepared:
    folder: CurationFolder
    picked: list[Picked]
    vectors: "np.ndarray | None"

    @property
    def dimensions(self) -> int | None:
        return None if self.vectors is None else int(self.vectors.shape[1])


def prepare(folder_path: "str | Path | CurationFolder", selection: Selection, options: ExportOptions, track: Callable | None = None,
            with_vectors: bool | None = None) -> Prepared:
    """Read the folder, select the rows, and (unless ``with_vectors`` is False) embed them."""
    folder = folder_path if isinstance(folder_path, CurationFolder) else read_folder(folder_path)
    picked = select_rows(folder, selection)
    embed_now = options.vectors if with_vectors is None else with_vectors
    vectors = embed_rows(folder, picked, options, track) if embed_now else None
    return Prepared(folder, picked, vectors)


def embed_rows(folder: CurationFolder, picked: list[Picked], options: ExportOptions, track: Callable | None = None):
    """Each picked row's sentence embedding (the whole conversation), cached under the folder's ``.cache``."""
    try:
        from curation.embeddings import EmbeddingCache, EmbeddingModelError, embed
    except ImportError as exc:
        raise ReviewError(f"vectors need curation.embeddings and sentence-transformers ({exc}); "
                          "pip install 'tomecraft[ml]' or pass --no-vectors") from None
    cache = EmbeddingCache(folder.paths.cache / "embeddings") if options.embed_cache else None
    texts = [text_for(p.loc.row, EMBED_TEXT_KEY) for p in picked]
    try:
        return embed(texts, model=options.embed_model, batch_size=options.embed_batch_size, cache=cache,
                     ids=[p.id for p in picked], progress=track)
    except EmbeddingModelError as exc:
        raise ReviewError(f"{exc} (or pass --no-vectors)") from None


def build_offline(prep: Prepared, options: ExportOptions, client: "rg.Argilla") -> tuple["rg.Dataset", list["rg.Record"]]:
    """The dataset and its records as argilla objects, on the offline client (no server touched)."""
    import argilla as rg

    from curation.review.records import build_records
    from curation.review.schema import build_settings

    settings = build_settings(prep.dimensions, options.min_submitted, client=client)
    ws = rg.Workspace(name="argilla", client=client)  # to_disk needs one; from_disk replaces it with the target's
    dataset = rg.Dataset(name=options.name, workspace=ws, settings=settings, client=client)
    records = build_records(prep.picked, dataset, prep.folder.cluster_sizes(), prep.vectors)
    return dataset, records


def export_offline(
    prep: Prepared,
    options: ExportOptions,
    to: Path | None = None,
    hub_dir: Path | None = None,
    push_to_hub: str | None = None,
    token: str | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Write the to_disk layout to ``to`` and/or the to_hub layout to ``hub_dir`` (and push it if asked)."""
    import tempfile

    from curation.review.layouts import check_push, check_target, push_hub_layout, write_disk_layout, write_hub_layout
    from curation.review.offline import offline_default_client

    if push_to_hub:  # before anything is written: offline, or a repo name the hub refuses, is known now
        check_push(push_to_hub)
    if to is not None:
        check_target(to, "--to")
    if hub_dir is not None:
        check_target(hub_dir, "--hub-dir")
    if to is not None and hub_dir is not None and Path(to).resolve() == Path(hub_dir).resolve():
        raise ReviewUsageError("--to and --hub-dir must be different folders")

    written: dict[str, Any] = {"records": len(prep.picked), "vector_dimensions": prep.dimensions}
    with tempfile.TemporaryDirectory(prefix="tome-review-hub-") as tmp:
        with offline_default_client() as client:
            dataset, records = build_offline(prep, options, client)
            if to is not None:
                written["disk"] = str(write_disk_layout(dataset, records, to))
            if hub_dir is not None or push_to_hub:
                repo_id = push_to_hub or f"<user>/{options.name}"
                target = hub_dir if hub_dir is not None else Path(tmp) / "hub"
                write_hub_layout(dataset, records, target, repo_id)
                if hub_dir is not None:
                    written["hub"] = str(hub_dir)
        if push_to_hub:
            written["pushed"] = push_hub_layout(target, push_to_hub, token=token, private=private)
    return written


def export_live(
    prep: Prepared,
    options: ExportOptions,
    client: "rg.Argilla",
    workspace: str | None,
    batch_size: int,
    track: Callable | None = None,
) -> dict[str, Any]:
    """Create or update dataset ``options.name`` on the server of ``client`` (see :func:`live.connect`)."""
    from curation.review.live import push
    from curation.review.records import build_records
    from curation.review.schema import build_settings

    settings = build_settings(prep.dimensions, options.min_submitted, client=client)
    sizes = prep.folder.cluster_sizes()
    result = push(
        client, options.name, workspace, settings,
        lambda dataset: build_records(prep.picked, dataset, sizes, prep.vectors),
        batch_size=batch_size, track=track,
    )
    result["vector_dimensions"] = prep.dimensions
    return result
