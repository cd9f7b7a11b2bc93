"""The workspace pages: the layers map (一张图) at ``/`` and ``/map``, the officer's check page at ``/map/check``,
批量筛查 at ``/map/screen``, 重新筛查 at ``/map/rescreen``, 图层管理 at ``/map/versions`` and 核查记录 at ``/map/records``.

The pages and their static files are open (``page_router``): a browser cannot send a key when it opens a page;
what the pages then ask of the API carries the key the officer gave in the page's key form (``workspace.js``),
and those routes (``router``) are keyed as the server's settings say.

Everything a page loads comes from here: Leaflet and the page code under ``/static`` (from the installed
``xstatic-leaflet`` package and ``maps/static``), the proximity rings of a checked site from ``POST /map/rings``;
the zones in view come as vector tiles and a zone's popup on a click (``api.routes.tiles``). The check itself
goes to ``POST /check``. No page needs the internet; a tile basemap is drawn only when configured
(``ECOZONE_MAP_BASEMAP_URL`` or ``ECOZONE_MAP_TIANDITU_KEY``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field
from shapely.errors import ShapelyError

from api.compression import gzipped, not_modified
from api.deps import AppState, StateDep
from api.errors import ApiProblem
from api.params import IsoDate
from api.routes import screen
from api.routes.tiles import map_urls
from gis.batch.inputs import FIELD_LABELS
from gis.kinds import KINDS
from gis.overlap import MAX_SEARCH_KM
from gis.rules.model import Verdict
from maps.assets import static_file
from maps.build import batch_map, check_page, layers_map, render
from maps.rings import site_rings
from maps.workspace import Workspace, add_workspace, home_tools, plain_page

if TYPE_CHECKING:
    import folium

__all__ = ["page_router", "router"]

#: Pages and static files: open, as a browser opens a page without headers.
page_router = APIRouter(tags=["pages"])
#: What the pages ask for: keyed when reads need a key.
router = APIRouter(tags=["maps"])


AsOf = Annotated[IsoDate | None, Query(description="Layers in force on this date (default today).")]


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or dt.date.today()


def _static_url(request: Request) -> str:
    return request.url_for("map_static", root="R", name="N").path.removesuffix("/R/N")


#: Part of every page's tag: a restarted server (perhaps a new ecozone, with other page code) builds anew.
_SERVER_START = f"{time.time_ns()}"


async def _page(request: Request, state: AppState, day: dt.date, build: Callable[[], folium.Map]) -> Response:
    """A built page (about 1 MB, 0.25 s of CPU), gzipped when the browser takes it, with an ETag: the layers in
    force, the date, the URL and the basemap decide a page, so a browser that has it gets 304 and nothing is
    built again until an import changes the layers."""
    versions = sorted((kind, v.version) for kind, v in state.store.in_force(day).items())
    decided_by = (_SERVER_START, state.store.location, versions, day, str(request.url), state.settings.basemap())
    tag = '"' + hashlib.sha256(repr(decided_by).encode()).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    cached = not_modified(request, tag, headers)
    if cached is not None:
        return cached
    html = await run_in_threadpool(lambda: render(build()))
    return await gzipped(request, Response(html.encode(), media_type="text/html; charset=utf-8", headers=headers))


#: Route names of the workspace's pages, as ``maps.workspace.NAV`` names them.
_PAGES = {"home": "home_page", "check": "map_check_page", "screen": "map_screen_page",
          "rescreen": "map_rescreen_page", "layers": "map_versions_page", "records": "map_records_page"}
#: Route names of the endpoints the pages' scripts call.
_ENDPOINTS = {"check_site": "check_site", "rings": "map_rings", "places": "places_search",
              "screen_submit": "screen_submit", "screen_preview": "screen_preview", "rescreen_submit": "rescreen",
              "layers_api": "layers_summary",
              "audit": "audit_list"}


def _workspace(request: Request, state: AppState, active: str) -> Workspace:
    """Where the pages and endpoints are (under the application's root path) and whether reads need a key."""
    urls = {name: request.url_for(route).path for name, route in {**_PAGES, **_ENDPOINTS}.items()}
    urls["batch_map"] = request.url_for("map_batch", job_id="JOB").path
    return Workspace(urls=urls, static_url=_static_url(request), key_required=state.settings.require_read_key,
                     active=active)


@page_router.get("/", name="home_page", include_in_schema=False)
@page_router.get("/map", operation_id="map_layers_page", name="map_layers_page", summary="Map of every layer (一张图), HTML",
            response_class=HTMLResponse)
async def layers_page(request: Request, state: StateDep, as_of: AsOf = None) -> Response:
    """Every layer in force, one switchable layer per kind, Chinese legend and popups; works with no internet."""
    day = _day(as_of)
    tile_url, popup_url = map_urls(request, day)
    ws = _workspace(request, state, "home")
    return await _page(request, state, day, lambda: add_workspace(layers_map(
        state.store, day, basemap=state.settings.basemap(), static_url=_static_url(request), tile_url=tile_url,
        popup_url=popup_url), ws, home_tools()))


@page_router.get("/map/check", operation_id="map_check_page", name="map_check_page", summary="Check page: draw or paste a site, HTML",
            response_class=HTMLResponse)
async def check_page_route(request: Request, state: StateDep,
                           as_of: AsOf = None) -> Response:
    """Draw a polygon, paste coordinates or upload a 拐点 file; the page checks it with ``POST /check``."""
    day = _day(as_of)
    tile_url, popup_url = map_urls(request, day)
    ws = _workspace(request, state, "check")
    return await _page(request, state, day, lambda: add_workspace(check_page(
        state.store, day, check_url=request.url_for("check_site").path, rings_url=request.url_for("map_rings").path,
        static_url=_static_url(request), basemap=state.settings.basemap(), tile_url=tile_url, popup_url=popup_url),
        ws))


def _plain(request: Request, state: AppState, active: str, title: str, **config: Any) -> HTMLResponse:
    return HTMLResponse(plain_page(_workspace(request, state, active), title, **config),
                        headers={"Cache-Control": "no-cache"})


@page_router.get("/map/screen", operation_id="map_screen_page", name="map_screen_page",
                 summary="批量筛查: upload a permit list, follow its job, download the results, HTML",
                 response_class=HTMLResponse)
async def screen_page(request: Request, state: StateDep) -> HTMLResponse:
    """Upload a file to ``POST /screen`` after a preview of its columns; the jobs with progress and downloads."""
    return _plain(request, state, "screen", "批量筛查")


@page_router.get("/map/rescreen", operation_id="map_rescreen_page", name="map_rescreen_page",
                 summary="重新筛查: a screened file again as of another date or layer version, the rows whose verdict "
                         "changes, HTML", response_class=HTMLResponse)
async def rescreen_page(request: Request, state: StateDep) -> HTMLResponse:
    """Upload a screened .xlsx or .csv to ``POST /rescreen`` with a date, or a layer version of those ``GET
    /layers`` and ``GET /layers/{kind}/versions`` list (as of the day it comes into force), the batch-wide
    options and the column mapping (列对应: the fields a column can hold, named as the batch page's preview names
    them); the changed rows, the counts per old → new verdict, where the batch-wide facts came from, and the
    change workbook."""
    return _plain(request, state, "rescreen", "重新筛查", kind_labels={kind: spec.label_zh for kind, spec in KINDS.items()},
                  column_fields=FIELD_LABELS)


@page_router.get("/map/versions", operation_id="map_versions_page", name="map_versions_page",
                 summary="图层管理: layer versions, imports, change reports, HTML", response_class=HTMLResponse)
async def versions_page(request: Request, state: StateDep) -> HTMLResponse:
    """The versions of every layer (``GET /layers``), an import with the write key, the change report and share."""
    return _plain(request, state, "layers", "图层管理")


@page_router.get("/map/records", operation_id="map_records_page", name="map_records_page",
                 summary="核查记录: the audit trail, HTML", response_class=HTMLResponse)
async def records_page(request: Request, state: StateDep) -> HTMLResponse:
    """The audit trail (``GET /audit``), filtered by date, officer and site, a page at a time."""
    return _plain(request, state, "records", "核查记录")


class RingsRequest(BaseModel):
    """A site geometry and the ring distances of its check."""

    geometry: dict = Field(description="GeoJSON geometry, WGS 84 lon/lat (the 'site.geometry' of a check).")
    buffers_km: list[Annotated[float, Field(gt=0, le=MAX_SEARCH_KM)]] = Field(min_length=1, max_length=10)


def _rings_site(geometry: dict, max_vertices: int) -> shapely.Geometry:
    """The site geometry of a rings request, refused (400/413 naming the field) unless it is a non-empty
    GeoJSON geometry of finite lon/lat within range and at most ``max_vertices`` vertices."""
    try:
        site = shapely.geometry.shape(geometry)
    except OverflowError:
        raise ApiProblem(400, "坐标数值过大，无法作为数字读取 / a coordinate is too large to be a number",
                         field="geometry.coordinates", fix="以经纬度（度）给出，例如 [86.04, 44.31] / send lon/lat "
                                                           "degrees, e.g. [86.04, 44.31]") from None
    except (ShapelyError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as error:
        raise ApiProblem(400, f"不是有效的 GeoJSON 几何 / not a GeoJSON geometry: {error}", field="geometry",
                         fix="发送核查结果中的 site.geometry / send the 'site.geometry' of a check result") from None
    coordinates = shapely.get_coordinates(site)
    if len(coordinates) > max_vertices:
        raise ApiProblem(413, f"几何有 {len(coordinates):,} 个顶点，只为不超过 {max_vertices:,} 个顶点的地块绘制缓冲圈 / "
                         f"the geometry has {len(coordinates):,} vertices; rings are drawn for sites of at most "
                         f"{max_vertices:,}", field="geometry", value=len(coordinates), kind="content-too-large",
                         fix="发送核查结果中的 site.geometry / send the 'site.geometry' of a check result")
    if site.is_empty:
        raise ApiProblem(400, "几何为空 / the geometry is empty", field="geometry",
                         fix="发送核查结果中的 site.geometry / send the 'site.geometry' of a check result")
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    if not (np.isfinite(coordinates).all() and (np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()):
        raise ApiProblem(400, "坐标应为有限的 WGS 84 经度（-180..180）和纬度（-90..90） / coordinates must be finite "
                         "WGS 84 longitudes (-180..180) and latitudes (-90..90)", field="geometry.coordinates",
                         fix="以经纬度（度）给出，例如 [86.04, 44.31] / send lon/lat degrees, e.g. [86.04, 44.31]")
    return site


@router.post("/map/rings", operation_id="map_rings", name="map_rings", summary="Proximity rings of a site, for display",
             responses={413: {"description": "The geometry has more vertices than a site may have"}})
async def rings(state: StateDep, body: RingsRequest) -> list[dict]:
    """The site buffered by each distance (geodesically true), as the check page draws them."""
    site = _rings_site(body.geometry, state.settings.max_vertices)
    try:
        return await run_in_threadpool(site_rings, shapely.geometry.mapping(site), body.buffers_km)
    except (ShapelyError, ValueError) as error:
        raise ApiProblem(400, f"无法在此几何周围绘制缓冲圈 / no rings can be drawn around this geometry: {error}",
                         field="geometry",
                         fix="发送核查结果中的 site.geometry / send the 'site.geometry' of a check result") from None


@router.get("/map/screen/{job_id}/map", operation_id="map_batch", name="map_batch", response_class=HTMLResponse,
            summary="A finished screening job's sites on the layers, coloured by verdict, HTML",
            responses={404: {"description": "No such job"}, 409: {"description": "Not finished"}})
async def batch_page(request: Request, state: StateDep, job_id: str) -> HTMLResponse:
    """The job's GeoJSON result drawn by ``maps.build.batch_map`` (rows that could not be read are left out)."""
    geojson = Path(screen.result(state, job_id, "geojson").path)
    # the zones as the other map pages get them, tile by tile from the server: carrying them all made the page of
    # a 12-row job 2.6 MB and 10 s of work at every look
    tile_url, popup_url = map_urls(request, _day(None))

    def build() -> str:
        sites = gpd.read_file(geojson)
        sites = sites[sites["结论代码"].isin([v.value for v in Verdict])].rename(columns={"结论代码": "verdict"})
        label = "项目名称" if "项目名称" in sites.columns else None
        return render(batch_map(sites, state.store, label_column=label, static_url=_static_url(request),
                                basemap=state.settings.basemap(), tile_url=tile_url, popup_url=popup_url))

    return HTMLResponse(await run_in_threadpool(build), headers={"Cache-Control": "no-cache"})


@page_router.get("/static/{root}/{name:path}", operation_id="map_static", name="map_static", include_in_schema=False)
async def static(root: str, name: str) -> FileResponse:
    """Leaflet and the page code, from installed packages and the repository."""
    try:
        path = static_file(root, name)
    except FileNotFoundError:
        raise ApiProblem(404, "没有这个静态文件 / no such static file", field="path", value=f"{root}/{name}") from None
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})
