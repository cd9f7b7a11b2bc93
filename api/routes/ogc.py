"""The zone layers as OGC API - Features (Part 1 Core, GeoJSON, OpenAPI 3; Part 2 CRS), mounted at ``/ogc``.

One collection per zone kind. What GDAL's OAPIF driver and OWSLib need is kept: JSON is the default
representation, ``itemType`` is ``feature``, every link is typed, ``limit`` is clamped to the maximum
(never refused), a ``next`` link is given while features remain, ``crs``/``bbox-crs`` are accepted, and a
bad parameter is a 400 naming it (an undeclared one too, as the standard asks), Chinese first.

``datetime`` selects what was in force: one date (or date-time) gives the layer version in force on that
day and, of its features, those valid that day, exactly the zones a check with that as-of date uses. An
interval (``2024-01-01/2024-06-30``, open with ``..`` or nothing) gives the features in force some day of it,
ends included: of the versions in force in it, the features valid while their version was (of a zone in force
in several, the latest). A parameter given twice is a 400, as on every route (``api.params.single_query_values``):
which one was meant is not known.

A page's next and prev links carry ``version`` (the layer versions it used) and its day: following them pages one
version even when another comes into force mid-harvest (a client saw 10,000 old and 2,500 new features mixed).
"""

# No "from __future__ import annotations": the items route annotates with a local alias (Limit) FastAPI must resolve.

import datetime as dt
import json
import math
from typing import Annotated, Any, Literal

import anyio
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.compression import CompressedRoute
from api.deps import AppState, StateDep
from api.errors import ApiProblem
from api.features import CRS84, CRS_URIS, Layer, geometry_json, to_crs84_bbox
from api.params import datetime_param
from api.routes.tiles import TILE_CONFORMANCE
from api.settings import Settings
from gis.kinds import KINDS
from gis.store import LayerVersion, Store

__all__ = ["ogc_router", "CONFORMANCE", "GEOJSON", "OPENAPI_JSON"]

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *TILE_CONFORMANCE,
]

#: Query parameters the items endpoints declare; anything else is a 400 (OGC /req/core/query-param-unknown).
_ITEMS_PARAMS = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "version"}
_ITEM_PARAMS = {"f", "crs", "datetime"}
_META_PARAMS = {"f"}
_TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

CollectionId = Annotated[str, Path(description="A zone kind: " + ", ".join(KINDS), examples=["nature_reserve"])]
Fmt = Annotated[Literal["json", "geojson", "application/json", "application/geo+json"] | None,
                Query(description="Representation: JSON (GeoJSON for features), the only one served and the default.")]
Crs = Annotated[str | None, Query(description="CRS of the returned geometries (Part 2): " + ", ".join(CRS_URIS)
                                  + ". EPSG:4326 and EPSG:4490 (CGCS2000) are in their authority axis order "
                                  "(latitude, longitude). Default CRS84 (longitude, latitude).")]
DateTime = Annotated[str | None, Query(
    description="As-of date (RFC 3339 date or date-time): the layer version in force that day and its features "
                "valid that day; or an interval (start/end, '..' or nothing for an open end): the features in "
                "force some day of it, ends included. Default today.",
    examples=["2024-06-30", "2024-01-01/2024-06-30", "../2024-06-30"])]


def _allowed(names: set[str]):
    """A dependency refusing a query parameter the route does not declare (a repeated one is refused app-wide)."""

    def check(request: Request, f: Fmt = None) -> None:  # f: declared here so that FastAPI checks it on every route
        for name in request.query_params:
            if name not in names:
                raise ApiProblem(400, f"此处不接受查询参数 {name} / unknown query parameter '{name}'", field=name,
                                 value=request.query_params[name], fix="此处可用的参数 / allowed here: " + ", ".join(sorted(names)),
                                 kind="invalid-parameter")
    return Depends(check)


def _crs(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    uri = value.strip().strip("[]")
    if uri not in CRS_URIS:
        raise ApiProblem(400, f"不提供坐标参考系 '{value}' / CRS '{value}' is not served", field=field, value=value,
                         kind="invalid-parameter", fix="可用的坐标参考系 / use one of " + ", ".join(CRS_URIS))
    return CRS_URIS[uri]


def _bbox(value: str | None, epsg: int | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 6:  # minx, miny, minz, maxx, maxy, maxz
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    # Lon/lat in CRS84, lat/lon in the EPSG CRSs' authority order: each number within its axis's range.
    ranges = [(180, 90, 180, 90), (90, 180, 90, 180)][epsg is not None]
    if (len(numbers) != 4 or not all(math.isfinite(n) and abs(n) <= r for n, r in zip(numbers, ranges))
            or numbers[0] > numbers[2] or numbers[1] > numbers[3]):
        raise ApiProblem(400, "参数 bbox 应为 4 个（或 6 个）以逗号分隔的度数，先写左下角 / bbox must be 4 (or 6) "
                         "comma-separated numbers in degrees, lower corner first", field="bbox", value=value,
                         kind="invalid-parameter", fix="例如 bbox=85.9,44.2,86.2,44.4（经度,纬度；bbox-crs 为 EPSG:4326 或 "
                         "4490 时为纬度,经度） / e.g. bbox=85.9,44.2,86.2,44.4 (lon/lat; lat/lon with bbox-crs EPSG:4326 "
                         "or 4490)")
    return to_crs84_bbox(tuple(numbers), epsg)


def _pin(value: str, store: Store, kind: str) -> list[LayerVersion]:
    """The layer versions a ``version`` parameter names (a number, or numbers joined by commas); a 400 naming
    the value and the versions there are if one is not a version of the layer."""
    by_number = {v.version: v for v in store.versions(kind)}
    parts = value.split(",")
    numbers = [int(part) for part in parts if part.strip().isdigit()]
    if len(numbers) != len(parts) or not numbers or len(set(numbers)) != len(numbers) or not set(numbers) <= set(by_number):
        raise ApiProblem(400, f"参数 version 的取值 '{value}' 不是图层 {kind} 的版本号 / version '{value}' does not name "
                         f"versions of layer '{kind}'", field="version", value=value, kind="invalid-parameter",
                         fix="版本号，多个以逗号分隔；现有版本 / version numbers, comma-separated; versions: "
                         + (", ".join(str(n) for n in sorted(by_number)) or "无 / none"))
    return [by_number[n] for n in numbers]


def _known(kind: str) -> None:
    if kind not in KINDS:
        raise ApiProblem(404, f"没有图层集合 '{kind}' / no collection '{kind}'", field="collectionId", value=kind,
                         kind="not-found", fix="可用的集合 / collections: " + ", ".join(KINDS))


def _link(href: Any, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": str(href), "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _features_response(body: dict[str, Any], epsg: int | None) -> Response:
    uri = next(uri for uri, code in CRS_URIS.items() if code == epsg)
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type=GEOJSON,
                    headers={"Content-Crs": f"<{uri}>"})


#: Coordinates a page of features holds at most (some 7 MB of GeoJSON): past them a page ends early, its next link
#: going on from there, as OGC API - Features allows. A page of 1,000 county outlines was 14 MB, held in memory
#: for as long as its client took to read it.
PAGE_MAX_COORDINATES = 200_000


def _features(layer: Layer, positions: np.ndarray, epsg: int | None) -> list[dict[str, Any]]:
    """GeoJSON features of the layer's features at ``positions`` (only those are read from the store), as many as
    ``PAGE_MAX_COORDINATES`` allows, the first always."""
    ids, properties, geometries = layer.page(positions)
    held = np.cumsum(shapely.get_num_coordinates(geometries))
    kept = max(1, int(np.searchsorted(held, PAGE_MAX_COORDINATES, side="right")))
    return [{"type": "Feature", "id": zone_id, "geometry": geometry, "properties": props}
            for zone_id, props, geometry in zip(ids[:kept], properties[:kept], geometry_json(geometries[:kept], epsg))]


def _describe(request: Request, state: AppState, kind: str) -> dict[str, Any]:
    spec = KINDS[kind]
    today = dt.datetime.now(dt.timezone.utc).date()
    layer = state.layers.get(kind, today, today)
    version = layer.version
    if version is None:
        held = "No version of this layer is in force yet."
    else:
        held = (f"Version {version.version}, in force from {version.effective_from}, {len(layer.ids)} features "
                f"(source: {version.source}).")
    illustrative = layer.illustrative
    if illustrative:
        held += f" {illustrative} geometries are illustrative (示意, geometry_source = illustrative)."
    items = request.url_for("ogc_items", collectionId=kind)
    collection: dict[str, Any] = {
        "id": kind,
        "title": f"{spec.label_zh} ({spec.label_en})",
        "description": " ".join(part for part in (spec.description, held) if part),
        "itemType": "feature",
        "crs": list(CRS_URIS),
        "storageCrs": CRS84,
        "links": [
            _link(request.url_for("ogc_collection", collectionId=kind), "self", JSON, "this collection"),
            _link(items, "items", GEOJSON, "the features (GeoJSON)"),
        ],
    }
    if layer.bbox is not None:
        # items answer ``datetime`` over every version: the time the collection covers starts with the first
        first = min(v.effective_from for v in state.store.versions(kind))
        collection["extent"] = {
            "spatial": {"bbox": [layer.bbox], "crs": CRS84},
            "temporal": {"interval": [[f"{first}T00:00:00Z", None]], "trs": _TRS},
        }
    return collection


def ogc_router(settings: Settings) -> APIRouter:
    """The OGC API - Features router; the page-size limits come from ``settings``."""
    router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], route_class=CompressedRoute)
    maximum, default = settings.ogc_limit_max, settings.ogc_limit_default
    Limit = Annotated[int | None, Query(
        ge=1, description=f"Features per page, default {default}; values above {maximum} are served as {maximum} "
                          f"(clamped, not refused).", json_schema_extra={"maximum": maximum, "default": default})]

    @router.get("", operation_id="ogc_landing", name="ogc_landing", summary="Landing page", dependencies=[_allowed(_META_PARAMS)])
    def landing(request: Request) -> dict[str, Any]:
        """The API's entry point: links to its description, conformance and collections."""
        return {
            "title": "ecozone: ecological zones of Xinjiang (新疆生态环境分区)",
            "description": "Ecological protection red lines, reserves, drinking-water zones, industrial parks, "
                           "control units and the other zone layers ecozone checks sites against, one collection "
                           "per zone kind, as OGC API - Features.",
            "links": [
                _link(request.url_for("ogc_landing"), "self", JSON, "this document"),
                _link(request.url_for("openapi"), "service-desc", OPENAPI_JSON, "the API definition"),
                _link(request.url_for("swagger_ui_html"), "service-doc", "text/html", "the API documentation"),
                _link(request.url_for("ogc_conformance"), "conformance", JSON, "conformance classes"),
                _link(request.url_for("ogc_collections"), "data", JSON, "the collections"),
                _link(request.url_for("ogc_tilesets"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                      JSON, "the layers as vector tiles"),
            ],
        }

    @router.get("/conformance", operation_id="ogc_conformance", name="ogc_conformance", summary="Conformance classes",
                dependencies=[_allowed(_META_PARAMS)])
    def conformance() -> dict[str, list[str]]:
        """The OGC conformance classes this API implements."""
        return {"conformsTo": CONFORMANCE}

    @router.get("/collections", operation_id="ogc_collections", name="ogc_collections", summary="The collections (one per zone kind)",
                dependencies=[_allowed(_META_PARAMS)])
    def collections(request: Request, state: StateDep) -> dict[str, Any]:
        """Every zone kind as a collection, with its extent, CRSs and links."""
        return {
            "collections": [_describe(request, state, kind) for kind in KINDS],
            "crs": list(CRS_URIS),
            "links": [_link(request.url_for("ogc_collections"), "self", JSON, "this document")],
        }

    @router.get("/collections/{collectionId}", operation_id="ogc_collection", name="ogc_collection", summary="One collection",
                dependencies=[_allowed(_META_PARAMS)], responses={404: {"description": "No such collection"}})
    def collection(request: Request, state: StateDep, collectionId: CollectionId) -> dict[str, Any]:  # noqa: N803
        """One zone kind: extent, CRSs, the version in force and links."""
        _known(collectionId)
        return _describe(request, state, collectionId)

    @router.get("/collections/{collectionId}/items", operation_id="ogc_items", name="ogc_items", summary="Features of a collection",
                dependencies=[_allowed(_ITEMS_PARAMS)], response_class=Response,
                responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection"},
                           400: {"description": "Invalid parameter"}, 404: {"description": "No such collection"}})
    async def items(
        request: Request,
        state: StateDep,
        collectionId: CollectionId,  # noqa: N803
        limit: Limit = None,
        offset: Annotated[int, Query(ge=0, description="Features to skip (the next links use it).")] = 0,
        bbox: Annotated[str | None, Query(
            description="minx,miny,maxx,maxy (or 6 numbers with heights): features intersecting the box. "
                        "CRS84 unless bbox-crs says otherwise.", examples=["85.9,44.2,86.2,44.4"])] = None,
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox: "
                                              + ", ".join(CRS_URIS))] = None,
        crs: Crs = None,
        datetime: DateTime = None,
        version: Annotated[str | None, Query(
            description="The layer version(s) to page, by number (several joined by commas, for a datetime "
                        "interval): the next and prev links carry the versions the first page used (and its day as "
                        "datetime), so that following them pages one version even when a new one comes into "
                        "force mid-harvest. Given by hand: those versions' features valid on the datetime (default "
                        "today), as if they were in force. Default: the version(s) in force.",
            examples=["3", "2,3"])] = None,
    ) -> Response:
        """A page of features as GeoJSON, with numberMatched, numberReturned and next/prev links pinned to the
        layer versions (and day) this page used."""
        _known(collectionId)
        epsg = _crs(crs, "crs")
        box = _bbox(bbox, _crs(bbox_crs, "bbox-crs"))
        days = datetime_param(datetime)
        # pages are made two at a time in threads of their own: many clients asking for large pages at once (GDAL
        # asks for 1,000 features) wait their turn instead of filling the pool every other route uses
        return await anyio.to_thread.run_sync(
            _page, request, state, collectionId, days, version, box, epsg, offset,
            min(max(limit if limit is not None else default, 1), maximum), limiter=state.pages)

    def _page(request: Request, state: AppState, collectionId: str, days: tuple[dt.date | None, dt.date | None],  # noqa: N803
              version: str | None, box, epsg: int | None, offset: int, size: int) -> Response:
        # the store's versions are read only for a pinned page (a harvest's next link), off the event loop
        pinned = None if version is None else _pin(version, state.store, collectionId)
        layer = state.layers.get(collectionId, *days, pinned)
        matched = layer.select(box)
        page = matched[offset: offset + size]
        features = _features(layer, page, epsg)
        # A harvest that follows next pages what this page answered: the versions it used, and its day (a harvest
        # over midnight UTC would otherwise move on to the next day's validity).
        pin: dict[str, Any] = {"version": ",".join(str(v.version) for v in layer.versions)} if layer.versions else {}
        if "datetime" not in request.query_params and days[0] is not None:
            pin["datetime"] = days[0].isoformat()
        links = [_link(request.url, "self", GEOJSON, "this page"),
                 _link(request.url_for("ogc_collection", collectionId=collectionId), "collection", JSON)]
        if offset + len(features) < len(matched):  # a page cut short by its coordinates goes on where it ended
            links.append(_link(request.url.include_query_params(offset=offset + len(features), limit=size, **pin),
                               "next", GEOJSON, "next page"))
        if offset > 0:
            links.append(_link(request.url.include_query_params(offset=max(offset - size, 0), limit=size, **pin),
                               "prev", GEOJSON, "previous page"))
        body = {"type": "FeatureCollection", "features": features, "numberMatched": int(len(matched)),
                "numberReturned": len(features),
                "timeStamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "links": links}
        return _features_response(body, epsg)

    @router.get("/collections/{collectionId}/items/{featureId}", operation_id="ogc_item", name="ogc_item", summary="One feature",
                dependencies=[_allowed(_ITEM_PARAMS)], response_class=Response,
                responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON Feature"},
                           404: {"description": "No such collection or feature"}})
    def item(
        request: Request,
        state: StateDep,
        collectionId: CollectionId,  # noqa: N803
        featureId: Annotated[str, Path(description="The zone id.", examples=["reserve:ili-black-bee-buffer"])],  # noqa: N803
        crs: Crs = None,
        datetime: DateTime = None,
    ) -> Response:
        """One zone as a GeoJSON Feature."""
        _known(collectionId)
        epsg = _crs(crs, "crs")
        layer = state.layers.get(collectionId, *datetime_param(datetime))
        position = layer.position.get(featureId)
        if position is None:
            raise ApiProblem(404, f"集合 '{collectionId}' 在该日期没有要素 '{featureId}' / no feature '{featureId}' in "
                             f"collection '{collectionId}' on that date", field="featureId", value=featureId,
                             kind="not-found", fix="要素列表见 / list the features at "
                             + str(request.url_for("ogc_items", collectionId=collectionId)))
        body = _features(layer, np.array([position]), epsg)[0]
        body["links"] = [
            _link(request.url, "self", GEOJSON, "this feature"),
            _link(request.url_for("ogc_collection", collectionId=collectionId), "collection", JSON),
        ]
        return _features_response(body, epsg)

    return router
