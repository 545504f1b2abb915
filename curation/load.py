"""Reading the input: a hub dataset id, a local JSONL/JSON/Parquet file, a `save_to_disk` folder, or the sample.

Loading yields :class:`RawRecord` s in input order, each with its position in the input. Rows that cannot be
parsed (a bad JSONL line) come back with ``error`` set and go to quarantine; an input that cannot be read
at all raises :class:`InputError`, whose message names the file (and line, where it applies).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

DEFAULT_HUB_DATASET = "mlabonne/FineTome-100k"
REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PATH = REPO_ROOT / "data" / "sample.jsonl"


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file."""


@dataclass
class RawRecord:
    position: dict[str, Any]
    data: Any = None  # the parsed row (dict) when it parsed
    raw: str | None = None  # the raw text line, for text inputs
    error: str | None = None


@dataclass
class LoadedInput:
    spec: str
    kind: str  # sample | jsonl | json | parquet | disk | hub
    path: str | None
    fingerprint: str
    records: list[RawRecord] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "fingerprint": self.fingerprint, "rows": len(self.records)}


def load_input(spec: str | None) -> LoadedInput:
    """Resolve ``spec`` (None = the embedded sample) and read every record."""
    if spec is None:
        if not SAMPLE_PATH.exists():
            raise InputError(f"{SAMPLE_PATH}: embedded sample not found (regenerate it: python data/make_sample.py)")
        loaded = _load_jsonl(SAMPLE_PATH)
        loaded.kind, loaded.spec = "sample", "sample"
        return loaded
    path = Path(spec).expanduser()
    if path.is_dir():
        return _load_folder(path, spec)
    if path.exists():
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return _load_jsonl(path)
        if suffix == ".json":
            return _load_json(path)
        if suffix == ".parquet":
            return _load_parquet(path)
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected .jsonl, .json or .parquet")
    if _looks_like_path(spec):
        raise InputError(f"{spec}: file not found")
    return _load_hub(spec)


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~"))
        or spec.count("/") != 1
        or spec.lower().endswith((".jsonl", ".json", ".parquet"))
    )


def file_fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _load_jsonl(path: Path) -> LoadedInput:
    records: list[RawRecord] = []
    parsed = 0
    try:
        with path.open("rb") as fh:
            for lineno, line_bytes in enumerate(fh, start=1):
                pos = {"file": path.name, "line": lineno}
                try:
                    line = line_bytes.decode("utf-8")
                except UnicodeDecodeError as exc:
                    records.append(RawRecord(pos, raw=line_bytes.decode("utf-8", "replace"), error=f"not UTF-8: {exc.reason}"))
                    continue
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    records.append(RawRecord(pos, raw=line.rstrip("\n"), error=f"not valid JSON: {exc.msg} (column {exc.colno})"))
                    continue
                parsed += 1
                records.append(RawRecord(pos, data=data, raw=line.rstrip("\n")))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if records and parsed == 0:
        first = records[0]
        raise InputError(f"{path}: line {first.position['line']}: not JSON Lines ({first.error})")
    return LoadedInput(str(path), "jsonl", str(path), file_fingerprint(path), records)


def _load_json(path: Path) -> LoadedInput:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON array of rows (or an object holding one array)")
    records = [RawRecord({"file": path.name, "row": i}, data=row) for i, row in enumerate(data)]
    return LoadedInput(str(path), "json", str(path), file_fingerprint(path), records)


def _load_parquet(path: Path, *more: Path) -> LoadedInput:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records: list[RawRecord] = []
    for p in (path, *more):
        try:
            table = pq.read_table(p)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{p}: not a readable Parquet file (truncated or corrupt?): {exc}") from None
        records.extend(RawRecord({"file": p.name, "row": i}, data=row) for i, row in enumerate(table.to_pylist()))
    return LoadedInput(str(path), "parquet", str(path), file_fingerprint(path, *more), records)


def _load_folder(path: Path, spec: str) -> LoadedInput:
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        return _load_saved_dataset(path, spec)
    shards = sorted(path.glob("*.parquet"))
    if shards:
        loaded = _load_parquet(shards[0], *shards[1:])
        loaded.spec, loaded.path = spec, str(path)
        return loaded
    shards = sorted(path.glob("*.jsonl"))
    if shards:
        combined = LoadedInput(spec, "jsonl", str(path), file_fingerprint(*shards))
        for shard in shards:
            combined.records.extend(_load_jsonl(shard).records)
        return combined
    raise InputError(f"{path}: folder holds no dataset (expected a datasets.save_to_disk folder, *.parquet or *.jsonl)")


def _load_saved_dataset(path: Path, spec: str) -> LoadedInput:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a bad folder
        raise InputError(f"{path}: not a readable datasets.save_to_disk folder: {exc}") from None
    parts = [(name, ds[name]) for name in ds] if isinstance(ds, datasets.DatasetDict) else [("", ds)]
    records: list[RawRecord] = []
    for name, part in parts:
        label = f"{path.name}/{name}" if name else path.name
        records.extend(RawRecord({"file": label, "row": i}, data=row) for i, row in enumerate(part.to_list()))
    fingerprint = "datasets:" + hashlib.sha256("|".join(p._fingerprint for _, p in parts).encode()).hexdigest()
    return LoadedInput(spec, "disk", str(path), fingerprint, records)


def _load_hub(spec: str) -> LoadedInput:
    import datasets

    name, _, split = spec.partition(":")
    split = split or "train"
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1 is set: only cached datasets load)" if offline else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{spec}: cannot load from the Hugging Face hub{hint}: {first}") from None
    records = [RawRecord({"file": f"{name}:{split}", "row": i}, data=row) for i, row in enumerate(ds.to_list())]
    fingerprint = f"hub:{name}:{split}:{ds._fingerprint}"
    return LoadedInput(spec, "hub", None, fingerprint, records)
