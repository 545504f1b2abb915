"""`tome review` against a server: clear one-line errors for a closed port, a bad key and a missing workspace
(loopback only), and the full live round trip when a real Argilla server is given in ARGILLA_API_URL."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app

runner = CliRunner()
NOW = "2024-01-01T00:00:00"


@pytest.fixture(scope="module")
def curated(alpaca_path, tmp_path_factory) -> Path:
    from tests.curation.review.test_review import build_curated_folder

    return build_curated_folder(alpaca_path, tmp_path_factory.mktemp("review-live"))


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        status, body = self.routes.get(path, self.routes.get("*", (404, {"detail": "Not Found"})))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:  # keep test output clean
        pass


def serve(routes: dict):
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()  # (shutdown waits a poll)
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def invoke(*args: str):
    env = {"ARGILLA_API_URL": "", "ARGILLA_API_KEY": "", "ARGILLA_WORKSPACE": ""}
    return runner.invoke(app, [str(a) for a in args], env=env)


def assert_one_line_error(result, *fragments: str, code: int = 1) -> None:
    """One ``error:`` line holding ``fragments``; exit ``code`` (2: the command line itself, before any work)."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in lines[0], result.output


def test_refused_connection_is_one_clear_line(curated, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    result = invoke("review", "export", curated, "--no-vectors", "--api-url", url, "--api-key", "k", "--retries", "0")
    assert_one_line_error(result, "cannot connect to Argilla at " + url, "is the server running")
    result = invoke("review", "import", curated, "--out", tmp_path / "o", "--api-url", url, "--api-key", "k", "--retries", "0")
    assert_one_line_error(result, "cannot connect to Argilla at " + url)
    assert not (tmp_path / "o").exists()


def test_bad_key_is_one_clear_line(curated, tmp_path):
    server, url = serve({"*": (401, {"detail": "Could not validate credentials"})})
    try:
        result = invoke("review", "export", curated, "--no-vectors", "--api-url", url, "--api-key", "wrong")
        assert_one_line_error(result, f"Argilla at {url} rejected the API key", "ARGILLA_API_KEY")
        result = invoke("review", "import", curated, "--out", tmp_path / "o", "--api-url", url, "--api-key", "wrong")
        assert_one_line_error(result, "rejected the API key")
    finally:
        server.shutdown()


def test_missing_workspace_names_the_available_ones(curated, tmp_path):
    me = {"id": str(uuid.uuid4()), "username": "ann", "role": "owner", "inserted_at": NOW, "updated_at": NOW}
    ws = {"id": str(uuid.uuid4()), "name": "argilla", "inserted_at": NOW, "updated_at": NOW}
    server, url = serve({"/api/v1/me": (200, me), "/api/v1/me/workspaces": (200, {"items": [ws]})})
    try:
        result = invoke("review", "export", curated, "--no-vectors", "--api-url", url, "--api-key", "k",
                        "--workspace", "nope")
        assert_one_line_error(result, "workspace 'nope' not found", "available to this key: argilla")
        result = invoke("review", "import", curated, "--out", tmp_path / "o", "--api-url", url, "--api-key", "k",
                        "--workspace", "nope")
        assert_one_line_error(result, "workspace 'nope' not found")
    finally:
        server.shutdown()


def test_no_key_is_one_clear_line(curated):
    result = invoke("review", "export", curated, "--no-vectors", "--api-url", "http://127.0.0.1:9")
    assert_one_line_error(result, "no Argilla API key", code=2)


# -- a real server ------------------------------------------------------------------------------------------


@pytest.mark.live_argilla
@pytest.mark.skipif(not os.environ.get("ARGILLA_API_URL"), reason="no Argilla server: set ARGILLA_API_URL (and ARGILLA_API_KEY)")
def test_live_round_trip(curated, tmp_path):
    """Export twice (records are upserted by row id, not duplicated), answer as the key's user, import."""
    import argilla as rg

    from curation.review.folder import read_folder

    url, key = os.environ["ARGILLA_API_URL"], os.environ.get("ARGILLA_API_KEY", "")
    workspace = os.environ.get("ARGILLA_WORKSPACE")
    name = f"tome-review-test-{uuid.uuid4().hex[:8]}"
    common = ["--api-url", url, "--api-key", key, "--name", name, "-q"] + (["--workspace", workspace] if workspace else [])
    folder = read_folder(curated)
    expected = [r["id"] for r in folder.splits["test"]] + [r["id"] for r in folder.removed]
    for _ in range(2):
        result = runner.invoke(app, ["review", "export", str(curated), "--split", "test", "--removed", "*", "--no-vectors", *common])
        assert result.exit_code == 0, result.output
    client = rg.Argilla(api_url=url, api_key=key)
    ds = client.datasets(name, workspace=workspace) if workspace else client.datasets(name)
    try:
        records = list(ds.records(with_responses=True))
        assert sorted(str(r.id) for r in records) == sorted(expected)  # no duplicates after the second export
        by_id = {str(r.id): r for r in records}
        target = folder.splits["test"][0]["id"]
        record = by_id[target]
        me = client.me.id
        record.responses.add(rg.Response("verdict", "discard", user_id=me, status="submitted"))
        record.responses.add(rg.Response("quality", 2, user_id=me, status="submitted"))
        ds.records.log([record])
        args = ["review", "import", str(curated), "--out", str(tmp_path / "reviewed"), "--dataset", name,
                "--api-url", url, "--api-key", key, "-q"] + (["--workspace", workspace] if workspace else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        import pyarrow.parquet as pq

        removed = {r["id"]: r for r in pq.read_table(tmp_path / "reviewed" / "removed.parquet").to_pylist()}
        assert removed[target]["reason"] == "review:discard" and removed[target]["quality"] == 2.0
        manifest = json.loads((tmp_path / "reviewed" / "manifest.json").read_text())
        assert manifest["accounting"]["balanced"] and manifest["review"]["source"]["kind"] == "live"
    finally:
        ds.delete()


# -- an in-memory Argilla API on loopback: argilla's real client code end to end ------------------------------


class FakeArgilla:
    """Just enough of the Argilla 2.x REST API (as argilla 2.8's client calls it) to create a dataset,
    upsert records by external id, and list them with responses. Not a server to trust for semantics: it
    stores and echoes what the client sends, so the client's own serialization is what gets exercised."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.user = {"id": str(uuid.uuid4()), "username": "ann", "role": "owner", "first_name": "Ann",
                     "inserted_at": NOW, "updated_at": NOW}
        self.workspace = {"id": str(uuid.uuid4()), "name": "argilla", "inserted_at": NOW, "updated_at": NOW}
        self.datasets: dict[str, dict] = {}
        self.props: dict[str, dict[str, list]] = {}
        self.records: dict[str, dict[str, dict]] = {}
        self.upserts = 0

    def handle(self, method: str, path: str, body) -> tuple[int, object]:
        parts = [p for p in path.split("?")[0].split("/") if p][2:]  # after /api/v1
        with self.lock:
            if parts == ["me"]:
                return 200, self.user
            if parts == ["users"]:
                return 200, {"items": [self.user]}
            if parts == ["me", "workspaces"]:
                return 200, {"items": [self.workspace]}
            if parts[:1] == ["workspaces"] and len(parts) == 2:
                return 200, self.workspace
            if parts == ["me", "datasets"]:
                return 200, {"items": list(self.datasets.values())}
            if parts == ["datasets"] and method == "POST":
                ds = {**body, "id": str(uuid.uuid4()), "status": "draft", "inserted_at": NOW, "updated_at": NOW,
                      "workspace_id": body.get("workspace_id") or self.workspace["id"]}
                self.datasets[ds["id"]] = ds
                self.props[ds["id"]] = {k: [] for k in ("fields", "questions", "vectors-settings", "metadata-properties")}
                self.records[ds["id"]] = {}
                return 201, ds
            if parts[:1] == ["me"] and parts[1:2] == ["datasets"] and parts[3:] == ["metadata-properties"]:
                return 200, {"items": self.props[parts[2]]["metadata-properties"]}
            if parts[:1] != ["datasets"] or len(parts) < 2 or parts[1] not in self.datasets:
                return 404, {"detail": f"not found: {path}"}
            did, rest = parts[1], parts[2:]
            ds = self.datasets[did]
            if not rest:
                if method == "PATCH":
                    ds.update({k: v for k, v in body.items() if v is not None and k not in ("id",)})
                elif method == "DELETE":
                    del self.datasets[did]
                return 200, ds
            if rest == ["publish"]:
                ds["status"] = "ready"
                return 200, ds
            if rest == ["progress"]:
                n = len(self.records[did])
                return 200, {"total": n, "completed": 0, "pending": n}
            if len(rest) == 1 and rest[0] in self.props[did]:
                if method == "POST":
                    item = {**body, "id": str(uuid.uuid4()), "dataset_id": did, "inserted_at": NOW, "updated_at": NOW}
                    self.props[did][rest[0]].append(item)
                    return 201, item
                return 200, {"items": self.props[did][rest[0]]}
            if rest == ["records", "bulk"] and method == "PUT":
                self.upserts += 1
                out, updated = [], []
                for item in body["items"]:
                    ext = str(item["external_id"])
                    old = self.records[did].get(ext)
                    rec = {**item, "id": old["id"] if old else str(uuid.uuid5(uuid.UUID(did), ext)),
                           "dataset_id": did, "inserted_at": NOW, "updated_at": NOW}
                    if old:
                        updated.append(rec["id"])
                        if not item.get("responses"):
                            rec["responses"] = old.get("responses", [])
                    for sugg in rec.get("suggestions") or []:
                        sugg.setdefault("id", str(uuid.uuid4()))
                    self.records[did][ext] = rec
                    out.append(rec)
                return 200, {"items": out, "updated_item_ids": updated}
            if rest == ["records"] and method == "GET":
                from urllib.parse import parse_qs, urlparse

                q = parse_qs(urlparse(path).query)
                offset, limit = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["100"])[0])
                items = list(self.records[did].values())
                return 200, {"items": items[offset : offset + limit], "total": len(items)}
            return 404, {"detail": f"not found: {method} {path}"}


@pytest.fixture()
def fake_argilla():
    fake = FakeArgilla()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if self.headers.get("X-Argilla-Api-Key") != "owner.apikey":
                status, payload = 401, {"detail": "Could not validate credentials"}
            else:
                status, payload = fake.handle(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()  # (shutdown waits a poll)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()


def test_live_path_against_a_loopback_fake(curated, tmp_path, fake_argilla):
    """Export live twice (the second run updates, it adds nothing), answer through argilla's client, import live."""
    import argilla as rg
    import pyarrow.parquet as pq

    from curation.review.folder import read_folder

    url = fake_argilla.url
    folder = read_folder(curated)
    expected = [r["id"] for r in folder.splits["test"]]
    args = ["review", "export", curated, "--split", "test", "--no-vectors", "--api-url", url, "--api-key", "owner.apikey",
            "--batch-size", "2", "-q"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "created dataset 'tome-review'" in first.output
    second = invoke(*args)
    assert second.exit_code == 0 and "updated dataset 'tome-review'" in second.output
    (did,) = fake_argilla.datasets
    assert sorted(fake_argilla.records[did]) == sorted(expected)  # upserted by row id, no copies
    assert fake_argilla.upserts == 2 * ((len(expected) + 1) // 2)  # batches of 2, twice
    names = {k: [p["name"] for p in v] for k, v in fake_argilla.props[did].items()}
    assert names["fields"] == ["conversation"] and names["questions"] == ["verdict", "quality", "corrected_answer"]
    sent = fake_argilla.records[did][expected[0]]
    assert {s["agent"] for s in sent["suggestions"]} >= {"tomecraft/kept", "tomecraft/current-answer"}

    client = rg.Argilla(api_url=url, api_key="owner.apikey")
    ds = client.datasets("tome-review")
    (record,) = [r for r in ds.records(with_responses=True) if str(r.id) == expected[0]]
    record.responses.add(rg.Response("verdict", "discard", user_id=client.me.id, status="submitted"))
    record.responses.add(rg.Response("quality", 2, user_id=client.me.id, status="submitted"))
    ds.records.log([record])

    result = invoke("review", "import", curated, "--out", tmp_path / "reviewed", "--api-url", url,
                    "--api-key", "owner.apikey", "-q")
    assert result.exit_code == 0, result.output
    removed = {r["id"]: r for r in pq.read_table(tmp_path / "reviewed" / "removed.parquet").to_pylist()}
    assert removed[expected[0]]["reason"] == "review:discard" and removed[expected[0]]["quality"] == 2.0
    manifest = json.loads((tmp_path / "reviewed" / "manifest.json").read_text())
    assert manifest["review"]["annotators"] == ["ann"]  # user ids resolved to usernames
    assert manifest["review"]["source"] == {"kind": "live", "url": url, "workspace": "argilla", "dataset": "tome-review"}
    assert manifest["accounting"]["balanced"]


def test_argilla_from_disk_and_from_hub_load_the_offline_layouts(curated, tmp_path, fake_argilla, monkeypatch):
    """argilla's own importers read what `--to` and `--hub-dir` wrote (the server is the loopback fake)."""
    import argilla as rg
    import huggingface_hub

    result = invoke("review", "export", curated, "--split", "test", "--no-vectors", "--to", tmp_path / "disk",
                    "--hub-dir", tmp_path / "hub", "-q")
    assert result.exit_code == 0, result.output
    expected = sorted(json.loads((tmp_path / "disk" / "records.json").read_text()), key=lambda r: r["id"])
    client = rg.Argilla(api_url=fake_argilla.url, api_key="owner.apikey")

    ds = rg.Dataset.from_disk(str(tmp_path / "disk"), name="from-disk", workspace="argilla", client=client)
    stored = fake_argilla.records[str(ds.id)]
    assert sorted(stored) == [r["id"] for r in expected]
    questions = [q["name"] for q in fake_argilla.props[str(ds.id)]["questions"]]
    assert questions == ["verdict", "quality", "corrected_answer"]
    for rec in expected:
        got = stored[rec["id"]]
        assert got["fields"]["conversation"] == rec["fields"]["conversation"]
        assert got["metadata"] == rec["metadata"]

    # from_hub: the repo download is the only network step; point it at the local to_hub folder
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: str(tmp_path / "hub"))
    ds = rg.Dataset.from_hub(str(tmp_path / "hub"), name="from-hub", workspace="argilla", client=client, settings="auto")
    stored = fake_argilla.records[str(ds.id)]
    assert sorted(stored) == [r["id"] for r in expected]
    for rec in expected:
        assert stored[rec["id"]]["fields"]["conversation"] == rec["fields"]["conversation"]
