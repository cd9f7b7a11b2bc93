"""The layers: what is in force (open like every read) and imports of new versions (writes: a write key).

An import never overwrites anything: it adds a version, in force from its ``effective_from`` date, and
earlier versions stay for checks as of past dates. Coverage is ``all`` or ``admin:CODE,...`` here: a
polygon file would be a path on the server, which an HTTP client must not name.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path as PathParam, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import StateDep, require_write
from api.errors import ApiProblem
from api.routes.audit import record_import
from api.uploads import save_uploads
from gis.kinds import KINDS
from gis.layer_files import SUPPORTED_SUFFIXES, read_layer_file, resolve_coverage
from gis.store import LayerVersion

__all__ = ["router", "VersionView"]

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
        data = version.to_dict()
        return cls(**{k: v for k, v in data.items() if k != "coverage_wkb"}, has_coverage=bool(version.coverage_wkb))


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ApiProblem(404, f"no layer '{kind}'", field="kind", value=kind, kind="not-found",
                         fix="layers: " + ", ".join(KINDS))
    return kind


@router.get("", operation_id="layers_summary", name="layers_summary", summary="Every layer and the version in force")
def summary(state: StateDep, as_of: Annotated[dt.date | None, Query(description="Default today.")] = None,
            ) -> dict[str, Any]:
    """One row per zone kind: label, version in force, feature count, versions kept, source."""
    return {"store": state.store.location, "read_only": state.store.read_only,
            "layers": state.store.summary(as_of)}


@router.get("/{kind}/versions", operation_id="layers_versions", name="layers_versions", response_model=list[VersionView],
            summary="The version history of a layer", responses={404: {"description": "No such layer"}})
def versions(state: StateDep, kind: Kind) -> list[VersionView]:
    """Every imported version of the layer, oldest first."""
    return [VersionView.of(v) for v in state.store.versions(_kind(kind))]


@router.post(
    "/{kind}/versions", operation_id="layers_import", name="layers_import", status_code=201, response_model=VersionView,
    dependencies=[Depends(require_write)], summary="Import a new version of a layer (write key)",
    responses={401: {"description": "No API key"}, 403: {"description": "Key not valid for writes"},
               404: {"description": "No such layer"}, 409: {"description": "The store is read-only"},
               413: {"description": "Upload too large"}},
)
async def import_version(
    request: Request,
    state: StateDep,
    kind: Kind,
    file: Annotated[list[UploadFile], File(description="A GeoJSON or GeoPackage file, or a .shp with its "
                                                       ".dbf, .shx, .prj (and .cpg) as further 'file' parts.")],
    effective_from: Annotated[dt.date | None, Form(description="In force from (default today).")] = None,
    note: Annotated[str | None, Form(max_length=2000, description="Kept with the version.")] = None,
    layer: Annotated[str | None, Form(description="Layer of a multi-layer GeoPackage.")] = None,
    crs: Annotated[str | None, Form(description="CRS when the file declares none, e.g. EPSG:4490.")] = None,
    encoding: Annotated[str | None, Form(description="Encoding of a .dbf (default: detected).")] = None,
    name_field: Annotated[str | None, Form(description="Column holding the zone names.")] = None,
    id_field: Annotated[str | None, Form(description="Column holding stable zone ids.")] = None,
    subtype: Annotated[str | None, Form(description="Subtype of every feature (code or Chinese label).")] = None,
    geometry_source: Annotated[Literal["official", "derived", "illustrative"], Form()] = "official",
    coverage: Annotated[str | None, Form(
        pattern=r"^(all|admin:[0-9, ]+)$",
        description="Where the layer is complete: 'all' or 'admin:ADCODE,...' (default: every administrative "
                    "unit of the store).")] = None,
) -> VersionView:
    """Read the file into the zone schema, validate it and store it as a new version; nothing is overwritten."""
    _kind(kind)
    with tempfile.TemporaryDirectory(prefix="ecozone-import-") as folder:
        paths = await save_uploads(file, Path(folder))
        main = [p for p in paths if p.suffix.lower() in SUPPORTED_SUFFIXES]
        if len(main) != 1:
            raise ApiProblem(400, "send exactly one layer file (a .shp may come with its sidecar files)",
                             field="file", value=", ".join(p.name for p in paths), kind="invalid-parameter",
                             fix="one of " + ", ".join(SUPPORTED_SUFFIXES))

        def work() -> LayerVersion:
            zones, notices = read_layer_file(
                main[0], kind, layer=layer, crs=crs, encoding=encoding, name_field=name_field, id_field=id_field,
                subtype=subtype, geometry_source=geometry_source,
            )
            area, notice = resolve_coverage(coverage, state.store)
            version = state.store.import_layer(zones, kind, source=main[0].name, effective_from=effective_from,
                                               note=note, coverage=area, notices=[*notices, notice])
            record_import(state, request, version, main[0])
            return version

        return VersionView.of(await run_in_threadpool(work))
