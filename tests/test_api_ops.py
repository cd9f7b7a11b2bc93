"""Operating the server: ``/docs`` and ``/redoc`` offline in Chromium, ``/health`` on a store that answers and
one that stops answering, ``ecozone --version``, ``ECOZONE_STORE`` read by every command, JSON logs, the icon.

Oracles: the operations of the OpenAPI document (for what the docs pages render), the store's tables read with
sqlite3 / psycopg (for what ``/health`` counts), ``pyproject.toml`` read with tomllib (for the version), a
distinguishing layer version that only the store named by ``ECOZONE_STORE`` holds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import psycopg
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app as cli_app
from tests import maps_harness as harness
from tests.api_support import REPO, free_port, start_server
from tests.sites_support import PLACES

runner = CliRunner()
MARKER = "区分用测试保护区"  # the name of the zone only the ECOZONE_STORE copy holds
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


# --- /docs and /redoc ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    missing = harness.chromium_missing()
    if missing:
        pytest.fail(missing)
    server = start_server(tmp_path_factory, "docs", audit="0")  # a real ecozone serve, as users run it
    yield server.url
    server.stop()


def _operations(url: str) -> list[tuple[str, str]]:
    """(method, path) of every operation, once under each of its tags: as both pages group them."""
    schema = httpx.get(f"{url}/openapi.json", timeout=60).json()
    return [(method.upper(), path) for path, item in schema["paths"].items() for method, operation in item.items()
            if method in HTTP_METHODS for _ in range(max(1, len(operation.get("tags", []))))]


def test_swagger_ui_lists_every_operation_with_the_network_closed(docs_server, artifacts):
    operations = _operations(docs_server)
    with harness.browser() as chromium, harness.page(chromium) as (tab, watch):
        tab.goto(f"{docs_server}/docs")
        tab.wait_for_selector(".opblock", timeout=60_000)
        shown = tab.eval_on_selector_all(
            ".opblock", "blocks => blocks.map(b => [b.querySelector('.opblock-summary-method').textContent.trim(), "
                        "b.querySelector('.opblock-summary-path').getAttribute('data-path')])")
        tab.screenshot(path=str(artifacts / "ops-docs.png"), full_page=False)
        assert sorted(map(tuple, shown)) == sorted(operations)
        assert tab.title().startswith("ecozone API")
    assert not watch.blocked, watch.blocked
    assert not watch.page_errors, watch.page_errors
    assert all(request.startswith(docs_server) for request in watch.requests), watch.requests


def test_redoc_renders_every_operation_with_the_network_closed(docs_server, artifacts):
    operations = _operations(docs_server)
    with harness.browser() as chromium, harness.page(chromium) as (tab, watch):
        tab.goto(f"{docs_server}/redoc")
        tab.wait_for_selector("[data-section-id^='tag/']", timeout=60_000)
        tab.wait_for_function(f"document.querySelectorAll(\"div[data-section-id*='/operation/']\").length >= "
                              f"{len(operations)}", timeout=60_000)
        rendered = tab.eval_on_selector_all("div[data-section-id*='/operation/']", "sections => sections.length")
        tab.screenshot(path=str(artifacts / "ops-redoc.png"), full_page=False)
        assert rendered == len(operations)
    assert not watch.blocked, watch.blocked
    assert not watch.page_errors, watch.page_errors


def test_the_icon_is_an_icon(docs_server):
    from PIL import Image
    import io

    answer = httpx.get(f"{docs_server}/favicon.ico", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(answer.content))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]


# --- /health ------------------------------------------------------------------------------------------------

def test_health_counts_the_embedded_dataset_and_names_the_version(docs_server):
    from data import default_store_path

    answer = httpx.get(f"{docs_server}/health", timeout=60)
    assert answer.status_code == 200
    body = answer.json()
    with sqlite3.connect(f"file:{default_store_path()}?mode=ro", uri=True) as con:
        count = con.execute("SELECT count(*) FROM layer_versions").fetchone()[0]
        kinds = {row[0] for row in con.execute("SELECT DISTINCT kind FROM layer_versions")}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert body["status"] == "ok" and body["version"] == pyproject
    assert body["store"] == {**body["store"], "kind": "embedded", "answers": True, "layer_versions": count}
    assert set(body["store"]["in_force"]) == kinds
    assert str(default_store_path().parent) not in answer.text


@pytest.mark.postgis
def test_health_is_503_when_the_postgis_store_stops_answering(tmp_path_factory, postgres_db):
    from gis.store import init_store

    init_store(postgres_db).close()
    server = start_server(tmp_path_factory, "health-postgis", store=postgres_db)
    try:
        with psycopg.connect(postgres_db) as conn:
            count = conn.execute("SELECT count(*) FROM ecozone.layer_versions").fetchone()[0]
        good = httpx.get(f"{server.url}/health", timeout=60)
        assert good.status_code == 200, good.text
        assert good.json()["store"]["kind"] == "postgis" and good.json()["store"]["layer_versions"] == count
        database = postgres_db.rsplit("/", 1)[1]
        with psycopg.connect(postgres_db, autocommit=True) as conn:  # the database server drops the store's link
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
        bad = httpx.get(f"{server.url}/health", timeout=60)
        assert bad.status_code == 503, bad.text
        body = bad.json()
        assert body["status"] == "unavailable" and body["store"]["answers"] is False
        assert body["store"]["layer_versions"] is None and body["store"]["name"] == database
        host = postgres_db.split("@", 1)[1].split("/", 1)[0]
        assert host not in bad.text and "postgresql://" not in bad.text
    finally:
        server.stop()


# --- ecozone --version ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_version_is_the_package_version(args):
    expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args], capture_output=True,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ecozone {expected}"


# --- ECOZONE_STORE ----------------------------------------------------------------------------------------------

def _commands(group, prefix: tuple[str, ...] = ()):
    """Every command and group under ``group``, by its words on the command line, as click lists them (the
    ``ecozone`` group loads a subcommand when asked for it)."""
    if not hasattr(group, "list_commands"):  # a command, not a group
        return
    context = group.context_class(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield (*prefix, name), command
        yield from _commands(command, (*prefix, name))


def test_every_command_that_takes_a_store_reads_ecozone_store():
    import typer.main

    root = typer.main.get_command(cli_app)
    taking = {" ".join(path): command for path, command in _commands(root)
              if any(param.name == "store" for param in command.params)}
    assert {"check", "screen", "rescreen", "serve", "map", "layers", "layers import", "layers versions",
            "layers verify", "layers diff", "layers stats", "layers export", "report verify",
            "audit replay"} <= set(taking)
    for name, command in taking.items():
        store = next(param for param in command.params if param.name == "store")
        assert store.envvar == "ECOZONE_STORE", name


@pytest.fixture(scope="module")
def marked_store(tmp_path_factory):
    """A writable copy of the embedded dataset whose nature-reserve layer is one square around 石河子."""
    folder = tmp_path_factory.mktemp("marked")
    copy = folder / "marked.gpkg"
    assert runner.invoke(cli_app, ["layers", "init", str(copy)]).exit_code == 0
    lon, lat = PLACES["Shihezi"]
    square = shapely.box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)
    path = folder / "reserve.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": MARKER, "zone_id": "marker-1", "reserve_name": MARKER,
                                           "level": "省级"},
        "geometry": shapely.geometry.mapping(square)}]}), encoding="utf-8")
    imported = runner.invoke(cli_app, ["layers", "import", str(path), "--kind", "nature_reserve", "--store",
                                       str(copy), "--geometry-source", "illustrative", "--subtype", "core"])
    assert imported.exit_code == 0, imported.output
    return copy


def _with_env(store: Path, *args: str, **env: str):
    result = runner.invoke(cli_app, list(args), env={"ECOZONE_STORE": str(store), "ECOZONE_AUDIT": "0", **env})
    assert result.exit_code == 0, (args, result.output)
    assert f"图层库 / store: {store}（ECOZONE_STORE）" in result.stderr  # the command says which store
    return result


def test_commands_use_the_store_named_by_ecozone_store(marked_store, tmp_path):
    lon, lat = PLACES["Shihezi"]
    listing = json.loads(_with_env(marked_store, "layers", "--format", "json").stdout)
    assert {row["kind"]: row["version"] for row in listing["layers"]}["nature_reserve"] == 2
    versions = json.loads(_with_env(marked_store, "layers", "versions", "nature_reserve", "--format", "json").stdout)
    assert [v["version"] for v in versions] == [1, 2]
    _with_env(marked_store, "layers", "verify")

    checked = json.loads(_with_env(marked_store, "check", f"{lon},{lat}", "--format", "json").stdout)
    assert MARKER in json.dumps(checked, ensure_ascii=False)

    exported = tmp_path / "reserves.geojson"
    _with_env(marked_store, "layers", "export", "nature_reserve", "-o", str(exported), "--crs", "EPSG:4326")
    assert [f["properties"]["name"] for f in json.loads(exported.read_text())["features"]] == [MARKER]

    permits = tmp_path / "permits.csv"
    permits.write_text(f"项目名称,经度,纬度\n甲,{lon},{lat}\n", encoding="utf-8")
    screened = tmp_path / "screened.csv"
    _with_env(marked_store, "screen", str(permits), "-o", str(screened), "--workers", "1")
    assert MARKER in screened.read_text(encoding="utf-8-sig")

    _with_env(marked_store, "rescreen", str(screened), "--as-of", "2024-01-01", "--format", "json")

    page = tmp_path / "map.html"
    _with_env(marked_store, "map", "-o", str(page), "--max-zoom", "4", "--bbox", "85.5,44.0,86.5,44.6")
    assert MARKER in page.read_text(encoding="utf-8")

    # A report made on the ECOZONE_STORE copy holds there, and not on the embedded dataset.
    report = tmp_path / "r.html"
    _with_env(marked_store, "check", f"{lon},{lat}", "--report", str(report))
    _with_env(marked_store, "report", "verify", str(report))
    elsewhere = runner.invoke(cli_app, ["report", "verify", str(report)], env={"ECOZONE_STORE": None})
    assert elsewhere.exit_code == 1, elsewhere.output


def test_a_store_option_wins_over_ecozone_store(marked_store, tmp_path):
    other = tmp_path / "other.gpkg"
    assert runner.invoke(cli_app, ["layers", "init", str(other)]).exit_code == 0
    result = runner.invoke(cli_app, ["layers", "--store", str(other), "--format", "json"],
                           env={"ECOZONE_STORE": str(marked_store)})
    assert result.exit_code == 0, result.output
    assert {row["kind"]: row["version"] for row in json.loads(result.stdout)["layers"]}["nature_reserve"] == 1
    assert f"图层库 / store: {other}\n" in result.stderr


# --- JSON logs ------------------------------------------------------------------------------------------------

def test_json_logs_carry_each_request_and_never_a_key_secret(tmp_path):
    port, secret = free_port(), "s3cret-" + os.urandom(6).hex()
    log = tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECOZONE_JOBS_DIR": str(tmp_path / "jobs"), "ECOZONE_AUDIT": "0",
           "ECOZONE_READ_KEYS": f"alice:{secret}", "ECOZONE_REQUIRE_READ_KEY": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--port",
                                    str(port), "--log-format", "json"], env=env, cwd=REPO, stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                httpx.get(f"{url}/health", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.25)
        lon, lat = PLACES["Shihezi"]
        keyed = {"X-API-Key": secret}
        sent = [
            ("GET", "/layers", keyed, None, "mine-1", 200, "alice"),
            ("POST", "/check", keyed, {"site": {"type": "Point", "coordinates": [lon, lat]}}, None, 200, "alice"),
            ("GET", "/layers", {"X-API-Key": "wrong"}, None, None, 403, None),
            ("GET", "/ogc/collections/nope", {}, None, "bad id <x>", 401, None),
        ]
        ids = []
        for method, path, headers, body, request_id, status, _ in sent:
            extra = {"X-Request-ID": request_id} if request_id else {}
            answer = httpx.request(method, f"{url}{path}", headers={**headers, **extra}, json=body, timeout=60)
            assert answer.status_code == status, answer.text
            ids.append(answer.headers["x-request-id"])
        assert ids[0] == "mine-1" and ids[3] != "bad id <x>" and len(set(ids)) == 4
    finally:
        process.terminate()
        process.wait(timeout=30)
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "message"} <= set(record) for record in records)
    requests = {record["request_id"]: record for record in records if record.get("logger") == "ecozone.request"}
    for (method, path, _, _, _, status, key_name), request_id in zip(sent, ids):
        record = requests[request_id]
        assert (record["method"], record["path"], record["status"], record["key_name"]) == (method, path, status,
                                                                                             key_name)
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    assert secret not in log.read_text(encoding="utf-8")
    assert not any(record.get("logger") == "uvicorn.access" for record in records)  # one line per request


def test_text_logs_stay_the_default(tmp_path):
    from api.logs import log_config

    config = log_config("text")
    assert config["formatters"]["default"]["()"] == "uvicorn.logging.DefaultFormatter"
    assert "ecozone.request" not in config["loggers"]


def test_a_page_of_another_origin_may_send_its_request_id_and_read_it_back(tmp_path):
    """CORS (ECOZONE_CORS_ORIGINS): the preflight of a request carrying X-Request-ID and If-None-Match is allowed,
    and the answer exposes the request id and the tag to the page's script."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    origin = "https://permits.example.org"
    app = create_app(Settings(jobs_dir=tmp_path / "jobs", audit=False, cors_origins=[origin]))
    with TestClient(app) as client:
        preflight = client.options("/ogc/collections", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-request-id, if-none-match"})
        assert preflight.status_code == 200, preflight.text
        allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"x-request-id", "if-none-match"} <= allowed
        answer = client.get("/ogc/collections", headers={"Origin": origin, "X-Request-ID": "abc-123"})
        exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
        assert {"x-request-id", "etag"} <= exposed


def test_head_answers_as_get_without_the_body(tmp_path):
    """RFC 9110 asks a general-purpose server for HEAD wherever it serves GET: probes send HEAD /health, and
    curl -I a tile; the status and headers are the GET's, the body none."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(jobs_dir=tmp_path / "jobs", audit=False))) as client:
        for path in ("/health", "/ogc/collections", "/tiles/all/6/46/23.pbf"):
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200 and head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            assert head.headers.get("content-length") == got.headers.get("content-length"), path
        assert client.head("/no/such/page").status_code == 404
