"""The files argilla itself reads and writes, produced and read with argilla's own code.

*Disk layout* (``rg.Dataset.to_disk`` / ``rg.Dataset.from_disk``)::

    DIR/.argilla/dataset.json   the dataset model     (Dataset._persist_dataset_model)
    DIR/.argilla/settings.json  the settings          (Settings.to_json)
    DIR/records.json            the records, nested   (JsonIO.to_json, what DatasetRecords.to_json calls)

*Hub layout* (``rg.Dataset.to_hub`` / ``rg.Dataset.from_hub``)::

    DIR/data/train-00000-of-00001.parquet   the records, flattened (HFDatasetsIO.to_datasets), sharded
                                             the way ``datasets.Dataset.push_to_hub`` shards them
    DIR/.argilla/dataset.json, settings.json the same configuration files (to_disk without records)
    DIR/README.md                            the ArgillaDatasetCard to_hub generates

``to_disk`` and ``to_hub`` fetch the records from a server; here the records come from memory, and
everything else is the same call argilla makes. Reading back uses ``Record.from_dict`` (what
``from_disk`` uses) and the ``<question>.responses[.users|.status]`` columns (what ``from_hub`` uses).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from curation.contract import OutputFolderError, check_output_path, make_output_folder
from curation.review.errors import ReviewError, ReviewUsageError, named
from curation.review.schema import FIELD_CONVERSATION, QUESTIONS, Q_VERDICT

if TYPE_CHECKING:
    import argilla as rg

RECORDS_FILE = "records.json"
CONFIG_DIR = ".argilla"
SETTINGS_FILE = f"{CONFIG_DIR}/settings.json"
DATASET_FILE = f"{CONFIG_DIR}/dataset.json"
HUB_DATA_DIR = "data"
HUB_SPLIT = "train"
CARD_FILE = "README.md"


# -- writing ----------------------------------------------------------------------------------------------


def check_target(path: Path, what: str) -> None:
    """An export target must be a new or empty folder (argilla's to_disk refuses to overwrite), not under a file."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ReviewUsageError(f"{what} {path}: must be a new or empty folder")
    try:
        check_output_path(path)
    except OutputFolderError as exc:  # under a file: the path given is wrong
        raise ReviewUsageError(f"{what} {exc}") from None


def _empty_target(path: Path, what: str) -> Path:
    check_target(path, what)
    try:
        return make_output_folder(path)
    except OutputFolderError as exc:  # no permission, /proc: what only creating it shows
        raise ReviewError(f"{what} {exc}") from None


def write_disk_layout(dataset: "rg.Dataset", records: list["rg.Record"], path: str | Path) -> Path:
    """What ``dataset.to_disk(path)`` writes, for records that live in memory rather than on a server."""
    from argilla.records._io import JsonIO

    path = _empty_target(Path(path), "--to")
    dataset.to_disk(str(path), with_records=False)
    JsonIO.to_json(records=records, path=path / RECORDS_FILE)
    return path


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def to_hf_dataset(dataset: "rg.Dataset", records: list["rg.Record"]):
    """The flattened Hugging Face dataset ``to_hub`` pushes (``dataset.records(...).to_datasets()``)."""
    from argilla.records._io import HFDatasetsIO

    with _quiet_datasets():
        return HFDatasetsIO.to_datasets(records=records, dataset=dataset)


def _parquet_shards(hfds, data_dir: Path) -> list[Path]:
    """The shards ``hfds.push_to_hub`` uploads: same count, same names, same ``to_parquet`` call."""
    from datasets import config
    from datasets.arrow_writer import get_writer_batch_size_from_data_size, get_writer_batch_size_from_features
    from datasets.utils.py_utils import convert_file_size_to_int

    nbytes = hfds._estimate_nbytes()
    writer_batch_size = get_writer_batch_size_from_features(hfds.features) or get_writer_batch_size_from_data_size(
        len(hfds), nbytes
    )
    num_shards = int(nbytes / convert_file_size_to_int(config.MAX_SHARD_SIZE)) + 1
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with _quiet_datasets():
        for index in range(num_shards):
            shard = hfds.shard(num_shards=num_shards, index=index, contiguous=True)
            target = data_dir / f"{HUB_SPLIT}-{index:05d}-of-{num_shards:05d}.parquet"
            shard.to_parquet(str(target), batch_size=writer_batch_size)
            paths.append(target)
    return paths


def dataset_card(dataset: "rg.Dataset", records: list["rg.Record"], hfds, repo_id: str):
    """The card ``to_hub(generate_card=True)`` writes, from the same template and arguments."""
    from huggingface_hub import DatasetCardData

    from argilla.datasets._io.card import ArgillaDatasetCard, size_categories_parser

    return ArgillaDatasetCard.from_template(
        card_data=DatasetCardData(size_categories=size_categories_parser(len(hfds)), tags=["rlfh", "argilla", "human-feedback"]),
        repo_id=repo_id,
        argilla_fields=dataset.settings.fields,
        argilla_questions=dataset.settings.questions,
        argilla_guidelines=dataset.settings.guidelines or None,
        argilla_vectors_settings=dataset.settings.vectors or None,
        argilla_metadata_properties=dataset.settings.metadata,
        argilla_record=records[0].to_dict(),
        huggingface_record=dataset._get_sample_hf_record(hfds),
    )


def write_hub_layout(dataset: "rg.Dataset", records: list["rg.Record"], path: str | Path, repo_id: str) -> Path:
    """What ``dataset.to_hub(repo_id)`` leaves in the repo, written to a local folder."""
    path = _empty_target(Path(path), "--hub-dir")
    hfds = to_hf_dataset(dataset, records)
    _parquet_shards(hfds, path / HUB_DATA_DIR)
    dataset.to_disk(str(path), with_records=False)
    dataset_card(dataset, records, hfds, repo_id).save(filepath=str(path / CARD_FILE))
    return path


def check_push(repo_id: str) -> None:
    """What ``--push-to-hub`` can be told before any work is done (rows read, embedded, layouts written): a repo
    name the hub refuses (:class:`ReviewUsageError`), offline (``HF_HUB_OFFLINE``): one line each, as ``tome
    publish`` says them."""
    from curation.publish import PublishUsageError, check_repo, offline_line

    try:
        check_repo(repo_id)
    except PublishUsageError as exc:
        raise ReviewUsageError(f"--push-to-hub {exc}") from None
    if (line := offline_line(repo_id)) is not None:
        raise ReviewError(f"--push-to-hub {line}")


def push_hub_layout(path: str | Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Publish a folder written by :func:`write_hub_layout` as ``to_hub`` would: data shards, then config and card.

    Each failure is one line (:class:`ReviewError`), as ``tome publish`` says it: offline, no token or one the hub
    refuses, the hub not reached (httpx's errors too), and ``private`` into an existing public repo (the hub keeps
    an existing repo's visibility: nothing is uploaded there)."""
    from huggingface_hub import HfApi

    from curation.publish import PublishError, hub_reason, open_repo

    check_push(repo_id)
    path = Path(path)
    api = HfApi(token=token)
    try:
        open_repo(api, repo_id, private)
    except PublishError as exc:
        raise ReviewError(f"--push-to-hub {exc}") from None
    try:
        api.upload_folder(
            folder_path=str(path),
            repo_id=repo_id,
            repo_type="dataset",
            allow_patterns=[f"{HUB_DATA_DIR}/*.parquet", f"{CONFIG_DIR}/*.json", CARD_FILE],
            delete_patterns=[f"{HUB_DATA_DIR}/{HUB_SPLIT}-*.parquet"],
            commit_message="tome review export",
        )
    except Exception as exc:  # huggingface_hub's errors, httpx's, OSError: one line each
        raise ReviewError(f"--push-to-hub {repo_id}: not published, {hub_reason(exc)}; nothing was uploaded") from None
    return f"{api.endpoint.rstrip('/')}/datasets/{repo_id}"  # (HF_ENDPOINT's, where it names another hub)


# -- reading ----------------------------------------------------------------------------------------------

# the parts of a record argilla's to_disk writes (Record.to_dict); null stands for none of them, as for argilla's
# own fields, metadata and vectors
RECORD_PARTS = ("fields", "metadata", "vectors", "suggestions", "responses")
# what every record of an exported review has and a file of other rows (a curated split as JSON, quarantine.jsonl)
# does not: a file of records without any of them is not a review, and importing it would apply nothing
RECORD_SHAPE = {"fields", "responses", "suggestions"}


# the columns to_hub flattens a record of a `tome review` dataset into (HFDatasetsIO): its chat field, and each
# question's responses and suggestion; a parquet file with none of them is other rows (a curated split)
HUB_SHAPE = {FIELD_CONVERSATION, *(f"{q}.{part}" for q in QUESTIONS for part in ("responses", "suggestion"))}


@dataclass(frozen=True)
class Answer:
    """One annotator's answer to one question of one record."""

    record_id: str
    annotator: str
    question: str
    value: Any
    status: str  # submitted | draft | discarded


@dataclass
class ReviewedRecords:
    """What came back from review: every exported record id and every answer, with where they came from."""

    source: dict[str, Any]
    record_ids: list[str]
    answers: list[Answer] = field(default_factory=list)

    @property
    def origin(self) -> str:
        """Where the answers came from, as an error message names it: the file read, or the live dataset."""
        if "path" not in self.source:
            return f"dataset {self.source.get('dataset')!r} on {self.source.get('url')}"
        path = Path(self.source["path"])
        return str(path / RECORDS_FILE) if self.source.get("kind") == "disk" and path.is_dir() else str(path)


def detect_layout(path: Path) -> str:
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".json", ".jsonl"):  # records.json, or its records as JSON Lines (jq -c '.[]' > x.jsonl)
            return "disk"
        if suffix == ".parquet":
            return "hub"
    elif path.is_dir():
        if (path / RECORDS_FILE).is_file():
            return "disk"
        if sorted((path / HUB_DATA_DIR).glob("*.parquet")):
            return "hub"
    raise ReviewError(
        f"{path}: not an exported review (expected a folder with records.json (to_disk layout) or "
        f"data/*.parquet (to_hub layout), or one of those files (.json, .jsonl or .parquet))"
    )


def read_layout(path: str | Path) -> ReviewedRecords:
    path = Path(path)
    if not path.exists():
        raise ReviewUsageError(f"{path}: not found")
    layout = detect_layout(path)
    folder = path if path.is_dir() else None
    if folder is not None:
        _check_settings(folder)
    return read_disk_records(path) if layout == "disk" else read_hub_records(path)


def _check_settings(folder: Path) -> None:
    """If the folder has argilla's settings file, it must be a `tome review` dataset (same question names)."""
    settings_path = folder / SETTINGS_FILE
    if not settings_path.is_file():
        return
    import argilla as rg

    from curation.review.offline import offline_default_client

    try:
        with offline_default_client():
            settings = rg.Settings.from_json(settings_path)
    except Exception as exc:
        raise ReviewError(f"{settings_path}: not argilla settings ({type(exc).__name__}: {exc})") from None
    names = {q.name for q in settings.questions}
    if Q_VERDICT not in names:
        raise ReviewError(f"{settings_path}: the dataset has no {Q_VERDICT!r} question; it was not made by `tome review export`")


def read_disk_records(path: Path) -> ReviewedRecords:
    """``records.json`` read with ``rg.Record.from_dict``, as ``from_disk`` reads it.

    argilla's ``to_disk`` keeps a response's value and user but not its status; a response without a
    ``status`` key counts as submitted, and one with ``"status": "draft"`` or ``"discarded"`` does not.
    """
    import argilla as rg

    from curation.review.offline import offline_default_client

    records_path = path / RECORDS_FILE if path.is_dir() else path
    data = _records_json(records_path)
    out = ReviewedRecords({"kind": "disk", "path": str(path)}, [])
    with offline_default_client():
        for n, record_dict in enumerate(data):
            if not isinstance(record_dict, dict):
                raise ReviewError(f"{records_path}: record {n} is not a JSON object (got {_kind(record_dict)})")
            rid = record_dict.get("id")
            which = f"record {n}" if rid is None else f"record {n} (id {named(str(rid))})"
            record_dict = {k: v for k, v in record_dict.items() if not (k in RECORD_PARTS and v is None)}
            problem = record_shape_problem(record_dict)
            if problem:
                raise ReviewError(f"{records_path}: {which}: {problem}")
            try:
                record = rg.Record.from_dict(record_dict)
            except Exception as exc:  # named by its id too: one annotator's two responses to a question, say
                raise ReviewError(f"{records_path}: {which}: {_one_line(exc)}") from None
            if record.id is None or (isinstance(record_dict, dict) and record_dict.get("id") is None):
                raise ReviewError(f"{records_path}: record {n} has no id")
            rid = str(record.id)
            out.record_ids.append(rid)
            for response in record.responses:
                status = response.status.value if response.status is not None else "submitted"
                out.answers.append(Answer(rid, str(response.user_id), response.question_name, response.value, status))
    _check_is_review(records_path, data)
    return out


def _check_is_review(records_path: Path, data: list[dict[str, Any]]) -> None:
    """Refuse records none of which has a part of argilla's record shape: other rows (a curated split,
    quarantine.jsonl) read as records of no answers, and the import wrote a whole reviewed folder with nothing
    applied."""
    if data and not any(RECORD_SHAPE & record.keys() for record in data):
        parts = ", ".join(sorted(RECORD_SHAPE))
        raise ReviewError(f"{records_path}: not an exported review (no record has any of {parts}, as the records.json "
                          "of rg.Dataset.to_disk has); give the to_disk or to_hub folder of the annotated dataset")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def record_shape_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with the parts of a record (``Record.to_dict``'s shape), or None. ``Record.from_dict`` takes
    any value and fails on the wrong kind with what Python says of it (``'str' object has no attribute 'items'``);
    this names the record's part instead."""
    for part in RECORD_PARTS:
        if part in record and not isinstance(record[part], dict):
            return f"{part!r} must be a JSON object, got {_kind(record[part])}"
    for question, suggestion in record.get("suggestions", {}).items():
        if not isinstance(suggestion, dict):
            return f"'suggestions.{question}' must be a JSON object ({{value, score, agent}}), got {_kind(suggestion)}"
    for question, responses in record.get("responses", {}).items():
        if not isinstance(responses, list):
            return (f"'responses.{question}' must be a list of responses ({{value, user_id}} objects), "
                    f"got {_kind(responses)}")
        for i, response in enumerate(responses):
            if not isinstance(response, dict):
                return (f"'responses.{question}[{i}]' must be a JSON object ({{value, user_id}}), "
                        f"got {_kind(response)}")
    return None


def _one_line(exc: Exception) -> str:
    """What argilla said of a record it cannot build, on one line (pydantic lists each error on lines of its own)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()]
        return f"{exc.title}: {'; '.join(problems)}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _records_json(records_path: Path) -> list[Any]:
    """The records of a ``records.json``: the JSON list ``to_disk`` writes, or the same records as JSON Lines (one
    object a line, as ``jq -c '.[]'`` or a hand-made file holds them). Read as ``tome curate`` reads text: a
    UTF-8 or UTF-16 byte-order mark is dropped, CRLF line ends are line ends."""
    from curation.sources import decode_text

    try:
        text = decode_text(records_path.read_bytes()).removeprefix("\ufeff")
    except OSError as exc:
        raise ReviewError(f"{records_path}: cannot read records: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ReviewError(f"{records_path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if not text.strip():
        raise ReviewError(f"{records_path}: cannot read records: the file is empty")
    try:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = text.split("\n")  # not splitlines(): U+2028 and the like may stand raw inside a JSON string
            if exc.msg != "Extra data" or not text.lstrip().startswith("{"):
                raise ReviewError(f"{records_path}: cannot read records: {exc}") from None
            data = []
            for number, line in enumerate(lines, 1):
                if line.strip():  # a CR before the LF is whitespace to json
                    try:
                        data.append(json.loads(line))
                    except json.JSONDecodeError as line_exc:
                        raise ReviewError(f"{records_path}: line {number}: cannot read the record (JSON Lines): "
                                          f"{line_exc}") from None
    except RecursionError:
        raise ReviewError(f"{records_path}: cannot read records: nested too deeply") from None
    if isinstance(data, dict) and "id" in data:  # JSON Lines of one record
        data = [data]
    if not isinstance(data, list):
        raise ReviewError(f"{records_path}: expected a JSON list of records (the to_disk records.json) or JSON Lines "
                          "of records")
    return data


def read_hub_records(path: Path) -> ReviewedRecords:
    """The flattened records of the hub layout (or one of its parquet files)."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted((path / HUB_DATA_DIR).glob("*.parquet"))
    out = ReviewedRecords({"kind": "hub", "path": str(path)}, [])
    for file in files:
        try:
            table = pq.read_table(file)
        except Exception as exc:
            raise ReviewError(f"{file}: cannot read parquet: {exc}") from None
        if not HUB_SHAPE & set(table.column_names):
            raise ReviewError(f"{file}: not an exported review (no {FIELD_CONVERSATION!r}, <question>.responses or "
                              "<question>.suggestion column, as the parquet files of rg.Dataset.to_hub have); give "
                              "the to_disk or to_hub folder of the annotated dataset")
        for n, row in enumerate(table.to_pylist()):
            rid = row.get("id")
            if rid is None:
                raise ReviewError(f"{file}: row {n} has no id column value")
            rid = str(rid)
            out.record_ids.append(rid)
            for question in QUESTIONS:
                out.answers += _hub_answers(file, n, rid, question, row)
    return out


def _hub_answers(file: Path, n: int, rid: str, question: str, row: dict[str, Any]) -> list[Answer]:
    """One question's answers on one flattened record: ``<question>.responses`` with ``.users`` (and ``.status``),
    lists of one length. A null user is refused as ``from_disk`` refuses it (it would count as one annotator
    "None", every null user's answers in one ballot)."""
    where = f"{file}: row {n} (id {named(rid)})"
    columns = [f"{question}.responses", f"{question}.responses.users", f"{question}.responses.status"]
    values, users, statuses = (row.get(name) or [] for name in columns)
    for name, given in zip(columns, (values, users, statuses)):
        if not isinstance(given, list):
            raise ReviewError(f"{where}: {name} must be a list (one entry per response), got {_kind(given)}")
    if len(users) != len(values) or (statuses and len(statuses) != len(values)):
        raise ReviewError(f"{where}: {question}.responses, .users and .status differ in length")
    answers = []
    for i, (value, user) in enumerate(zip(values, users)):
        if user is None:
            raise ReviewError(f"{where}: {question}.responses.users[{i}] is null: user_id is required")
        status = (statuses[i] if statuses else None) or "submitted"
        answers.append(Answer(rid, str(user), question, value, status))
    return answers

