"""schemathesis against the app's own OpenAPI schema, over a small real index (use-multilingual).

Every operation gets SCHUTTING_FUZZ_EXAMPLES generated requests (`make fuzz` sets more), once as
generated (random Authorization headers included) and, for the admin operations, once more with
the real admin token, so the bodies behind the token are fuzzed too. The admin JSON bodies that
the routes read by hand are added to the schema from their pydantic models. Every answer must be
below 500, and every 4xx must be JSON with ``error``, ``detail`` and a Dutch ``melding``.
A harvest is pointed at a closed port on 127.0.0.1: nothing leaves the machine.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.http import create_app
from api.http.admin import FolderIngest, HarvestRequest, ReindexRequest
from api.settings import Settings
from ingest.pipeline import IngestOptions, ingest_paths
from search.embedders import Embedder
from search.generations import open_live
from search.lexical import STOPWORDS

pytestmark = pytest.mark.fuzz

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(
    os.environ.get("SCHUTTING_FUZZ_EXAMPLES", "10")
)  # per operation and test; `make fuzz` sets more
TOKEN = "fuzz-admin-token"
CLOSED_PORT = "http://127.0.0.1:9/sru"  # nothing listens on the discard port: a harvest fails at once
ADMIN_BODIES = {
    "/admin/ingest": FolderIngest,
    "/admin/reindex": ReindexRequest,
    "/admin/harvest": HarvestRequest,
}
_WORD = re.compile(r"[a-zà-ÿ]+")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fast_embedder: Embedder) -> Iterator[FastAPI]:
    """The real app over a small real index (the demo's CVDR regulations and besluitenlijsten)."""
    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    index = open_live(data_dir, fast_embedder, create=True)
    assert index is not None
    report = ingest_paths(
        index, [REPO / "data" / "demo" / "cvdr", REPO / "data" / "demo" / "pdf"], IngestOptions()
    )
    assert not report.failed, report.failed
    index.close()
    roots = tmp_path_factory.mktemp("ingest-root")
    (roots / "note.txt").write_text("Beleidsregel over de rioolheffing.", encoding="utf-8")
    yield create_app(Settings(data_dir=data_dir, model="use-multilingual", admin_token=TOKEN,
                              ingest_roots=str(roots), ocr=False))  # fmt: skip


def schema_with_admin_bodies(raw: dict[str, Any]) -> dict[str, Any]:
    """The app's schema plus the JSON bodies the admin routes parse themselves; a harvest's
    endpoint is pinned to a closed local port."""
    schema = copy.deepcopy(raw)
    for path, model in ADMIN_BODIES.items():
        body = model.model_json_schema()
        if model is HarvestRequest:
            body["properties"]["endpoint"] = {"type": "string", "enum": [CLOSED_PORT]}
        content = {"application/json": {"schema": body}}
        schema["paths"][path]["post"]["requestBody"] = {"content": content, "required": False}
    return schema


def load_schema() -> Any:
    """The schema of an app over no index (the schema needs none); each test calls the real app."""
    raw = create_app(Settings(data_dir=Path("schema-only"), admin_token=TOKEN)).openapi()
    return schemathesis.openapi.from_dict(schema_with_admin_bodies(raw))


schema = load_schema()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=datetime.timedelta(seconds=30),
    suppress_health_check=list(HealthCheck),
    database=None,
    print_blob=True,
)


def check_answer(status: int, content_type: str, text: str, what: str) -> None:
    """No 5xx; a 4xx is JSON with error, detail and a Dutch melding."""
    assert status < 500, f"{what} -> {status}: {text[:500]}"
    if status < 400:
        return
    assert content_type.startswith("application/json"), f"{what} -> {status} {content_type}: {text[:300]}"
    body = json.loads(text)
    assert {"error", "detail", "melding"} <= set(body), f"{what} -> {status}: {body}"
    melding = str(body["melding"])
    assert set(_WORD.findall(melding.lower())) & set(STOPWORDS), f"{what}: melding not Dutch: {melding!r}"


@schema.parametrize()
@FUZZ
def test_every_operation_as_generated(app: FastAPI, case: schemathesis.Case) -> None:
    response = case.call(app=app)
    check_answer(response.status_code, response.headers.get("content-type", [""])[0], response.text,
                 f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}")  # fmt: skip


@schema.include(path_regex="^/admin|^/documents$").parametrize()
@FUZZ
def test_admin_operations_with_the_token(app: FastAPI, case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    response = case.call(app=app)
    check_answer(response.status_code, response.headers.get("content-type", [""])[0], response.text,
                 f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}")  # fmt: skip


# Inputs schemathesis found that crashed the app, kept as explicit requests: (method, path, request kwargs).
ADMIN = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
REGRESSIONS: list[tuple[str, str, dict[str, Any]]] = [
    # An integer above SQLite's largest (2**63 - 1) reached the job store and the catalog: OverflowError, 500.
    ("GET", "/admin/jobs/9223372036854775808", ADMIN),
    ("POST", "/admin/jobs/9223372036854775808/rerun", ADMIN),
    ("GET", "/documents?offset=9223372036854775808", {}),
    ("GET", "/admin/jobs/-9223372036854775809", ADMIN),
    # A server path that cannot be one crashed the ingest-root check: ValueError, RuntimeError, OSError.
    ("POST", "/admin/ingest", {**ADMIN, "json": {"path": "\u0000"}}),
    ("POST", "/admin/ingest", {**ADMIN, "json": {"path": "~nosuchuser/stukken"}}),
    ("POST", "/admin/ingest", {**ADMIN, "json": {"paths": ["a" * 5000]}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), REGRESSIONS)
def test_found_inputs_stay_fixed(app: FastAPI, method: str, path: str, kwargs: dict[str, Any]) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.request(method, path, **kwargs)
    check_answer(
        response.status_code, response.headers.get("content-type", ""), response.text, f"{method} {path}"
    )
