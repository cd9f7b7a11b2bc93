"""The FastAPI application, built by ``create_app(settings)`` from typed settings.

Routers are listed in ``ROUTERS`` (built per app, as some read their limits from the settings); another
part of ecozone adds its pages by adding a router there. ``/`` is left to the map pages. Every route refuses a
query parameter given more than once (``api.params.single_query_values``, a dependency of the application).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.types import Receive, Scope, Send

from api.deps import AppState, require_read
from api.errors import add_exception_handlers, document_problems
from api.features import LayerCache
from api.jobs import JobLimits, JobManager
from api.logs import RequestLog
from api.params import single_query_values
from api.routes import audit, check, layers, ogc, ops, pages, rescreen, screen, tiles, workspace
from api.settings import Settings
from api.uploads import BodySizeLimit, stall_guard
from gis.batch.columnar import use_system_memory_pool
from gis.evidence import ecozone_version
from gis.overlap import set_engine_budget
from gis.rules import default_rule_packs
from gis.store import open_store

__all__ = ["create_app", "ROUTERS"]

log = logging.getLogger("ecozone.api")

DESCRIPTION = """\
ecozone checks project sites against the ecological-zone layers of Xinjiang (生态保护红线, 自然保护区,
饮用水水源保护区, 工业园区, 环境管控单元 …) and explains every verdict with the rule and the document behind it.

- `POST /check`: one site (GeoJSON, WKT, coordinates, or an uploaded 拐点 TXT / table / vector file) and the
  project's facts → the verdict per rule, the zones met, areas and distances, and the site as read.
- `POST /screen`: a permit list (.xlsx/.csv) → a job (202) to poll, cancel, and download as xlsx, csv, geojson.
- `/ogc`: the layers as OGC API - Features (Part 1, and Part 2 for CRS84, EPSG:4326 and CGCS2000 EPSG:4490).
- `POST /rescreen`: a screened file → the rows whose verdict changes as of another date or layer version.
- `/layers`: what is in force; importing a new layer version needs a write key (`X-API-Key`); what changed between
  two versions (`/layers/{kind}/diff`), the share of land per jurisdiction (`/layers/{kind}/stats`), exports.
- `Accept: application/pdf` (or the Word type, or `text/html`) on `POST /check`: the evidence report instead of
  JSON. Every check, batch and import is recorded in the audit trail (`/audit`, which always needs a key).

`GET /health` says whether the store answers (for probes); `/docs` and `/redoc` need no internet.

Errors are `application/problem+json` (RFC 9457) naming the field, the value and the fix: 400 bad input (a query
parameter given twice too, on every route), 401/403 missing or wrong key, 404 unknown resource, 409 conflict
(read-only store, finished job), 413 too large, 415 unsupported content type; each operation lists those it can
answer.
"""

#: Router factories, in mounting order: (factory, needs a read key when the server asks for one).
ROUTERS: list[tuple[Callable[[Settings], APIRouter], bool]] = [
    (lambda settings: check.router, True),
    (lambda settings: screen.router, True),
    (lambda settings: rescreen.router, True),
    (ogc.ogc_router, True),
    (lambda settings: layers.router, True),
    (lambda settings: pages.router, True),
    (lambda settings: pages.page_router, False),  # pages open: their requests carry the key
    (lambda settings: workspace.router, True),
    (lambda settings: audit.router, False),  # always keyed, by its own dependency
    (tiles.tiles_router, True),
    (lambda settings: ops.router, False),  # probes, API docs and the icon: open, they show no layer
]


def _no_null_in_forms(schema: dict[str, Any]) -> None:
    """Query, path and form values are text: they cannot be null, an optional one is left out. Drop the
    ``null`` alternative FastAPI writes for optional values there (a client would send the text "null")."""

    def without_null(value: dict[str, Any]) -> None:
        choices = value.get("anyOf", [])
        if {"type": "null"} in choices:
            choices = [choice for choice in choices if choice != {"type": "null"}]
            if len(choices) == 1:
                del value["anyOf"]
                value.update(choices[0])
            else:
                value["anyOf"] = choices
            if value.get("default", "") is None:
                del value["default"]

    components = schema.get("components", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                parameter = components.get("parameters", {}).get(parameter.get("$ref", "").rsplit("/", 1)[-1], parameter)
                without_null(parameter.get("schema", {}))
            form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data", {}).get("schema", {})
            form = components.get("schemas", {}).get(form.get("$ref", "").rsplit("/", 1)[-1], form)
            for value in form.get("properties", {}).values():
                without_null(value)


def _openapi(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with the schemas of the hand-parsed /check bodies, a ``$ref`` limit, and the
    error answers the server really gives (``document_problems``)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                             tags=app.openapi_tags, servers=app.servers)
        components = schema.setdefault("components", {})
        _, extra = models_json_schema([(check.CheckRequest, "validation"), (check.CheckUpload, "validation")],
                                      ref_template="#/components/schemas/{model}")
        for name, definition in extra["$defs"].items():
            components.setdefault("schemas", {}).setdefault(name, definition)
        # The limit parameter by reference, its schema with the default and maximum served, as the OGC example
        # has them (the route's own default is None: no limit asked). GDAL 3.8+ looks for them there (it still
        # asks its own 1000, clamped); GDAL before 3.8 asks 10 whatever the document says (README: PAGE_SIZE).
        parameters = schema["paths"]["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
        for position, parameter in enumerate(parameters):
            if parameter.get("name") == "limit":
                parameter["schema"].update(default=settings.ogc_limit_default, maximum=settings.ogc_limit_max)
                components.setdefault("parameters", {})["limit"] = parameter
                parameters[position] = {"$ref": "#/components/parameters/limit"}
        _no_null_in_forms(schema)
        document_problems(schema, read_key_required=settings.require_read_key)
        for operations in schema["paths"].values():  # probes and pages need no key
            for operation in operations.values():
                if {"operations", "pages"} & set(operation.get("tags", [])):
                    for status in ("401", "403"):
                        operation["responses"].pop(status, None)
        app.openapi_schema = schema
        return schema

    return build


class _EcozoneAPI(FastAPI):
    """FastAPI, with small JSON checks answered before its layers (``check.answer_directly``), and each request
    logged when JSON logs are asked for (``request_log``, around everything, those checks included)."""

    request_log: RequestLog | None = None
    body_stall_s: float = 60.0  # see ``api.uploads.stall_guard``

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = stall_guard(receive, self.body_stall_s)
        if self.request_log is not None:
            await self.request_log(scope, receive, send)
        else:
            await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":  # RFC 9110: a GET's answer without its body
            scope, send = {**scope, "method": "GET"}, _without_body(send)  # (a probe's HEAD /health, curl -I)
        state = getattr(self.state, "ecozone", None)
        if state is not None and scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == check.PATH:
            receive = await check.answer_directly(state, scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)


def _without_body(send: Send) -> Send:
    """``send`` passing on an answer's status and headers (its Content-Length too) but none of its body."""

    async def head(message: dict) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return head


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application: open the store once, start the job runner, mount the routers."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        set_engine_budget(settings.engine_vertices)
        use_system_memory_pool()
        trail = settings.audit_trail()  # refused here, before serving, when the server could not write to it
        store = open_store(settings.store)
        if settings.store_label:
            store.name = settings.store_label
        # The server's log (not its answers) says which store it serves: the location, never a password.
        log.info("store: %s (%s)", store.location if settings.store else "embedded dataset", store.name)
        limits = JobLimits(attempts=settings.job_max_attempts, seconds=settings.job_max_seconds,
                           memory_bytes=settings.job_max_memory_mb * 2**20)
        jobs = JobManager(settings.jobs_dir, screen.make_work(store, settings.job_workers),
                          keep_days=settings.job_keep_days, limits=limits,
                          finished=audit.batch_recorder(store, trail, settings.jobs_dir))
        # Temporary files of this process (uploads being read, libraries' own) go to its scratch folder, which
        # the next start deletes if this process crashes: nothing is left in the system's temporary folder.
        system_tmp, tempfile.tempdir = tempfile.tempdir, str(jobs.scratch)
        app.state.ecozone = AppState(settings=settings, store=store, layers=LayerCache(store), jobs=jobs, audit=trail)
        default_rule_packs()
        # What is built by now lives as long as the process: keep it out of the collector's full passes, which
        # would otherwise walk all of it each time (about 100 ms on the embedded dataset: a p99 spike).
        gc.collect()
        gc.freeze()
        # What is built later (the engines of the tiles checks meet, tens of thousands of objects on a large
        # layer) would still be walked by every full pass, and the objects each check holds for a moment
        # trigger one every hundred-odd checks: 5-13 ms pauses, six per worker in 5 s at 300 checks/s. Full
        # passes after ten times as many young ones (the default is 10).
        gc.set_threshold(*gc.get_threshold()[:2], 100)
        jobs.start()
        try:
            yield
        finally:
            jobs.stop()
            tempfile.tempdir = system_tmp
            store.close()

    app = _EcozoneAPI(
        title="ecozone API",
        version=ecozone_version(),
        docs_url=None,  # served by api.routes.ops with local assets
        redoc_url=None,
        description=DESCRIPTION,
        lifespan=lifespan,
        root_path=settings.root_path,
        dependencies=[Depends(single_query_values)],  # every route: a query parameter given twice is a 400
        openapi_tags=[
            {"name": "check", "description": "One site against every layer and rule."},
            {"name": "batch screening", "description": "Permit lists screened as background jobs."},
            {"name": "OGC API - Features", "description": "The layers for GIS clients (QGIS, GDAL, OWSLib)."},
            {"name": "layers", "description": "Layer versions; imports need a write key."},
            {"name": "audit", "description": "Who checked, screened and imported what, when; always needs a key."},
            {"name": "operations", "description": "Health of the server for probes; never needs a key."},
            {"name": "pages", "description": "The workspace pages (HTML): open, so that a browser can ask for the "
                                             "key; what they show (tiles, checks, jobs) is asked with it."},
        ],
    )
    add_exception_handlers(app)
    # Reads are keyed only when the settings say so; open reads then skip resolving the key per request.
    keyed = [Depends(require_read)] if settings.require_read_key else []
    for factory, read_keyed in ROUTERS:
        app.include_router(factory(settings), dependencies=keyed if read_keyed else [])
    app.mount("/docs/static", StaticFiles(directory=ops.STATIC), name="docs_static")
    app.openapi = _openapi(app, settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.upload_max_bytes, import_max_bytes=settings.import_max_bytes,
                       write_keys=settings.write_keys)
    app.body_stall_s = settings.body_stall_s
    if settings.cors_origins:
        # what a page of another origin sends (its key, its request id to find the answer in the log, a cached
        # answer's tag) and reads (the CRS of features, a job's location, the request id, the tag)
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Content-Type", "X-Request-ID", "If-None-Match"],
                           expose_headers=["Content-Crs", "Location", "X-Request-ID", "ETag"])
    if settings.log_format == "json":
        app.request_log = RequestLog(app._answer, settings)
    return app
