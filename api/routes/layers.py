"""The layers: what is in force (open like every read), imports of new versions (writes: a write key), what
changed between two versions, the share of land per jurisdiction, and exports.

An import never overwrites anything: it adds a version, in force from its ``effective_from`` date, and
earlier versions stay for checks as of past dates. A file that holds nothing new adds none: the answer is
200 with ``created`` false and the version kept, where a new version is 201 with ``created`` true. Coverage is ``all`` or ``admin:CODE,...`` here: a
polygon file would be a path on the server, which an HTTP client must not name.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.deps import StateDep, require_write
from api.errors import ApiProblem
from api.params import IsoDate
from api.routes.audit import record_import
from api.uploads import save_uploads
from gis.cache import BoundedCache
from gis.kinds import KINDS
from gis.layer_diff import LayerDiff, diff_layer
from gis.layer_diff_files import write_diff
from gis.layer_export import export_layer, shapefile_parts
from gis.errors import EcozoneError
from gis.layer_files import SUPPORTED_SUFFIXES, parse_field_mapping, read_layer_file, resolve_coverage
from gis.layer_stats import LayerStats, layer_stats
from gis.store import ImportedVersion, LayerVersion
from gis.versions import pick_version
from maps.build import render
from maps.diff_map import diff_map

__all__ = ["router", "ImportView", "VersionView"]

router = APIRouter(prefix="/layers", tags=["layers"])

Kind = Annotated[str, PathParam(description="A zone kind: " + ", ".join(KINDS), examples=["nature_reserve"])]


class VersionView(BaseModel):
    """One imported version of a layer (its coverage polygon is left out: it can be megabytes)."""

    kind: str
    version: int
    imported_at: str
    effective_from: str
    source: str
    feature_count: int
    content_sha256: str
    note: str | None
    has_coverage: bool = Field(description="False: the layer counts as complete everywhere.")
    notices: list[dict[str, Any]]

    @classmethod
    def of(cls, version: LayerVersion) -> VersionView:
        """The view of a stored version (its coverage said as a flag, not as WKB)."""
        data = version.to_dict()
        return cls(**{k: v for k, v in data.items() if k != "coverage_wkb"}, has_coverage=bool(version.coverage_wkb))


class ImportView(VersionView):
    """The answer of an import: the version it created, or the version kept when the file held nothing new."""

    created: bool = Field(description="False: the file is identical to the version kept (the same zones, source, "
                                      "coverage, and date and note where given); no version was created, and the "
                                      "fields are that version's.")
    message: str = Field(description="What happened, Chinese first, e.g. 与现行第 2 版内容相同，未新建版本 / "
                                     "identical to version 2 in force; no new version")

    @classmethod
    def of(cls, version: ImportedVersion) -> ImportView:
        """The view of an import's outcome."""
        return cls(**VersionView.of(version).model_dump(), created=version.created, message=version.message)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ApiProblem(404, f"没有图层 '{kind}' / no layer '{kind}'", field="kind", value=kind, kind="not-found",
                         fix="可用的图层 / layers: " + ", ".join(KINDS))
    return kind


@router.get("", operation_id="layers_summary", name="layers_summary", summary="Every layer and the version in force")
def summary(state: StateDep, as_of: Annotated[IsoDate | None, Query(description="Default today.")] = None,
            ) -> dict[str, Any]:
    """One row per zone kind: label, version in force, feature count, versions kept, source."""
    return {"store": state.store.name, "read_only": state.store.read_only,
            "layers": state.store.summary(as_of)}


@router.get("/{kind}/versions", operation_id="layers_versions", name="layers_versions", response_model=list[VersionView],
            summary="The version history of a layer", responses={404: {"description": "No such layer"}})
def versions(state: StateDep, kind: Kind) -> list[VersionView]:
    """Every imported version of the layer, oldest first."""
    return [VersionView.of(v) for v in state.store.versions(_kind(kind))]


@router.post(
    "/{kind}/versions", operation_id="layers_import", name="layers_import", status_code=201, response_model=ImportView,
    dependencies=[Depends(require_write)], summary="Import a new version of a layer (write key)",
    responses={200: {"description": "Identical to the version kept: no version created (created false)",
                     "model": ImportView},
               401: {"description": "No API key"}, 403: {"description": "Key not valid for writes"},
               404: {"description": "No such layer"}, 409: {"description": "The store is read-only"},
               413: {"description": "Upload too large"}},
)
async def import_version(
    request: Request,
    response: Response,
    state: StateDep,
    kind: Kind,
    file: Annotated[list[UploadFile], File(description="A GeoJSON or GeoPackage file, or a .shp with its "
                                                       ".dbf, .shx, .prj (and .cpg) as further 'file' parts, or a "
                                                       ".zip holding one of them (an export.shp download).")],
    effective_from: Annotated[IsoDate | None, Form(description="In force from (default today).")] = None,
    note: Annotated[str | None, Form(max_length=2000, description="Kept with the version.")] = None,
    layer: Annotated[str | None, Form(description="Layer of a multi-layer GeoPackage.")] = None,
    crs: Annotated[str | None, Form(description="CRS when the file declares none, e.g. EPSG:4490.")] = None,
    encoding: Annotated[str | None, Form(description="Encoding of a .dbf (default: detected).")] = None,
    field: Annotated[list[str] | None, Form(
        description="TARGET=COLUMN, one per part: the column holding a zone field (zone_id, name, subtype, "
                    "jurisdiction, valid_from, valid_to ...) or an attribute; TARGET= for none. Fields left out are "
                    "found by the columns' names and values.", examples=[["subtype=功能区"]])] = None,
    name_field: Annotated[str | None, Form(description="Same as field name=COLUMN.")] = None,
    id_field: Annotated[str | None, Form(description="Same as field zone_id=COLUMN.")] = None,
    subtype: Annotated[str | None, Form(description="Subtype of every feature (code or Chinese label).")] = None,
    geometry_source: Annotated[Literal["official", "derived", "illustrative"], Form()] = "official",
    coverage: Annotated[str | None, Form(
        pattern=r"^(all|admin:[0-9, ]+)$",
        description="Where the layer is complete: 'all' or 'admin:ADCODE,...' (default: every administrative "
                    "unit of the store).")] = None,
) -> ImportView:
    """Read the file into the zone schema, validate it and store it as a new version; nothing is overwritten.
    A file identical to the version in force on its date (today without one) makes none: 200, ``created`` false."""
    _kind(kind)
    with tempfile.TemporaryDirectory(prefix="ecozone-import-", dir=state.jobs.scratch) as folder:
        paths = await save_uploads(file, Path(folder))
        main = [p for p in paths if p.suffix.lower() in (*SUPPORTED_SUFFIXES, ".zip")]
        if len(main) != 1:
            raise ApiProblem(400, "只发送一个图层文件（.shp 可附带其辅助文件，或一个只含一个图层的 .zip） / send exactly one "
                             "layer file (a .shp may come with its sidecar files, or one .zip holding one layer)",
                             field="file", value=", ".join(p.name for p in paths), kind="invalid-parameter",
                             fix="可用的文件类型 / one of " + ", ".join((*SUPPORTED_SUFFIXES, ".zip")))

        def work() -> ImportedVersion:
            try:
                mapping = parse_field_mapping(field or [])
                mapping.update({target: column for target, column in (("name", name_field), ("zone_id", id_field))
                                if column is not None})
                zones, notices = read_layer_file(
                    main[0], kind, layer=layer, crs=crs, encoding=encoding, fields=mapping, subtype=subtype,
                    geometry_source=geometry_source, scratch=Path(folder),
                )
                area, notice = resolve_coverage(coverage, state.store, zones)
                version = state.store.import_layer(zones, kind, source=main[0].name, effective_from=effective_from,
                                                   note=note, coverage=area, notices=[*notices, notice])
            except EcozoneError as error:
                for problem in [error, *error.problems]:
                    named = _form_field(problem.field)
                    if named:
                        problem.fix = f"{problem.fix} ({named})" if problem.fix else named
                raise
            record_import(state, request, version, main[0])
            return version

        version = await run_in_threadpool(work)
        if not version.created:
            response.status_code = 200
        return ImportView.of(version)


#: The form field of an import that gives each field an import error is about.
_FORM_FIELDS = {"crs": "表单项 crs / form field 'crs'", "encoding": "表单项 encoding / form field 'encoding'",
                "layer": "表单项 layer / form field 'layer'", "coverage": "表单项 coverage / form field 'coverage'",
                "geometry_source": "表单项 geometry_source / form field 'geometry_source'",
                "subtype": "表单项 field 写 subtype=列名，或 subtype 写代码 / form field 'field': subtype=COLUMN, or "
                           "'subtype': CODE",
                "field": "表单项 field 写 字段=列名 / form field 'field': TARGET=COLUMN"}


def _form_field(field: str | None) -> str | None:
    """The form field of an import that fixes a problem with ``field`` (``field`` TARGET=COLUMN for a zone
    field or an attribute read from a column)."""
    if field is None or field in ("geometry", "attributes", "store", "kind", "file"):
        return None
    return _FORM_FIELDS.get(field, f"表单项 field 写 {field}=列名 / form field 'field': {field}=COLUMN")


# -- change report, share, export (issue 21) ---------------------------------------------------------------------
#: What a change report is downloaded as.
DIFF_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "gpkg": "application/geopackage+sqlite3", "html": "text/html; charset=utf-8"}
#: What a layer is exported as (a shapefile comes zipped with its sidecar files).
EXPORT_FORMATS = {"shp": "application/zip", "gpkg": "application/geopackage+sqlite3",
                  "geojson": "application/geo+json"}

From = Annotated[str, Query(alias="from", description="Earlier version: a number, or a date YYYY-MM-DD (the version "
                                                      "in force then).", examples=["1"])]
To = Annotated[str, Query(description="Later version: a number or a date.", examples=["2"])]
AdminAsOf = Annotated[IsoDate | None, Query(description="Administrative units in force on this date (default today).")]

_diffs: BoundedCache[LayerDiff] = BoundedCache(8)


def _diff(state, kind: str, from_: str, to: str, admin_as_of: dt.date | None) -> LayerDiff:
    """The report, kept per pair of versions and administrative date: a large layer takes seconds."""
    before = pick_version(state.store, kind, from_, field="from")
    after = pick_version(state.store, kind, to, field="to")
    key = (state.store.location, kind, before.version, before.content_sha256, after.version, after.content_sha256,
           admin_as_of or dt.date.today())
    found = _diffs.get(key)
    return found if found is not None else _diffs.put(key, diff_layer(state.store, kind, before.version,
                                                                      after.version, admin_as_of=admin_as_of))


@router.get("/{kind}/diff", operation_id="layers_diff", name="layers_diff", response_model=LayerDiff,
            summary="What changed between two versions of a layer",
            responses={404: {"description": "No such layer or version"}})
async def diff(state: StateDep, kind: Kind, from_: From, to: To, admin_as_of: AdminAsOf = None) -> LayerDiff:
    """Zones added, removed and changed (which fields), the area the layer's union gained and lost (geodesic m²)
    per zone and per jurisdiction, and the 兵团 share before and after against its floor."""
    return await run_in_threadpool(_diff, state, _kind(kind), from_, to, admin_as_of)


@router.get("/{kind}/diff.{fmt}", operation_id="layers_diff_file", name="layers_diff_file",
            summary="The change report as Excel, GeoPackage or a map page", response_class=Response,
            responses={200: {"content": {media: {} for media in DIFF_FORMATS.values()}},
                       404: {"description": "No such layer, version or format"}})
async def diff_file(request: Request, state: StateDep, kind: Kind, fmt: str, from_: From, to: To,
                    admin_as_of: AdminAsOf = None) -> Response:
    """``xlsx``: a Chinese summary sheet, then zones, jurisdictions, polygons; ``gpkg``: layers ``added`` and
    ``removed``; ``html``: the offline map page (added green, removed red, the totals)."""
    if fmt not in DIFF_FORMATS:
        raise ApiProblem(404, f"没有变更报告格式 '{fmt}' / no change-report format '{fmt}'", field="fmt", value=fmt,
                         kind="not-found", fix="可用的格式 / use one of " + ", ".join(DIFF_FORMATS))
    report = await run_in_threadpool(_diff, state, _kind(kind), from_, to, admin_as_of)
    name = f"{kind}-v{report.from_version.version}-v{report.to_version.version}"
    if fmt == "html":
        static = request.url_for("map_static", root="R", name="N").path.removesuffix("/R/N")
        html = await run_in_threadpool(lambda: render(diff_map(report, state.store, admin_as_of=admin_as_of,
                                                               static_url=static, basemap=state.settings.basemap())))
        return HTMLResponse(html)
    with tempfile.TemporaryDirectory(prefix="ecozone-diff-") as folder:
        path = await run_in_threadpool(write_diff, report, Path(folder) / f"report.{fmt}")
        body = path.read_bytes()
    return Response(body, media_type=DIFF_FORMATS[fmt], headers=_attachment(f"{name}.{fmt}"))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


@router.get("/{kind}/stats", operation_id="layers_stats", name="layers_stats", response_model=LayerStats,
            summary="Area and share of land per jurisdiction; the 兵团 share of every version",
            responses={404: {"description": "No such layer or version"}})
async def stats(state: StateDep, kind: Kind,
                version: Annotated[str | None, Query(description="A number or a date (default the newest).")] = None,
                admin_as_of: AdminAsOf = None) -> LayerStats:
    """Land area, the layer's area (union, geodesic) and its share for the region, each prefecture, county and
    兵团 city, and the 兵团 as a whole (its cities: see ``basis``), with the floor (21.87 %, 不减少)."""
    return await run_in_threadpool(layer_stats, state.store, _kind(kind), version, admin_as_of=admin_as_of)


@router.get("/{kind}/export.{fmt}", operation_id="layers_export", name="layers_export", response_class=Response,
            summary="A layer version as a shapefile (zip), GeoPackage or GeoJSON",
            responses={200: {"content": {media: {} for media in EXPORT_FORMATS.values()}},
                       404: {"description": "No such layer, version or format"}})
async def export(
    state: StateDep, kind: Kind, fmt: str,
    version: Annotated[str | None, Query(description="A version number (default the newest).")] = None,
    as_of: Annotated[IsoDate | None, Query(description="The version in force on this date.")] = None,
    crs: Annotated[str | None, Query(max_length=200, description="Output CRS (default EPSG:4490, CGCS2000; EPSG:4326 "
                                                                 "for GeoJSON), or a Gauss-Krüger zone, e.g. EPSG:4517.")] = None,
    encoding: Annotated[Literal["utf-8", "gbk"], Query(description="Text encoding of a shapefile's .dbf.")] = "utf-8",
) -> Response:
    """The file ``ecozone layers export`` writes; headers say whether it imports back to the same digest."""
    if fmt not in EXPORT_FORMATS:
        raise ApiProblem(404, f"没有导出格式 '{fmt}' / no export format '{fmt}'", field="fmt", value=fmt,
                         kind="not-found", fix="可用的格式 / use one of " + ", ".join(EXPORT_FORMATS))
    _kind(kind)
    with tempfile.TemporaryDirectory(prefix="ecozone-export-") as folder:
        target = Path(folder) / f"{kind}.{fmt}"
        report = await run_in_threadpool(lambda: export_layer(state.store, kind, target, version=version,
                                                              as_of=as_of, crs=crs, encoding=encoding))
        name = f"{kind}-v{report.version.version}.{'zip' if fmt == 'shp' else fmt}"
        if fmt == "shp":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for part in shapefile_parts(target):
                    archive.write(part, f"{kind}-v{report.version.version}{part.suffix}")
            body = buffer.getvalue()
        else:
            body = target.read_bytes()
    headers = {**_attachment(name), "X-Ecozone-Round-Trip": report.round_trip,
               "X-Ecozone-Content-SHA256": report.version.content_sha256}
    return Response(body, media_type=EXPORT_FORMATS[fmt], headers=headers)
