"""The HTTP API over real HTTP: checks equal to ``check_site``, errors as problem+json, keys, OGC semantics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

import httpx
import numpy as np
import pytest
import shapely
from fastapi import Query
from pyproj import Transformer

from api.app import create_app
from api.deps import AppState
from api.routes.check import INLINE_BODY_BYTES, answer_directly
from api.settings import Settings
from gis.check import check_site
from gis.kinds import KINDS
from gis.rules.project import Project
from gis.sites import read_site
from tests.sites_support import PLACES, gk_plot, square, txt_file
from tests.api_support import READ_KEY, WRITE_KEY, api_server, client, start_server  # noqa: F401

AS_OF = "2024-06-30"
BOILER = {"industry": "热力", "scope": "new", "boiler_tph": 20, "fuel": "coal", "coal_t": 12000}
CRS_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CRS_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture(scope="module")
def guaidian(tmp_path_factory):
    """A 国土 TXT 拐点 file (GBK, CGCS2000 3° zone 29 with the zone number in Y) around a 石河子 boiler site."""
    folder = tmp_path_factory.mktemp("txt")
    return txt_file(folder / "石河子锅炉拐点.txt", [gk_plot(square(*PLACES["Shihezi"], 0.001), 4517)],
                    header={"带号": "29"})


def expected(source, store, **project) -> dict:
    result = check_site(read_site(source), Project(**project), store=store, as_of=AS_OF)
    return json.loads(result.model_dump_json())


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("urn:")
    if field is not None:
        assert body["field"] == field, body
    return body


# --- POST /check ---------------------------------------------------------------------------------------
def test_check_geojson_equals_check_site(client, store):
    lon, lat = PLACES["Shihezi"]
    response = client.post("/check", json={"site": {"type": "Point", "coordinates": [lon, lat]},
                                           "project": BOILER, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    want = check_site(read_site(f"{lon},{lat}"), Project(**BOILER), store=store, as_of=AS_OF)
    got = response.json()
    assert got["verdict"] == want.verdict.value
    assert [(h["rule_id"], h["verdict"]) for h in got["rules"]["hits"]] == \
        [(h.rule_id, h.verdict.value) for h in want.rules.hits]
    assert got["overlap"] == json.loads(want.overlap.model_dump_json())


def test_check_feature_and_text_and_wkt_agree(client, store):
    lon, lat = PLACES["Urumqi"]
    bodies = [
        {"site": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}}},
        {"site": f"{lon},{lat}"},
        {"site": f"POINT ({lon} {lat})"},
    ]
    want = expected(f"{lon},{lat}", store, industry="水泥")
    for body in bodies:
        response = client.post("/check", json={**body, "project": {"industry": "水泥"}, "as_of": AS_OF})
        assert response.status_code == 200, response.text
        assert response.json()["verdict"] == want["verdict"]
        assert response.json()["overlap"] == want["overlap"]


def test_small_and_large_sites_give_what_check_site_gives(client, store):
    """Small bodies are checked on the event loop, large ones in a worker thread: the answer is the same."""
    lon, lat = PLACES["Shihezi"]
    for vertices in (8, 400):
        angle = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
        ring = [[round(lon + 0.004 * np.cos(a), 7), round(lat + 0.003 * np.sin(a), 7)] for a in angle]
        site = {"type": "Polygon", "coordinates": [ring + ring[:1]]}
        body = json.dumps({"site": site, "project": BOILER, "as_of": AS_OF}).encode()
        assert (len(body) <= INLINE_BODY_BYTES) == (vertices == 8)
        response = client.post("/check", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        want = expected(json.dumps(site), store, **BOILER)
        assert response.json()["overlap"] == want["overlap"] and response.json()["rules"] == want["rules"]


def _answer_directly(state: AppState, body: bytes, length: bool = True):
    """``answer_directly`` on one request: (what it returns, the messages it sent, the ``receive`` it got)."""
    sent = []
    headers = [(b"content-type", b"application/json")] + [(b"content-length", str(len(body)).encode())] * length

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/check", "headers": headers}
    return asyncio.run(answer_directly(state, scope, receive, send)), sent, receive


def test_small_json_checks_are_answered_directly_as_the_framework_answers_them(client, store):
    """A small JSON check of known length is answered before the framework's layers, with the very bytes the
    framework gives for the same check sent chunked (no length: the usual way). A check that fails, one of
    unknown length, or any check on a server with CORS or read keys is left to the framework, body intact."""
    lon, lat = PLACES["Shihezi"]
    plain = Settings(cors_origins=[], require_read_key=False, root_path="")  # whatever ECOZONE_* says here
    state = AppState(settings=plain, store=store, layers=None, jobs=None)
    for site in ({"type": "Point", "coordinates": [lon, lat]}, f"POINT ({lon} {lat})"):
        body = json.dumps({"site": site, "project": BOILER, "as_of": AS_OF}).encode()
        usual = client.post("/check", content=iter([body]), headers={"Content-Type": "application/json"})
        assert usual.status_code == 200 and "content-length" not in usual.request.headers
        rest, sent, _ = _answer_directly(state, body)
        assert rest is None and [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert sent[0]["status"] == 200 and dict(sent[0]["headers"])[b"content-type"] == b"application/json"
        assert sent[1]["body"] == usual.content
        answered = client.post("/check", content=body, headers={"Content-Type": "application/json"})
        assert answered.content == usual.content and answered.headers["content-type"] == "application/json"
    for bad in (b'{"site": 5}', b"not json", json.dumps({"site": f"{lon},{lat}", "buffers_km": [-1]}).encode()):
        rest, sent, _ = _answer_directly(state, bad)
        assert sent == [] and asyncio.run(rest()) == {"type": "http.request", "body": bad, "more_body": False}
        answered = client.post("/check", content=bad, headers={"Content-Type": "application/json"})
        usual = client.post("/check", content=iter([bad]), headers={"Content-Type": "application/json"})
        assert_problem(answered, 400)
        assert answered.content == usual.content
    body = json.dumps({"site": f"{lon},{lat}"}).encode()
    rest, sent, receive = _answer_directly(state, body, length=False)
    assert rest is receive and sent == []
    for settings in (plain.model_copy(update={"cors_origins": ["https://example.org"]}),
                     plain.model_copy(update={"require_read_key": True, "read_keys": [READ_KEY]}),
                     plain.model_copy(update={"root_path": "/ecozone"})):
        rest, sent, receive = _answer_directly(AppState(settings=settings, store=store, layers=None, jobs=None), body)
        assert rest is receive and sent == []


def test_check_guaidian_upload_equals_check_site(client, store, guaidian):
    with open(guaidian, "rb") as handle:
        response = client.post("/check", files={"file": (guaidian.name, handle, "text/plain")},
                               data={**{k: str(v) for k, v in BOILER.items()}, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    assert response.json() == expected(guaidian, store, **BOILER)


def test_an_upload_with_a_name_past_255_bytes_is_checked(client, store, guaidian):
    """90 Chinese characters (270 bytes in UTF-8) before .txt: the name is cut to what a file system takes, the
    extension kept, and the site checked as under its own name."""
    name = "石河子市某供热锅炉房项目拐点坐标" * 6 + ".txt"
    assert len(name.encode()) > 255
    with open(guaidian, "rb") as handle:
        response = client.post("/check", files={"file": (name, handle, "text/plain")},
                               data={**{k: str(v) for k, v in BOILER.items()}, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    got, want = response.json(), expected(guaidian, store, **BOILER)
    assert got["verdict"] == want["verdict"] and got["site"]["geometry"] == want["site"]["geometry"]


def test_screen_columns_nested_past_the_stack_are_a_400(client):
    nested = "[" * 100_000 + "]" * 100_000
    response = client.post("/screen/preview", files={"file": ("p.csv", "经度,纬度\n86.05,44.3\n".encode())},
                           data={"columns": nested})
    assert_problem(response, 400, "columns")


def _existing_screened(folder, store):
    """A CSV of existing enterprises (no 建设性质) around 昌吉, coal boilers of 6.5 t/h (限期淘汰 as existing works,
    禁止 as new ones), screened with scope existing: a CSV records no batch-wide facts."""
    from gis.batch import screen_file

    rows = "".join(f"锅炉房{i},{87.36 + i * 0.002},{44.03 + i * 0.002},热力,6.5,煤\n" for i in range(8))
    (folder / "现有企业.csv").write_text("单位名称,经度,纬度,行业,锅炉规模,燃料\n" + rows, encoding="utf-8")
    screen_file(folder / "现有企业.csv", folder / "screened.csv", store=store, as_of=AS_OF,
                defaults={"scope": "existing"})
    return (folder / "screened.csv").read_bytes()


def test_rescreen_takes_the_project_fields_of_screen(client, store, tmp_path):
    """POST /rescreen takes the project fields of POST /screen: scope=existing gives no change for the register
    screened with it; scope=new changes every row as a new boiler (禁止); none given is refused naming scope."""
    screened = _existing_screened(tmp_path, store)

    def rescreen(**fields):
        return client.post("/rescreen", files={"file": ("screened.csv", screened)}, data={"as_of": AS_OF, **fields})

    same = rescreen(scope="existing")
    assert same.status_code == 200, same.text
    body = same.json()
    assert body["rows"] == 8 and body["changed"] == 0 and body["old_counts"] == {"phase_out": 8}
    assert body["assumed"] == {"scope": "现有"} and body["assumed_from"] == "given"
    new = rescreen(scope="新建").json()
    assert new["changed"] == 8 and {(c["old_code"], c["new_code"]) for c in new["changes"]} == {
        ("phase_out", "forbidden")}
    assert new["assumed"] == {"scope": "新建"}
    problem = assert_problem(rescreen(), 400, "scope")
    assert "CSV" in problem["detail"] and problem["value"] == "existing"


@pytest.mark.parametrize(("field", "value"), [("fuel", "木头"), ("columns", "[1]"), ("encoding", "no-such-codec"),
                                              ("encoding", "utf\x00-8"), ("crs", "EPSG:999999")])
def test_rescreen_refuses_a_field_of_screen_that_cannot_be_read(client, store, tmp_path, field, value):
    """A project fact, a column mapping, an encoding or a CRS that cannot be read is a 400 naming the field, as
    POST /screen answers it."""
    screened = _existing_screened(tmp_path, store)
    for path in ("/rescreen", "/screen"):
        answer = client.post(path, files={"file": ("screened.csv", screened)},
                             data={"as_of": AS_OF, "scope": "existing", field: value})
        body = assert_problem(answer, 400, field)
        assert "\u4e00" <= body["detail"][0] <= "\u9fff" and " / " in body["detail"]
    if field in ("columns", "encoding", "crs"):  # the preview reads the same three fields
        assert_problem(client.post("/screen/preview", files={"file": ("screened.csv", screened)}, data={field: value}),
                       400, field)


def test_a_form_the_parser_refuses_names_the_body_and_the_fix(client, guaidian):
    files = [("file", (f"a{i}.txt", guaidian.read_bytes())) for i in range(11)]
    body = assert_problem(client.post("/check", files=files), 400, "body")
    assert "Too many files" in body["detail"] and "multipart/form-data" in body["fix"]


def test_a_client_gone_before_its_body_is_no_server_error(api_server):
    """A client that sends half its body and hangs up: logged as such, not as the server's failure."""
    import socket

    with socket.create_connection(("127.0.0.1", api_server.port)) as raw:
        raw.sendall(b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 5000\r\n\r\n{\"site\": \"86")  # past what is answered inline
        time.sleep(0.5)  # the request is being read when the client hangs up
    time.sleep(0.5)
    assert client_ok(api_server)  # the server answers the next request
    log = api_server.log.read_text(errors="replace")
    assert "unexpected error" not in log and "Exception in ASGI application" not in log


def test_a_request_body_that_stalls_is_dropped(tmp_path_factory):
    """Headers and a few bytes, then nothing: past the stall allowed, the server answers and closes the
    connection, so that slow clients cannot hold its connections and file handles."""
    import socket

    server = start_server(tmp_path_factory, "stall", body_stall_s="1")
    try:
        for length in (100, 5000):  # answered inline, and by the route
            with socket.create_connection(("127.0.0.1", server.port)) as raw:
                raw.settimeout(30)
                raw.sendall(b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n{\"site\"" % length)
                started = time.monotonic()
                answer = b""
                while chunk := raw.recv(65536):  # until the server closes
                    answer += chunk
                assert time.monotonic() - started < 20, answer
        assert client_ok(server)
    finally:
        server.stop()


def client_ok(server) -> bool:
    with server.client() as http:
        return http.post("/check", json={"site": "86.05,44.30"}).status_code == 200


def test_check_options_are_those_of_the_cli(client, store):
    lon, lat = PLACES["Shihezi"]
    response = client.post("/check", json={"site": f"{lon},{lat}", "buffers_km": [2, 20], "tolerance_m": 1.5,
                                           "as_of": "2015-01-01"})
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["overlap"]["buffers_km"] == [2.0, 20.0] and got["overlap"]["tolerance_m"] == 1.5
    assert got["as_of"] == "2015-01-01"


def test_check_gcj02_datum_option(client, store):
    response = client.post("/check", json={"site": "86.0466,44.3043", "datum": "gcj02", "as_of": AS_OF})
    assert response.status_code == 200, response.text
    assert response.json()["site"]["datum"] == "gcj02"


# --- bad input: always 4xx problem+json naming the field -------------------------------------------------
@pytest.mark.parametrize(("body", "field"), [
    ({"site": "86.0,44.3", "project": {"boiler_tph": -1}}, "project.boiler_tph"),
    ({"site": "86.0,44.3", "project": {"fuel": "wood"}}, "project.fuel"),
    ({"site": "86.0,44.3", "project": {"name": "厂" * 501}}, "project.name"),  # longer than the schema allows
    ({"site": "86.0,44.3", "project": {"unknown_facts": ["colour"]}}, "project.unknown_facts"),
    ({"site": "86.0,44.3", "buffers_km": [0]}, "buffers_km.0"),
    ({"site": "86.0,44.3", "as_of": "30/06/2024"}, "as_of"),
    ({"site": "86.0,44.3", "colour": "red"}, "colour"),
    ({"project": {}}, "site"),
    ({"site": None}, "site"),  # not site.str: the union's member is no field of the request
])
def test_invalid_json_fields_are_400_naming_the_field(client, body, field):
    problem = assert_problem(client.post("/check", json=body), 400, field)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["detail"]), problem  # Chinese for the officer first


def test_check_reads_project_facts_as_an_officer_writes_them(client):
    """燃煤, 扩建, 20蒸吨 in the JSON body are read as the command line and a register read them: the same verdict and
    rules as the codes, and the notice of a fuel read from several."""
    site = {"site": "86.0413,44.3056", "as_of": AS_OF}
    coded = client.post("/check", json={**site, "project": {"industry": "热力", "fuel": "coal", "scope": "new",
                                                             "boiler_tph": 20}})
    words = client.post("/check", json={**site, "project": {"industry": "热力", "fuel": "燃煤+天然气", "scope": "扩建",
                                                             "boiler_tph": "20蒸吨"}})
    assert coded.status_code == words.status_code == 200, words.text
    assert words.json()["verdict"] == coded.json()["verdict"]
    assert [h["rule_id"] for h in words.json()["rules"]["hits"]] == [h["rule_id"] for h in coded.json()["rules"]["hits"]]
    assert {"fuel_several"} <= {n["code"] for n in words.json()["project_notices"]}


@pytest.mark.parametrize("site", ["", "hello", "POINT (1 2", "200,100", {"type": "Point"}, {"no": "type"},
                                  "/etc/passwd", "../../data/ecozone.gpkg"])
def test_unreadable_sites_are_400(client, site):
    body = assert_problem(client.post("/check", json={"site": site}), 400)
    assert body["fix"] or body["field"]


def test_site_text_is_never_read_as_a_server_path(client):
    body = assert_problem(client.post("/check", json={"site": "/etc/hostname"}), 400)
    assert "not found" not in body["detail"]


def test_malformed_json_is_400(client):
    assert_problem(client.post("/check", content=b"{not json", headers={"content-type": "application/json"}), 400)


def test_unsupported_content_type_is_415(client):
    assert_problem(client.post("/check", content=b"86,44", headers={"content-type": "text/plain"}), 415,
                   "Content-Type")


def test_upload_over_the_size_limit_is_413(client, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"86.0,44.3\n" * 300_000)  # 3 MB > the 2 MiB limit of the test server
    with open(big, "rb") as handle:
        answer = client.post("/check", files={"file": ("big.txt", handle)})
    body = assert_problem(answer, 413, "body")
    assert "bytes" in body["detail"]
    sent = int(answer.request.headers["content-length"])  # the size sent, the limit in the message
    assert body["value"] == sent and f"{sent:,}" in body["detail"] and f"{2 * 1024 * 1024:,}" in body["detail"]
    assert "上限".encode() in answer.content and b"\\u" not in answer.content  # UTF-8, as every other problem


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(40):
            yield b" " * 65536 + b"\n"

    response = client.post("/check", content=chunks(), headers={"content-type": "application/json"})
    body = assert_problem(response, 413, "body")
    received = int(body["value"].removeprefix("more than "))  # cut off before its end: as far as it was read
    assert 2 * 1024 * 1024 < received < 40 * 65537 and f"{2 * 1024 * 1024:,}" in body["detail"]


def test_too_many_vertices_is_413_naming_the_site(client):
    ring = [[86.0 + 0.01 * np.cos(a), 44.3 + 0.01 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 6000)]
    ring[-1] = ring[0]
    body = assert_problem(client.post("/check", json={"site": {"type": "Polygon", "coordinates": [ring]}}), 413,
                          "site")
    assert body["value"] == 6000


@pytest.mark.parametrize(("method", "path", "allowed"), [("POST", "/ogc/collections", "GET"),
                                                     ("DELETE", "/tiles/all/6/46/23.pbf", "GET"),
                                                     ("GET", "/check", "POST")])
def test_a_method_not_served_is_405_with_the_methods_that_are(client, method, path, allowed):
    """RFC 9110: a 405 says in Allow what the resource does serve (the routes of included routers too)."""
    response = client.request(method, path)
    assert response.status_code == 405 and response.headers["allow"] == allowed


def test_a_body_of_more_arrays_than_vertices_allowed_is_refused_before_it_is_parsed(client):
    """Millions of positions took seconds to parse on the event loop, every other request waiting: a body whose
    arrays alone outnumber the vertices allowed (5,000 on this server) is refused from a count of its bytes, which
    counts the ring's arrays and its own two where a parsed site would count its vertices."""
    ring = [[86.0, 44.3]] * 25_000
    body = assert_problem(client.post("/check", json={"site": {"type": "Polygon", "coordinates": [ring]}}), 413,
                          "site")
    assert body["value"] == len(ring) + 2 and "数组" in body["detail"]


def test_upload_form_errors_name_the_field(client, guaidian):
    with open(guaidian, "rb") as handle:
        assert_problem(client.post("/check", files={"file": (guaidian.name, handle)}, data={"boiler_tph": "many"}),
                       400, "boiler_tph")
    assert_problem(client.post("/check", data={"industry": "水泥"}), 400, "file")
    assert_problem(client.post("/check", files={"file": ("site.doc", b"86,44")}), 400, "file")


def test_unknown_paths_are_404_problems(client):
    assert_problem(client.get("/no/such/thing"), 404)
    assert_problem(client.get("/ogc/collections/no_such_kind"), 404, "collectionId")
    assert_problem(client.get("/ogc/collections/nature_reserve/items/no-such-zone"), 404, "featureId")
    assert_problem(client.get("/layers/no_such_kind/versions"), 404, "kind")
    assert_problem(client.get("/screen/0123456789abcdef0123456789abcdef"), 404, "job_id")


# --- what an officer reads: Chinese first, English after " / " -----------------------------------------------
_SITE_TXT = b"86.0413,44.3056\n"
_RING = [[86.0 + 0.01 * np.cos(a), 44.3 + 0.01 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 6000)]
_RING[-1] = _RING[0]
_WRITE = {"X-API-Key": WRITE_KEY}

#: A bad request answered by each problem the API itself words (not the core's), and the status it gets.
CHINESE_FIRST = [
    ("GET", "/ogc/collections?sortby=name", {}, 400),  # an undeclared OGC parameter
    ("GET", "/ogc/collections/nature_reserve/items?crs=EPSG:3857", {}, 400),
    ("GET", "/ogc/collections/nature_reserve/items?bbox=1,2,3", {}, 400),
    ("GET", "/ogc/collections/nature_reserve/items?datetime=yesterday", {}, 400),
    ("GET", "/ogc/collections/nature_reserve/items?limit=1&limit=2", {}, 400),  # a repeated parameter
    ("GET", "/ogc/collections/no_such_kind", {}, 404),
    ("GET", "/ogc/collections/nature_reserve/items/no-such-zone", {}, 404),
    ("GET", "/tiles/no_such_kind/6/46/23.pbf", {}, 404),
    ("GET", "/tiles/all/2/9/1.pbf", {}, 404),
    ("GET", "/map/popup/no_such_kind/z?lon=86&lat=44&zoom=10", {}, 404),
    ("GET", "/map/popup/nature_reserve/no-such-zone?lon=86&lat=44&zoom=10", {}, 404),
    ("GET", "/ogc/tiles/NoSuchMatrixSet", {}, 404),
    ("GET", "/ogc/tiles/NoSuchMatrixSet/6/23/46", {}, 404),
    ("GET", "/ogc/tiles/WebMercatorQuad/6/23/46?f=png", {}, 400),
    ("GET", "/layers/no_such_kind/versions", {}, 404),
    ("GET", "/layers/ecological_redline/diff.pdf?from=1&to=1", {}, 404),
    ("GET", "/layers/ecological_redline/export.pdf", {}, 404),
    ("GET", "/layers?as_of=30/06/2024", {}, 400),  # IsoDate, through the validation answer
    ("POST", "/layers/nature_reserve/versions", {"files": {"file": ("a.txt", b"x")}}, 401),
    ("POST", "/layers/nature_reserve/versions", {"files": {"file": ("a.txt", b"x")}, "headers": {"X-API-Key": "no"}},
     403),
    ("POST", "/layers/nature_reserve/versions", {"files": {"file": ("a.txt", b"x")}, "headers": _WRITE}, 400),
    ("GET", "/screen/0123456789abcdef0123456789abcdef", {}, 404),
    ("POST", "/screen/0123456789abcdef0123456789abcdef/cancel", {}, 404),
    ("POST", "/screen", {"files": {"file": ("permits.doc", b"x")}}, 400),
    ("POST", "/screen", {"files": {"file": ("p.csv", "经度,纬度\n86.05,44.3\n".encode())}, "data": {"columns": "[1]"}},
     400),
    ("POST", "/rescreen", {"files": {"file": ("p.csv", "经度,纬度\n86.05,44.3\n".encode())}}, 400),
    ("POST", "/check", {"content": b"86,44", "headers": {"content-type": "text/plain"}}, 415),
    ("POST", "/check", {"data": {"industry": "水泥"}}, 400),  # neither a file nor a site
    ("POST", "/check", {"files": {"file": ("site.doc", _SITE_TXT)}}, 400),
    ("POST", "/check", {"files": [("file", ("a.txt", _SITE_TXT)), ("file", ("b.txt", _SITE_TXT))]}, 400),
    ("POST", "/check", {"files": {"file": ("...", _SITE_TXT)}}, 400),  # no usable name
    ("POST", "/check", {"data": {"file": "86.04,44.3"}}, 400),  # 'file' as text, not a file
    ("POST", "/check", {"files": [("file", (f"a{i}.txt", _SITE_TXT)) for i in range(11)]}, 400),  # the parser's
    ("POST", "/check", {"json": {"site": {"type": "Polygon", "coordinates": [_RING]}}}, 413),
    ("POST", "/check", {"content": b" " * (2 * 1024 * 1024 + 1), "headers": {"content-type": "application/json"}},
     413),
    ("POST", "/check", {"json": {"site": "86.0,44.3", "as_of": "30/06/2024"}}, 400),
    ("POST", "/map/rings", {"json": {"geometry": {"type": "Nope"}, "buffers_km": [1]}}, 400),
    ("POST", "/map/rings", {"json": {"geometry": {"type": "Polygon", "coordinates": []}, "buffers_km": [1]}}, 400),
    ("POST", "/map/rings", {"json": {"geometry": {"type": "Point", "coordinates": [200, 44]}, "buffers_km": [1]}},
     400),
    ("GET", "/static/no_such_root/x.js", {}, 404),
    ("GET", "/audit", {}, 401),
    ("GET", "/no/such/thing", {}, 404),  # the router's own
    ("POST", "/ogc/collections", {}, 405),
    # the core's errors: their detail and fix are the core's, their title their class's (``EcozoneError.title``)
    ("POST", "/check", {"json": {"site": "87.6 43.8 x"}}, 400),  # FormatError
    ("POST", "/check", {"json": {"site": "POINT(116.4 39.9)"}}, 400),  # CoordinateError: Beijing
    ("POST", "/check", {"json": {"site": "87.6,43.8", "project": {"boiler_th": "20"}}}, 400),  # FieldError
    ("GET", "/layers/ecological_redline/versions/999", {}, 404),  # VersionNotFoundError
]


def _chinese_then_english(text: str) -> bool:
    zh, bar, en = text.partition(" / ")
    return "\u4e00" <= zh[0] <= "\u9fff" and bool(bar) and any(c.isascii() and c.isalpha() for c in en)


@pytest.mark.parametrize(("method", "path", "request_kwargs", "status"), CHINESE_FIRST,
                         ids=[f"{m} {p[:60]} {s}" for m, p, _, s in CHINESE_FIRST])
def test_every_problem_says_it_in_chinese_first(client, method, path, request_kwargs, status):
    """The rule of what officers read: ``中文 / English``, in the detail, the title and the fix."""
    body = assert_problem(client.request(method, path, **request_kwargs), status)
    assert _chinese_then_english(body["detail"]), body
    assert _chinese_then_english(body["title"]), body
    assert body["fix"] is None or _chinese_then_english(body["fix"]), body


def test_the_routers_own_404_and_405_say_what_to_do(client):
    """No route at the path, or not with this method: the answer says where the routes are, or which methods."""
    missing = assert_problem(client.get("/no/such/thing"), 404)
    assert _chinese_then_english(missing["fix"]) and "/docs" in missing["fix"]
    refused = client.delete("/health")
    body = assert_problem(refused, 405)
    assert _chinese_then_english(body["fix"]) and refused.headers["Allow"] in body["fix"]


def test_every_kind_of_core_error_has_a_chinese_title_of_its_own():
    """Each class of ``gis.errors`` says what it is in Chinese itself (not its parent's words), then in English."""
    from gis import errors

    def subclasses(cls):
        return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]

    found = [cls for cls in subclasses(errors.EcozoneError) if cls.__module__ == "gis.errors"]
    assert len(found) >= 15
    for cls in found:
        assert "title_zh" in vars(cls), cls
        assert _chinese_then_english(cls.title()), cls.title()
    assert len({cls.title_zh for cls in found}) == len(found)


# --- keys -----------------------------------------------------------------------------------------------
def test_writes_need_a_write_key(client, tmp_path):
    layer = tmp_path / "reserve.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    files = {"file": ("reserve.geojson", layer.read_bytes(), "application/geo+json")}
    assert_problem(client.post("/layers/nature_reserve/versions", files=files), 401, "X-API-Key")
    assert_problem(client.post("/layers/nature_reserve/versions", files=files, headers={"X-API-Key": "wrong"}), 403,
                   "X-API-Key")
    # With the right key the request reaches the store, which is the read-only embedded dataset.
    response = client.post("/layers/nature_reserve/versions", files=files, headers={"X-API-Key": WRITE_KEY})
    assert response.status_code in (400, 409), response.text


def test_import_with_a_write_key_adds_a_version_served_at_once(tmp_path_factory, tmp_path):
    from gis.store import init_store

    writable = tmp_path / "store.gpkg"
    init_store(writable).close()
    server = start_server(tmp_path_factory, "writable", store=str(writable), write_keys=WRITE_KEY)
    try:
        with server.client() as http:
            before = http.get("/layers/water_body/versions").json()
            lon, lat = PLACES["Shihezi"]
            layer = {"type": "FeatureCollection", "features": [{
                "type": "Feature", "properties": {"name": "测试水库", "zone_id": "test:reservoir", "subtype": "reservoir"},
                "geometry": {"type": "Polygon", "coordinates": [square(lon, lat, 0.01)]}}]}
            response = http.post(
                "/layers/water_body/versions", headers={"X-API-Key": WRITE_KEY},
                files={"file": ("reservoir.geojson", json.dumps(layer).encode(), "application/geo+json")},
                data={"effective_from": "2020-01-01", "note": "API test", "coverage": "all"})
            assert response.status_code == 201, response.text
            version = response.json()
            assert version["version"] == before[-1]["version"] + 1 and version["feature_count"] == 1
            items = http.get("/ogc/collections/water_body/items").json()
            assert [f["id"] for f in items["features"]] == ["test:reservoir"]
            old = http.get("/ogc/collections/water_body/items", params={"datetime": "2019-06-30", "limit": 1000}).json()
            assert old["numberMatched"] == before[-1]["feature_count"]
    finally:
        server.stop()


def test_reads_can_require_a_key(tmp_path_factory):
    server = start_server(tmp_path_factory, "keyed", read_keys=READ_KEY, write_keys=WRITE_KEY,
                          require_read_key="true")
    try:
        with server.client() as http:
            assert_problem(http.get("/ogc/collections"), 401, "X-API-Key")
            assert_problem(http.get("/ogc/collections", headers={"X-API-Key": "nope"}), 403)
            assert http.get("/ogc/collections", headers={"X-API-Key": READ_KEY}).status_code == 200
            assert http.get("/ogc/collections", headers={"X-API-Key": WRITE_KEY}).status_code == 200
            assert_problem(http.post("/check", json={"site": "86.04,44.3"}), 401)
            assert http.get("/openapi.json").status_code == 200  # the description stays readable
    finally:
        server.stop()


# --- OGC API - Features semantics ------------------------------------------------------------------------
def test_landing_conformance_and_collections(client):
    landing = client.get("/ogc").json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert all("type" in link for link in landing["links"])
    conformance = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    collections = client.get("/ogc/collections").json()["collections"]
    assert len(collections) == len(KINDS) and all(c["itemType"] == "feature" for c in collections)
    reserve = next(c for c in collections if c["id"] == "nature_reserve")
    assert reserve["storageCrs"].endswith("CRS84") and CRS_4490 in reserve["crs"]
    assert {"self", "items"} <= {link["rel"] for link in reserve["links"]}


def test_items_paging_clamps_limit_and_links_next(client, store):
    total = len(store.snapshot(kinds=["admin_division"]).zones)
    response = client.get("/ogc/collections/admin_division/items", params={"limit": 100000})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    page = response.json()
    assert page["numberReturned"] == 50 and page["numberMatched"] == total  # clamped to the server's maximum
    seen = [f["id"] for f in page["features"]]
    for _ in range(10):
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        assert following[0]["type"] == "application/geo+json"
        page = client.get(following[0]["href"]).json()
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == len(set(seen)) == total


def test_items_bbox_and_bbox_crs(client, store):
    lon, lat = PLACES["Shihezi"]
    box = (lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2)
    zones = store.snapshot(kinds=["control_unit"]).zones
    want = sorted(zones[zones.intersects(shapely.box(*box))]["zone_id"])
    plain = client.get("/ogc/collections/control_unit/items", params={"bbox": ",".join(map(str, box)), "limit": 50})
    latlon = client.get("/ogc/collections/control_unit/items", params={
        "bbox": ",".join(map(str, (box[1], box[0], box[3], box[2]))), "bbox-crs": CRS_4490, "limit": 50})
    assert sorted(f["id"] for f in plain.json()["features"]) == want
    assert sorted(f["id"] for f in latlon.json()["features"]) == want


@pytest.mark.parametrize("epsg", [4326, 4490])
def test_items_crs_in_authority_axis_order(client, epsg):
    uri = f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"
    default = client.get("/ogc/collections/nature_reserve/items/reserve:ili-black-bee-buffer").json()
    response = client.get("/ogc/collections/nature_reserve/items/reserve:ili-black-bee-buffer", params={"crs": uri})
    assert response.headers["content-crs"] == f"<{uri}>"
    lonlat = np.array(default["geometry"]["coordinates"][0])
    got = np.array(response.json()["geometry"]["coordinates"][0])
    lat, lon = Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}").transform(lonlat[:, 0], lonlat[:, 1])
    assert np.allclose(got, np.column_stack((lat, lon)), atol=1e-7)


def test_items_are_rfc7946(client):
    feature = client.get("/ogc/collections/nature_reserve/items", params={"limit": 1}).json()["features"][0]
    ring = shapely.LinearRing(feature["geometry"]["coordinates"][0])
    assert ring.is_ccw
    props = feature["properties"]
    assert {"zone_id", "name", "name_en", "subtype", "jurisdiction", "source_doc", "source_quote",
            "geometry_source", "valid_from", "valid_to", "reserve_name", "level"} <= set(props)


@pytest.mark.parametrize(("params", "field"), [
    ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "a,b,c,d"}, "bbox"), ({"bbox": "3,2,1,4"}, "bbox"),
    ({"crs": "EPSG:3857"}, "crs"), ({"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857", "bbox": "1,2,3,4"},
                                    "bbox-crs"),
    ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset"), ({"datetime": "2021-01-01/2020-01-01"}, "datetime"),
    ({"datetime": "yesterday"}, "datetime"), ({"datetime": "20240630"}, "datetime"), ({"f": "html"}, "f"),
    ({"sortby": "name"}, "sortby"),
])
def test_invalid_items_parameters_are_400(client, params, field):
    assert_problem(client.get("/ogc/collections/nature_reserve/items", params=params), 400, field)


@pytest.mark.parametrize(("name", "values"), [
    ("bbox", ["85,43,87,45", "80,40,81,41"]), ("limit", ["5", "7"]), ("offset", ["0", "2"]),
    ("datetime", ["2024-06-30", "2000-01-01"]), ("crs", [CRS_4326, CRS_4326]),
])
def test_a_parameter_given_twice_is_400_naming_it(client, name, values):
    query = "&".join(f"{name}={value}" for value in values)
    body = assert_problem(client.get(f"/ogc/collections/nature_reserve/items?{query}"), 400, name)
    zh, _, en = body["detail"].partition(" / ")
    assert name in zh and "一次" in zh and name in en and "once" in en
    if name in ("crs", "datetime"):  # one feature takes these too
        one = client.get(f"/ogc/collections/nature_reserve/items/reserve:ili-black-bee-buffer?{query}")
        assert_problem(one, 400, name)


#: A request of every router, a query parameter of it (one of its own where it has any) and two values for it.
REPEATED = [
    ("POST", "/check", "as_of", [AS_OF, "2000-01-01"]),  # check (answered directly when it has no query)
    ("GET", "/screen/0123456789abcdef0123456789abcdef", "fmt", ["csv", "xlsx"]),  # screen
    ("POST", "/rescreen", "as_of", [AS_OF, "2000-01-01"]),  # rescreen
    ("GET", "/ogc", "f", ["json", "json"]),  # OGC API - Features
    ("GET", "/ogc/collections/nature_reserve/items", "limit", ["5", "7"]),
    ("GET", "/layers", "as_of", [AS_OF, "2000-01-01"]),  # layers
    ("GET", "/layers/ecological_redline/export.geojson", "crs", ["EPSG:4326", "EPSG:4490"]),
    ("GET", "/map", "as_of", [AS_OF, AS_OF]),  # pages
    ("GET", "/map/check", "as_of", [AS_OF, "2000-01-01"]),
    ("GET", "/places", "q", ["石河子", "奎屯"]),  # workspace
    ("GET", "/audit", "limit", ["1", "2"]),  # audit
    ("GET", "/tiles/all/6/46/23.pbf", "as_of", [AS_OF, "2000-01-01"]),  # tiles
    ("GET", "/ogc/tiles/WebMercatorQuad/6/23/46", "datetime", [AS_OF, AS_OF]),
    ("GET", "/health", "verbose", ["1", "1"]),  # operations
]


def _repeated(client, method: str, path: str, name: str, values: list[str]):
    query = "&".join(f"{name}={value}" for value in values)
    body = {"json": {"site": "86.05,44.30"}} if path == "/check" else {}
    return client.request(method, f"{path}?{query}", headers={"X-API-Key": WRITE_KEY}, **body)


@pytest.mark.parametrize(("method", "path", "name", "values"), REPEATED)
def test_a_query_parameter_given_twice_is_400_on_every_route(client, method, path, name, values):
    """Starlette would take the last value: every route refuses the request, naming the parameter and its values."""
    body = assert_problem(_repeated(client, method, path, name, values), 400, name)
    assert body["type"] == "urn:ecozone:problem:invalid-parameter" and body["value"] == repr(values)
    zh, _, en = body["detail"].partition(" / ")
    assert "\u4e00" <= zh[0] <= "\u9fff" and name in zh and "once" in en and name in body["fix"]
    once = _repeated(client, method, path, name, values[:1])
    assert not (once.status_code == 400 and once.json()["field"] == name), once.text


def test_repeated_values_are_echoed_cut_short(client):
    values = ["石" * 60, "河" * 60]
    body = assert_problem(client.get("/places?" + "&".join(f"q={value}" for value in values)), 400, "q")
    assert body["value"] == repr(values)[:80] + "…"


def test_a_query_parameter_declared_as_a_list_may_repeat():
    """A route that takes several values of a parameter (list[...]) gets them all; the others stay single."""
    app = create_app(Settings())

    @app.get("/repeatable")
    def repeatable(k: Annotated[list[str] | None, Query()] = None, n: int = 0) -> dict:
        return {"k": k, "n": n}

    async def ask(*paths: str) -> list[httpx.Response]:  # in process, no lifespan: the route needs no store
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            return [await http.get(path) for path in paths]

    listed, repeated = asyncio.run(ask("/repeatable?k=1&k=2&n=3", "/repeatable?k=1&n=3&n=4"))
    assert listed.json() == {"k": ["1", "2"], "n": 3}
    assert_problem(repeated, 400, "n")


@pytest.mark.parametrize("path", ["/ogc/collections/nature_reserve/items/{id}", "/ogc/collections/{id}",
                                  "/ogc/collections/{id}/items"])
def test_a_long_id_is_echoed_cut_short(client, path):
    long_id = "zone-" + "x" * 5000
    body = assert_problem(client.get(path.format(id=long_id)), 404)
    shown = long_id[:80] + "…"
    assert shown in body["detail"] and long_id[:81] not in body["detail"]
    assert body["value"] == shown and long_id[:81] not in json.dumps(body)


def test_datetime_selects_what_was_in_force(client):
    before = client.get("/ogc/collections/nature_reserve/items", params={"datetime": "2000-01-01"}).json()
    assert before["numberMatched"] == 0
    now = client.get("/ogc/collections/nature_reserve/items", params={"datetime": "2024-06-30T12:00:00Z"}).json()
    assert now["numberMatched"] > 0


def test_openapi_is_complete_with_real_examples(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/check", "/screen", "/screen/{job_id}", "/screen/{job_id}/cancel", "/screen/{job_id}/result.{fmt}",
                 "/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/{collectionId}",
                 "/ogc/collections/{collectionId}/items", "/ogc/collections/{collectionId}/items/{featureId}",
                 "/layers", "/layers/{kind}/versions"):
        assert path in paths, path
    body = paths["/check"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert "石河子" in json.dumps(body, ensure_ascii=False) and "拐点" in json.dumps(body, ensure_ascii=False)
    assert {"CheckRequest", "CheckUpload", "CheckResult"} <= set(schema["components"]["schemas"])
    limit = schema["components"]["parameters"]["limit"]
    assert limit["schema"]["maximum"] == 50
