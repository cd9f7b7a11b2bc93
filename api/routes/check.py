"""``POST /check``: one site and its project against every layer and rule pack, as the command line does.

The site comes as JSON (GeoJSON geometry or Feature, or text: WKT, coordinates, GeoJSON) or as an uploaded
file (multipart/form-data), with the options of ``ecozone check``. Text is never taken as a path on the
server: it goes to the text parser, and uploads to a private temporary folder.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model, field_validator
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from api.deps import AppState
from api.routes.audit import CheckFiling, filing_for
from api.errors import ApiProblem
from api.uploads import check_vertices, save_uploads
from gis.check import DEFAULT_BUFFERS_KM, CheckResult, check_site, covered_area, search_radii
from gis.errors import EcozoneError, FieldError, LimitExceededError
from gis.overlap import MAX_SEARCH_KM, OverlapEngine
from gis.report import FORMATS as REPORT_FORMATS
from gis.rules import default_rule_packs
from gis.rules.project import ProjectFacts, fact_specs, read_project
from gis.sites import SUFFIXES, parse
from gis.sites.build import build_sites, combine
from gis.sites.model import RawSite, Site
from gis.sites.text import parse_text, read_geojson
from gis.store import Store

__all__ = ["router", "PATH", "CheckRequest", "CheckUpload", "SITE_EXAMPLES", "answer_directly"]

router = APIRouter(tags=["check"])

#: Where checks are posted; the app answers small ones there before its layers (``answer_directly``).
PATH = "/check"

#: Serialises a result straight to UTF-8 bytes (``model_dump_json`` would decode them to str first).
_RESULT_JSON = TypeAdapter(CheckResult)

Km = Annotated[float, Field(gt=0, le=MAX_SEARCH_KM)]

#: JSON bodies up to this size (a point, a line or a parcel of up to about 100 vertices) are read on the event
#: loop, and checked there too when the site is small (``_is_small``): such a check takes 3–10 ms, less than
#: what handing it to a worker thread and back costs a loaded server (benchmarks/api_bench.py at 300
#: checks/s: p99 27 ms on the loop, 73 ms through a thread). Everything else (larger bodies, uploads, and
#: small texts describing large sites) goes to a worker thread, so that the loop keeps serving while it is
#: read and checked: a 100,000-vertex parcel, or a 98-byte polygon around the whole region, takes seconds.
INLINE_BODY_BYTES = 4096

#: A site checked on the event loop spans at most this many degrees each way (about 5 km): the zones a
#: check meets, hence its cost, grow with the site's extent.
INLINE_SPAN_DEG = 0.05

#: Real inputs, used as OpenAPI examples: a boiler in 石河子 and the same plot as 拐点 coordinates.
SITE_EXAMPLES = {
    "shihezi_boiler_point": {
        "summary": "A 20 t/h coal boiler in 石河子 (point, WGS 84)",
        "value": {"site": {"type": "Point", "coordinates": [86.0413, 44.3056]},
                  "project": {"name": "石河子某热力公司燃煤锅炉", "industry": "热力", "scope": "new",
                              "boiler_tph": 20, "fuel": "coal", "coal_t": 12000}},
    },
    "guaidian_text": {
        "summary": "拐点坐标 pasted as text (CGCS2000 3° Gauss-Krüger zone 29, zone number in front of Y)",
        "value": {"site": "4907670.94,29423324.58\n4907669.37,29423458.93\n4907535.02,29423457.36\n"
                          "4907536.59,29423323.01\n4907670.94,29423324.58",
                  "project": {"industry": "热力", "scope": "new", "boiler_tph": 20, "fuel": "coal"},
                  "as_of": "2024-06-30", "buffers_km": [1, 5, 10], "tolerance_m": 0.5},
    },
    "feature_wkt_gcj02": {
        "summary": "A point copied from Amap (GCJ-02), as WKT",
        "value": {"site": "POINT (86.0466 44.3043)", "datum": "gcj02", "project": {"industry": "水泥"}},
    },
}


class SiteOptions(BaseModel):
    """How to read the site's coordinates (``ecozone check`` --crs, --gk-zone, --datum, --swap-xy, --encoding)."""

    crs: str | None = Field(default=None, description="CRS of the input when it does not say, e.g. EPSG:4517.",
                            examples=["EPSG:4517"])
    gk_zone: int | None = Field(default=None, ge=13, le=45,
                                description="Gauss-Krüger zone for Y values without the zone number in front.")
    datum: Literal["wgs84", "gcj02", "bd09"] = Field(
        default="wgs84", description="gcj02 for Amap/Tencent, bd09 for Baidu coordinates.")
    swap_xy: bool = Field(default=False, description="Swap the two values of every vertex.")
    encoding: str | None = Field(default=None, description="Text encoding of an uploaded file (detected if omitted).",
                                 examples=["gbk"])


class CheckOptions(BaseModel):
    """What the check measures (``ecozone check`` --as-of, --buffers, --tolerance-m)."""

    as_of: dt.date | None = Field(default=None, description="Layers and rules in force on this date (default today).")
    buffers_km: list[Km] = Field(default=list(DEFAULT_BUFFERS_KM), min_length=1, max_length=10,
                                 description="Proximity rings, km.")
    tolerance_m: float = Field(default=0.5, ge=0, le=1000, description="Boundary-contact tolerance, m.")


def _project_schema() -> dict[str, Any]:
    """The JSON schema of a check's ``project``: every fact, as a code, a number or a yes/no, or in Chinese."""
    kinds = {"number": [{"type": "number"}, {"type": "string"}], "bool": [{"type": "boolean"}, {"type": "string"}]}
    properties: dict[str, Any] = {"name": {"type": "string", "maxLength": 500, "description": "Project name."}}
    for spec in fact_specs():
        choices = f" One of {', '.join(spec.choices)}, or in Chinese." if spec.choices else ""
        properties[spec.name] = {"anyOf": [*kinds.get(spec.kind, [{"type": "string"}]), {"type": "null"}],
                                 "description": f"{spec.label_zh}: {spec.description}{choices}"}
    return {"type": "object", "properties": properties, "additionalProperties": False}


class CheckRequest(SiteOptions, CheckOptions):
    """A check as JSON: the site, the project and the options."""

    model_config = ConfigDict(extra="forbid")

    site: str | dict[str, Any] = Field(
        description="GeoJSON geometry, Feature or FeatureCollection (WGS 84 lon/lat unless it has a legacy 'crs'), "
                    "or text: coordinates ('86.0413,44.3056', DMS, 拐点 rows), WKT or GeoJSON.")
    project: Annotated[dict[str, Any], WithJsonSchema(_project_schema())] = Field(
        default_factory=dict, description="What the project is; every fact is optional, in the codes below or as "
                                          "an officer writes it (燃煤, 扩建, 20蒸吨, 是), read as ecozone check reads it.")

    @field_validator("project")
    @classmethod
    def _facts_read(cls, project: dict[str, Any]) -> dict[str, Any]:
        """Facts that cannot be read are the request's error, named ``project.<fact>``; what they say (and what
        was assumed) is read again by ``check_site``, whose notices the result carries."""
        try:
            read_project(project)
        except FieldError as error:
            error.field = f"project.{error.field}" if error.field else "project"
            raise
        return project


def _upload_fields() -> dict[str, Any]:
    inherited = {**SiteOptions.model_fields, **CheckOptions.model_fields}
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in inherited.items()}
    # Project facts as an officer writes them (新建, 20蒸吨, 是 …): read by ``read_project``, as a register's cells.
    fields["name"] = (str | None, Field(default=None, max_length=500, description="Project name."))
    for spec in fact_specs():
        choices = f" One of {', '.join(spec.choices)}, or in Chinese." if spec.choices else ""
        fields[spec.name] = (str | None, Field(default=None, max_length=200,
                                               description=f"{spec.label_zh}: {spec.description}{choices}"))
    fields["buffers_km"] = (str, Field(default="1,5,10", pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
                                       description="Proximity rings, km, comma-separated."))
    fields["file"] = (list[bytes] | None, Field(
        default=None, description="The site file (国土 TXT, .csv, .xlsx, .geojson, .kml, .kmz, .gpkg, or a .shp "
                                  "with its .dbf/.shx/.prj/.cpg as further 'file' parts)."))
    fields["site"] = (str | None, Field(default=None, description="The site as text, instead of a file."))
    return fields


#: The multipart/form-data form of ``POST /check``: project facts and options as fields, the site as a file.
CheckUpload = create_model("CheckUpload", __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
                           **_upload_fields())


#: Arrays a check's JSON may hold beyond one per vertex (buffers_km, a FeatureCollection's own lists ...).
_OTHER_ARRAYS = 10_000


def _bound_positions(body: bytes, max_vertices: int) -> None:
    """Refuse a JSON body with more arrays than a site of ``max_vertices`` has positions (each is one), before
    parsing it: a count of bytes, milliseconds for the largest body the server takes."""
    arrays = body.count(b"[")
    if arrays > max_vertices + _OTHER_ARRAYS:
        raise LimitExceededError(
            f"请求中有 {arrays:,} 个数组，多于 {max_vertices:,} 个顶点的地块所有 / the body holds {arrays:,} arrays, more "
            f"than a site of at most {max_vertices:,} vertices has", field="site", value=arrays,
            fix="简化边界（如在 QGIS 中按 1 米简化）或分成几个地块 / simplify the boundary (e.g. to 1 m in QGIS) or split it "
                "into plots")


def _build(raw: RawSite, options: SiteOptions, max_vertices: int, store: Store):
    check_vertices(raw, max_vertices)
    attributes = dict(raw.attributes)
    sites = build_sites(raw, crs=options.crs, gk_zone=options.gk_zone, datum=options.datum,
                        swap_xy=True if options.swap_xy else None, coverage=covered_area(store))
    return combine(sites, attributes)


def _read(store: Store, request: CheckRequest, max_vertices: int, file: Path | None = None) -> Site:
    """The site of ``request``, or the uploaded ``file`` read with its options; a site far outside the area
    the store's layers cover is refused."""
    try:
        raw = parse(file, encoding=request.encoding) if file else _json_site(request.site)
        return _build(raw, request, max_vertices, store)
    except EcozoneError as error:  # a reader that cannot point into the input names the input itself
        error.field = error.field or ("file" if file else "site")
        raise


def _check(store: Store, request: CheckRequest, site: Site, facts: ProjectFacts | None = None,
           filing: CheckFiling | None = None, file: Path | None = None) -> bytes:
    """Check and serialise: CPU work, run on the event loop for small sites, otherwise in a worker thread.
    ``facts`` are the project's facts when a form gave them (otherwise the request's project); ``filing``
    records the check and makes the report when one is asked for."""
    result = check_site(site, facts or request.project, store=store, as_of=request.as_of,
                        buffers_km=tuple(sorted(request.buffers_km)), tolerance_m=request.tolerance_m)
    filed = filing(result, store, request.site, file) if filing is not None else None
    return filed if filed is not None else _RESULT_JSON.dump_json(result)


def _read_and_check(store: Store, max_vertices: int, request: CheckRequest, file: Path | None,
                    facts: ProjectFacts | None, filing: CheckFiling | None = None) -> bytes:
    return _check(store, request, _read(store, request, max_vertices, file), facts, filing, file)


def _is_small(store: Store, request: CheckRequest, site: Site) -> bool:
    """Known to be cheap to check: its extent bounds the zones it can meet (a point, a parcel of a few km),
    and the engine of its place is built already (building one takes a while: never on the event loop)."""
    minx, miny, maxx, maxy = site.shape.bounds
    if maxx - minx > INLINE_SPAN_DEG or maxy - miny > INLINE_SPAN_DEG:
        return False
    search_km, reach_km = search_radii(default_rule_packs(), tuple(request.buffers_km))
    return OverlapEngine.for_site(store, site.shape, request.as_of, search_km, reach_km, build=False) is not None


async def _run_check(state: AppState, request: CheckRequest, file: Path | None = None, *,
                     small_body: bool = False, facts: ProjectFacts | None = None,
                     filing: CheckFiling | None = None) -> bytes:
    """Read and check the site. A small body is read on the event loop (its size bounds that work) and a
    small site checked there; all other work goes to a worker thread, at most two at a time per process
    (``AppState.checks``)."""
    settings = state.settings
    if not small_body:
        return await anyio.to_thread.run_sync(_read_and_check, state.store, settings.max_vertices, request, file,
                                              facts, filing, limiter=state.checks)
    site = _read(state.store, request, settings.max_vertices)
    if _is_small(state.store, request, site):
        return _check(state.store, request, site, None, filing)
    return await anyio.to_thread.run_sync(_check, state.store, request, site, None, filing, limiter=state.checks)


async def answer_directly(state: AppState, scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """Answer ``POST /check`` with a small JSON body without the framework's layers. Returns None once it
    has answered, otherwise the ``receive`` from which the usual way reads the request.

    Permit systems send checks by the hundred per second: the middleware stack, routing and the request
    handler took about 0.45 ms of the 4.8 ms of server CPU per check at 300 checks/s (benchmarks/README.md).
    Only what those layers would do nothing with comes here: no CORS, no key, no root path, no query (its
    parameters are checked there: one given twice is a 400), a JSON body of known length small enough to check
    on the event loop. A check that fails goes the usual way with the body
    it sent and the error it raised, so that the error is answered as every other error is, without
    checking the site again.
    """
    settings = state.settings
    if (settings.cors_origins or settings.require_read_key or settings.root_path or scope.get("root_path")
            or scope.get("query_string")):
        return receive
    headers = dict(scope["headers"])
    declared = headers.get(b"content-length", b"")
    if (headers.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json"
            or not declared.isdigit() or int(declared) > INLINE_BODY_BYTES):
        return receive
    filing = filing_for(state, Headers(scope=scope))
    if filing is not None and filing.fmt:  # a report takes seconds to draw: never on the event loop
        return receive
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        request = CheckRequest.model_validate_json(body or b"null", strict=True)
        content = await _run_check(state, request, small_body=True, filing=filing)
    except Exception as error:  # noqa: BLE001 - any failure is answered the usual way, as the error it is
        scope.setdefault("state", {})[_FAILED] = error
        return _replay(body, receive)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": content})
    return None


#: Where ``answer_directly`` leaves the error of a check that failed, for the route to raise (in
#: ``Request.state``).
_FAILED = "ecozone_check_error"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving ``body`` (already read) as the whole request, then what ``receive`` gives."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _json_site(site: str | dict[str, Any]) -> RawSite:
    return read_geojson(site, source="geojson") if isinstance(site, dict) else parse_text(site)


def _pick_site_file(paths: list[Path]) -> Path:
    readable = [p for p in paths if p.suffix.lower() in SUFFIXES]
    if not readable:
        raise ApiProblem(400, "上传的文件中没有 ecozone 能读取的地块文件 / none of the uploaded files is a site file "
                         "ecozone reads", field="file", value=", ".join(p.name for p in paths),
                         fix="可用的文件类型 / use one of " + ", ".join(SUFFIXES))
    shapefiles = [p for p in readable if p.suffix.lower() == ".shp"]
    if len(shapefiles) > 1 or (not shapefiles and len(readable) > 1):
        raise ApiProblem(400, "上传了多个地块文件，每次核查只能有一个地块 / several site files were uploaded; send one "
                         "site per check", field="file",
                         value=", ".join(p.name for p in readable),
                         fix="只发送一个文件（.shp 可附带 .dbf、.shx、.prj 和 .cpg） / send one file (a .shp may come "
                             "with its .dbf, .shx, .prj and .cpg)")
    return (shapefiles or readable)[0]


async def _upload(request: Request, state: AppState, filing: CheckFiling | None = None) -> bytes:
    form = await request.form(max_files=10, max_fields=100)
    try:
        values: dict[str, Any] = {key: value for key, value in form.multi_items() if key != "file"}
        files = form.getlist("file")
        upload = CheckUpload.model_validate({**values, "file": None})
        if bool(files) == bool(upload.site):
            raise ApiProblem(400, "地块应以文件或文字给出，且只给其中一种 / give the site either as a file or as text, "
                             "not both and not neither", field="file",
                             fix="表单项 file（文件）或 site（文字），二者选一 / multipart part 'file' (a file) or 'site' "
                                 "(text)")
        options = upload.model_dump(include=set(SiteOptions.model_fields) | set(CheckOptions.model_fields))
        check_request = CheckRequest.model_validate({
            **options, "buffers_km": [float(part) for part in upload.buffers_km.split(",") if part.strip()],
            "site": upload.site or "",
        })
        facts = read_project(upload.model_dump(include={"name", *(spec.name for spec in fact_specs())}))
        if upload.site:
            return await _run_check(state, check_request, facts=facts, filing=filing)
        with tempfile.TemporaryDirectory(prefix="ecozone-check-", dir=state.jobs.scratch) as folder:
            paths = await save_uploads(files, Path(folder))
            return await _run_check(state, check_request, _pick_site_file(paths), facts=facts, filing=filing)
    finally:
        await form.close()


_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}, "examples": SITE_EXAMPLES},
        "multipart/form-data": {
            "schema": {"$ref": "#/components/schemas/CheckUpload"},
            "encoding": {"file": {"contentType": "application/octet-stream"}},
            "examples": {"guaidian_txt_file": {
                "summary": "A 国土 TXT 拐点 file (GBK) for a boiler in 石河子",
                "value": {"file": "(binary: shihezi_boiler.txt)", "industry": "热力", "scope": "new",
                          "boiler_tph": "20", "fuel": "coal", "buffers_km": "1,5,10"},
            }},
        },
    },
}


@router.post(
    PATH,
    operation_id="check_site", name="check_site",
    summary="Check one site against every layer and rule",
    response_model=CheckResult,
    responses={200: {"description": "The check as JSON; the evidence report when Accept asks for it (PDF, Word, "
                                    "HTML)", "content": {media: {} for media in REPORT_FORMATS.values()}},
               400: {"description": "Bad input (problem+json naming the field)"},
               413: {"description": "Upload too large, or too many vertices"},
               415: {"description": "Neither JSON nor multipart/form-data"}},
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def check(request: Request) -> Response:
    """Which zones the site meets, the verdict per rule with its source, and the site as read.

    Send JSON (``CheckRequest``), or ``multipart/form-data`` (``CheckUpload``) with the site file in ``file``
    and the project facts and options as fields.
    """
    # Read here rather than through the StateDep dependency, which cost about 50 µs a request to resolve.
    state: AppState = request.app.state.ecozone
    failed = request.scope.get("state", {}).pop(_FAILED, None)
    if failed is not None:  # already checked by answer_directly
        raise failed
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    filing = filing_for(state, request.headers)  # the audit record, and the report Accept asks for
    if content_type == "application/json":
        body = await request.body()
        small = len(body) <= INLINE_BODY_BYTES
        if small:
            parsed = CheckRequest.model_validate_json(body or b"null", strict=True)
        else:  # megabytes of JSON take seconds to become objects: off the loop, after a count of its arrays
            _bound_positions(body, state.settings.max_vertices)
            parsed = await anyio.to_thread.run_sync(
                functools.partial(CheckRequest.model_validate_json, body, strict=True), limiter=state.checks)
        content = await _run_check(state, parsed, filing=filing, small_body=small and not (filing and filing.fmt))
    elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        content = await _upload(request, state, filing)
    else:
        raise ApiProblem(415, f"不支持的内容类型 '{content_type or 'none'}' / unsupported content type "
                         f"'{content_type or 'none'}'", field="Content-Type",
                         value=content_type, kind="unsupported-media-type",
                         fix="以 application/json 发送，或以 multipart/form-data 发送并把地块文件放在 file 中 / send "
                             "application/json, or multipart/form-data with the site file in 'file'")
    if filing is not None:
        return Response(content, media_type=filing.media_type, headers=filing.headers)
    return Response(content, media_type="application/json")
