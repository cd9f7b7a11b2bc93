"""The layers as vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.pbf`` for the map pages and for QGIS, OGC API - Tiles
under ``/ogc/tiles``, and the popup of a zone clicked on a map page.

A tile is a Mapbox Vector Tile (``maps.tiles``) of the layers in force on ``as_of`` (default today): ``all``
gives one MVT layer per zone kind, a kind name that kind alone. Tiles are made on demand from the store's
spatial index, kept per layer version in a cache bounded in bytes (``ECOZONE_MAP_TILE_CACHE_MB``), and sent
gzipped when the client accepts it. At most two are made at a time, so a burst of tiles at a low zoom does not
hold back the checks.

In QGIS: Layer ▸ Add Layer ▸ Add Vector Tile Layer ▸ New Generic Connection, URL
``http://HOST:PORT/tiles/all/{z}/{x}/{y}.pbf``, zoom 0–20 (see the README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.params import IsoDate, datetime_param
from api.compression import CompressedRoute, not_modified
from api.deps import StateDep
from api.errors import ApiProblem
from api.settings import Settings
from gis.kinds import KINDS
from maps.layers import StoreLayers, map_layers
from maps.style import DRAW_ORDER, style_table
from maps.tiles import MAX_ZOOM, MEDIA_TYPE, TILES, make_tile

__all__ = ["ALL", "TILE_CONFORMANCE", "map_urls", "tiles_router"]

#: The tile layer name holding every kind.
ALL = "all"
WEB_MERCATOR_QUAD = "WebMercatorQuad"
_TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
_CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: OGC API - Tiles conformance classes served (``/ogc/conformance`` lists them).
TILE_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]

AsOf = Annotated[IsoDate | None, Query(description="Layers in force on this date (default today).")]
Zoom = Annotated[int, Path(ge=0, le=MAX_ZOOM, description=f"Zoom level, 0–{MAX_ZOOM}.")]
Index = Annotated[int, Path(ge=0, description="Column (x) or row (y) of the tile, XYZ numbering (row 0 at the "
                                              "top).")]
_SERVER_START = dt.datetime.now(dt.timezone.utc).isoformat()


def map_urls(request: Request, day: dt.date) -> tuple[str, str]:
    """The tile and popup URL templates a map page of ``day`` uses (``{z}/{x}/{y}``; ``{kind}``, ``{zone_id}``,
    ``{lon}``, ``{lat}``, ``{zoom}``)."""
    tile = request.url_for("map_tile", layer=ALL, z="0", x="0", y="0").path
    tile = tile.replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf") + f"?as_of={day.isoformat()}"
    popup = request.url_for("map_popup", kind="K", zone_id="Z").path.replace("/K/Z", "/{kind}/{zone_id}")
    return tile, popup + f"?lon={{lon}}&lat={{lat}}&zoom={{zoom}}&as_of={day.isoformat()}"


def _layer_kinds(layers: StoreLayers, layer: str) -> list[str]:
    """The kinds a tile layer name stands for, among those in force (a tile never reads a whole layer, so it
    does not ask which kinds have zones on the date: those without are empty in it)."""
    if layer == ALL:
        return [kind for kind in DRAW_ORDER if kind in layers.versions]
    if layer not in KINDS:
        raise ApiProblem(404, f"没有瓦片图层 '{layer}' / no tile layer '{layer}'", field="layer", value=layer,
                         kind="not-found", fix=f"使用 '{ALL}' 或以下图层类型之一 / use '{ALL}' or a zone kind: "
                                               + ", ".join(KINDS))
    return [layer] if layer in layers.versions else []


def tiles_router(settings: Settings) -> APIRouter:
    """Tiles, OGC API - Tiles and popups; the tile cache takes the size ``settings`` give it."""
    TILES.resize(settings.map_tile_cache_mb * 1_000_000)
    router = APIRouter(tags=["tiles"], route_class=CompressedRoute)
    limiter: list[anyio.CapacityLimiter] = []

    async def built(make: Callable[[], Any]) -> Any:
        """``make()`` in a worker thread, at most two at a time (tiles are CPU work)."""
        if not limiter:
            limiter.append(anyio.CapacityLimiter(2))
        return await anyio.to_thread.run_sync(make, limiter=limiter[0])

    async def tile_response(request: Request, state, layer: str, z: int, x: int, y: int,
                            day: dt.date) -> Response:
        layers = map_layers(state.store, day)
        kinds = _layer_kinds(layers, layer)
        if x >= 2**z or y >= 2**z:
            raise ApiProblem(404, f"没有瓦片 {z}/{x}/{y}：第 {z} 级的列号和行号为 0–{2**z - 1} / no tile {z}/{x}/{y}: at "
                             f"zoom {z} columns and rows run 0–{2**z - 1}", field="tile", value=f"{z}/{x}/{y}",
                             kind="not-found", fix="使用该级别范围内的瓦片 / use a tile of the zoom")
        versions = [(kind, layers.versions[kind].version) for kind in kinds]
        decided_by = (_SERVER_START, state.store.location, versions, day.isoformat(), layer, z, x, y)
        tag = '"' + hashlib.sha256(repr(decided_by).encode()).hexdigest()[:32] + '"'
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        cached = not_modified(request, tag, headers)
        if cached is not None:
            return cached
        data = await built(lambda: make_tile(layers, kinds, z, x, y, TILES))
        return Response(data, media_type=MEDIA_TYPE, headers=headers)

    @router.get("/tiles/{layer}/{z}/{x}/{y}.pbf", operation_id="map_tile", name="map_tile",
                summary="Vector tile (MVT) of the layers", response_class=Response,
                responses={200: {"content": {MEDIA_TYPE: {}}, "description": "A Mapbox Vector Tile"},
                           404: {"description": "No such layer or tile"}})
    async def tile(request: Request, state: StateDep,
                   layer: Annotated[str, Path(description=f"'{ALL}' (one MVT layer per kind) or a zone kind.",
                                              examples=[ALL, "ecological_redline"])],
                   z: Zoom, x: Index, y: Index, as_of: AsOf = None) -> Response:
        """Zones of the layers in force on ``as_of`` in tile z/x/y (Web Mercator, XYZ), simplified by half a pixel;
        each zone carries zone_id, name, subtype, geometry_source and its look (``style``)."""
        return await tile_response(request, state, layer, z, x, y, as_of or dt.date.today())

    @router.get("/map/popup/{kind}/{zone_id}", operation_id="map_popup", name="map_popup",
                summary="Popup of a zone clicked on a map page, HTML", response_class=HTMLResponse,
                responses={404: {"description": "No such zone there"}})
    async def popup(state: StateDep, kind: str, zone_id: str,
                    lon: Annotated[float, Query(ge=-180, le=180, description="Where it was clicked.")],
                    lat: Annotated[float, Query(ge=-90, le=90)],
                    zoom: Annotated[int, Query(ge=0, le=24, description="Zoom of the map then.")],
                    as_of: AsOf = None) -> HTMLResponse:
        """The popup of a zone (its facts, where they come from), found near where it was clicked through the
        store's spatial index."""
        if kind not in KINDS:
            raise ApiProblem(404, f"没有图层类型 '{kind}' / no zone kind '{kind}'", field="kind", value=kind,
                             kind="not-found", fix="可用的图层类型 / kinds: " + ", ".join(KINDS))
        layers = map_layers(state.store, as_of or dt.date.today())
        reach = 4 * 360 / 256 / 2**zoom  # four pixels, in degrees: more than the tile's simplification
        near = (lon - reach, lat - reach, lon + reach, lat + reach)
        html = await built(lambda: layers.popup(kind, zone_id, near))
        if html is None:
            raise ApiProblem(404, f"在 {lon}, {lat} 附近没有 '{kind}' 的区域 '{zone_id}' / no zone '{zone_id}' of "
                             f"'{kind}' near {lon}, {lat}", field="zone_id", value=zone_id, kind="not-found",
                             fix="在地图上点击该区域 / click on the zone on the map")
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    # -- OGC API - Tiles ------------------------------------------------------------------------------------
    def tileset_link(request: Request) -> dict[str, Any]:
        return {"href": str(request.url_for("ogc_tileset", tileMatrixSetId=WEB_MERCATOR_QUAD)),
                "rel": "self", "type": "application/json", "title": "vector tiles of every layer (Web Mercator)"}

    @router.get("/ogc/tiles", operation_id="ogc_tilesets", name="ogc_tilesets", tags=["OGC API - Features"],
                summary="Vector tilesets of the layers (OGC API - Tiles)")
    def tilesets(request: Request) -> dict[str, Any]:
        """The tilesets offered: one, every layer as Mapbox Vector Tiles in Web Mercator."""
        return {
            "tilesets": [{"title": "ecozone layers (all zone kinds)", "dataType": "vector", "crs": _CRS_3857,
                          "tileMatrixSetURI": _TMS_URI, "links": [tileset_link(request)]}],
            "links": [{"href": str(request.url_for("ogc_tilesets")), "rel": "self", "type": "application/json"}],
        }

    @router.get("/ogc/tiles/{tileMatrixSetId}", operation_id="ogc_tileset", name="ogc_tileset",
                tags=["OGC API - Features"], summary="Tileset description: layers and the tile URL template")
    def tileset(request: Request, state: StateDep, tileMatrixSetId: str) -> dict[str, Any]:  # noqa: N803
        """The tileset: its layers (one per zone kind in force, with the looks its ``style`` property indexes)
        and the URL template of its tiles."""
        if tileMatrixSetId != WEB_MERCATOR_QUAD:
            raise ApiProblem(404, f"没有瓦片矩阵集 '{tileMatrixSetId}' / no tile matrix set '{tileMatrixSetId}'",
                             field="tileMatrixSetId", value=tileMatrixSetId, kind="not-found",
                             fix=f"使用 / use {WEB_MERCATOR_QUAD}")
        layers = map_layers(state.store, dt.datetime.now(dt.timezone.utc).date())
        template = str(request.url_for("ogc_tile", tileMatrixSetId=WEB_MERCATOR_QUAD, tileMatrix="0", tileRow="0",
                                       tileCol="0")).replace("/0/0/0", "/{tileMatrix}/{tileRow}/{tileCol}")
        return {
            "title": "ecozone layers (all zone kinds)",
            "description": "Zones of the layers in force (datetime=YYYY-MM-DD for another date), one MVT layer "
                           "per zone kind, simplified by half a pixel of each zoom. Illustrative (示意) "
                           "geometries have geometry_source = illustrative.",
            "dataType": "vector",
            "crs": _CRS_3857,
            "tileMatrixSetURI": _TMS_URI,
            "links": [
                tileset_link(request),
                {"href": template, "rel": "item", "type": MEDIA_TYPE, "templated": True,
                 "title": "a tile (Mapbox Vector Tile)"},
                {"href": str(request.url_for("map_tile", layer=ALL, z="0", x="0", y="0")).replace(
                    "/0/0/0.pbf", "/{z}/{x}/{y}.pbf"), "rel": "alternate", "type": MEDIA_TYPE, "templated": True,
                 "title": "the same tiles as an XYZ URL (QGIS vector tile connection)"},
            ],
            "layers": [{
                "id": kind, "title": f"{KINDS[kind].label_zh} ({KINDS[kind].label_en})", "dataType": "vector",
                "geometryDimension": 0 if KINDS[kind].geometry == "point" else 2,
                "minTileMatrix": "0", "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {"type": "object", "properties": {
                    "zone_id": {"type": "string"}, "name": {"type": "string"}, "subtype": {"type": "string"},
                    "geometry_source": {"type": "string"}, "status": {"type": "string"},
                    "style": {"type": "integer", "description": "index of the zone's look in 'styles'"}}},
                "styles": style_table(kind),
            } for kind in DRAW_ORDER if kind in layers.versions],
            "boundingBox": {"lowerLeft": [-180, -85.0511287798], "upperRight": [180, 85.0511287798],
                            "crs": _CRS84},
        }

    @router.get("/ogc/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}", operation_id="ogc_tile",
                name="ogc_tile", tags=["OGC API - Features"], summary="A vector tile (OGC API - Tiles)",
                response_class=Response,
                responses={200: {"content": {MEDIA_TYPE: {}}, "description": "A Mapbox Vector Tile"}})
    async def ogc_tile(request: Request, state: StateDep, tileMatrixSetId: str,  # noqa: N803
                       tileMatrix: Zoom, tileRow: Index, tileCol: Index,  # noqa: N803
                       datetime: Annotated[str | None, Query(description="As-of date (RFC 3339); default "
                                                                         "today.")] = None,
                       f: Annotated[str | None, Query(description="mvt (the only one served)")] = None) -> Response:
        """Tile (tileMatrix, tileRow, tileCol) of the tileset: the same bytes as ``/tiles/all/{z}/{x}/{y}.pbf``."""
        if tileMatrixSetId != WEB_MERCATOR_QUAD:
            raise ApiProblem(404, f"没有瓦片矩阵集 '{tileMatrixSetId}' / no tile matrix set '{tileMatrixSetId}'",
                             field="tileMatrixSetId", value=tileMatrixSetId, kind="not-found",
                             fix=f"使用 / use {WEB_MERCATOR_QUAD}")
        if f not in (None, "mvt"):
            raise ApiProblem(400, f"不提供格式 '{f}' / format '{f}' is not served", field="f", value=f,
                             kind="invalid-parameter", fix="使用 f=mvt，或不给 f / use f=mvt, or omit f")
        first, last = datetime_param(datetime)
        if first is None or first != last:
            raise ApiProblem(400, f"瓦片只画一天的图层，datetime 不能是区间 / a tile shows the layers of one day, "
                             f"datetime cannot be an interval (value '{datetime}')", field="datetime", value=datetime,
                             kind="invalid-parameter", fix="例如 / e.g. datetime=2024-06-30")
        return await tile_response(request, state, ALL, tileMatrix, tileCol, tileRow, first)

    return router
