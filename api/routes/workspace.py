"""Small JSON endpoints the workspace pages need besides the API's own: a place search over the zone names of the
layers in force (``GET /places``) and a preview of how a batch file's columns are recognised
(``POST /screen/preview``). Both read through ecozone's own readers (the store, ``gis.batch.inputs``): the pages
hold no second logic. Cancelling a job is the API's ``POST /screen/{id}/cancel``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyogrio
import shapely
from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import StateDep
from api.errors import ApiProblem
from api.params import IsoDate
from api.routes.screen import ColumnsForm, CrsForm, EncodingForm, batch_options
from api.uploads import save_uploads
from gis.batch.inputs import FIELD_LABELS, FIELDS, _TableRows, open_input
from gis.cache import BoundedCache
from gis.errors import FieldError
from gis.kinds import KINDS
from gis.sites.encoding import decode
from gis.sites.tables import csv_rows, open_workbook, sheet_rows
from gis.store import Store

__all__ = ["router", "Place", "Preview", "search_places"]

router = APIRouter(tags=["workspace"])

#: Most places one search answers.
MAX_PLACES = 50
#: Rows of a batch file shown in its preview.
PREVIEW_ROWS = 5


class Place(BaseModel):
    """A named zone and the box to show it in."""

    name: str
    kind: str
    label: str = Field(description="The kind's Chinese name (行政区划, 自然保护区 ...).")
    zone_id: str
    bounds: tuple[float, float, float, float] = Field(description="West, south, east, north; WGS 84 degrees.")


_NAMES: BoundedCache[tuple[np.ndarray, list[dict[str, Any]]]] = BoundedCache(4)


def _names(store: Store, day: dt.date) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Every zone in force on ``day``: its folded names (for matching) and what a place answer shows; built once
    per set of versions in force, as a search runs at every key stroke."""
    key = (store.location, tuple(sorted((k, v.version, v.content_sha256) for k, v in store.in_force(day).items())))
    found = _NAMES.get(key)
    if found is not None:
        return found
    zones = store.snapshot(day).zones
    order = {kind: position for position, kind in enumerate(KINDS)}
    bounds = shapely.bounds(zones.geometry.values)
    rows = [{"name": name, "kind": kind, "label": KINDS[kind].label_zh if kind in KINDS else kind,
             "zone_id": zone_id, "bounds": tuple(float(v) for v in box), "rank": order.get(kind, len(order))}
            for name, kind, zone_id, box in zip(zones["name"], zones["kind"], zones["zone_id"], bounds)
            if isinstance(name, str) and name and np.isfinite(box).all()]
    english = dict(zip(zones["zone_id"], zones["name_en"].fillna("") if "name_en" in zones else []))
    folded = np.array([(row["name"] + "\n" + str(english.get(row["zone_id"], ""))).casefold() for row in rows],
                      dtype=object)
    return _NAMES.put(key, (folded, rows))


def search_places(store: Store, text: str, day: dt.date, limit: int) -> list[Place]:
    """Zones whose name (Chinese or English) contains ``text``: exact names first, then names that start with it,
    then administrative units before other kinds, shorter names first."""
    folded, rows = _names(store, day)
    needle = text.strip().casefold()
    if not needle:
        return []
    found = []
    for index in np.flatnonzero([needle in name for name in folded]):
        row = rows[index]
        name = row["name"].casefold()
        closeness = 0 if name == needle else 1 if name.startswith(needle) else 2
        found.append(((closeness, row["rank"], len(name), row["name"]), row))
    found.sort(key=lambda pair: pair[0])
    return [Place(**{k: v for k, v in row.items() if k != "rank"}) for _, row in found[:limit]]


@router.get("/places", operation_id="places_search", name="places_search", response_model=list[Place],
            summary="Search the zones in force by name (the pages' place search)")
async def places(state: StateDep,
                 q: Annotated[str, Query(min_length=1, max_length=100, description="Part of a name: 石河子, 卡拉麦里.")],
                 limit: Annotated[int, Query(ge=1, le=MAX_PLACES, description="At most this many places.")] = 10,
                 as_of: Annotated[IsoDate | None, Query(description="Layers in force on this date (default today).")] = None,
                 ) -> list[Place]:
    """Administrative units, parks, reserves and every other named zone of the layers in force, best match first."""
    return await run_in_threadpool(search_places, state.store, q, as_of or dt.date.today(), limit)


class PreviewRow(BaseModel):
    row: int | str = Field(description="The row number a person sees in the file.")
    cells: list[Any]
    error: str | None = Field(description="Why this row would not be screened, as the job would say.")


class Preview(BaseModel):
    """How a batch file's columns are read: the column of each field, the first rows, or why no location was found."""

    header: list[str]
    roles: dict[str, str] = Field(description="Field -> the column read for it (lon, lat, x, y, wkt, facts).")
    fields: dict[str, str] = Field(description="Every field a column may be mapped to, with its Chinese name.")
    rows: list[PreviewRow]
    total: int = Field(description="Rows in the file (an estimate for a workbook).")
    problem: dict[str, Any] | None = Field(description="Why the file cannot be screened as it is (detail, field, "
                                                       "fix): map the location columns and preview again.")


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _header_as_written(path: Path, encoding: str | None) -> list[str]:
    """The first non-empty row of a table, or a vector file's fields: what a person maps columns from when no
    header was recognised."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text, _ = decode(path.read_bytes(), encoding=encoding, source=path.name)
        return next((row for row, error in csv_rows(text, source=path.name) if error is None and any(row)), [])
    if suffix == ".xlsx":
        book = open_workbook(path, source=path.name)
        try:
            for row in sheet_rows(book.worksheets[0], source=path.name):
                names = ["" if c is None else str(c).strip() for c in row]
                if any(names):
                    return names
        finally:
            book.close()
        return []
    return [str(name) for name in pyogrio.read_info(path)["fields"]]


def preview_file(path: Path, columns: dict[str, str] | None, encoding: str | None = None,
                 crs: str | None = None) -> Preview:
    """The header, the column of each field and the first rows of a batch file, read by ``gis.batch.inputs``
    (the reader a screening job uses, with the job's ``encoding`` and ``crs``), or the reader's reason when no
    location columns are recognised."""
    try:
        opened = open_input(path, columns=columns, chunk_rows=PREVIEW_ROWS, encoding=encoding, crs=crs)
    except FieldError as error:
        if error.field != "header":
            raise
        header = _header_as_written(path, encoding)
        problem = {"detail": error.message, "field": error.field, "fix": error.fix}
        return Preview(header=header, roles={}, fields=FIELD_LABELS, rows=[], total=0, problem=problem)
    try:
        table = _TableRows(opened.header, path.name, columns, unique=False)
        roles = {field: opened.header[index] for field, index in table.index.items() if field in FIELDS}
        chunk = next(opened.chunks, None)
    finally:
        close = getattr(opened.chunks, "close", None)
        if close is not None:
            close()
    rows = [] if chunk is None else [
        PreviewRow(row=row, cells=[_cell(c) for c in cells], error=error)
        for row, cells, error in zip(chunk.rows, chunk.cells, chunk.errors)]
    return Preview(header=list(opened.header), roles=roles, fields=FIELD_LABELS, rows=rows, total=opened.total,
                   problem=None)


@router.post("/screen/preview", operation_id="screen_preview", name="screen_preview", response_model=Preview,
             summary="How a batch file's columns are recognised, before screening it",
             responses={400: {"description": "Bad input"}, 413: {"description": "File too large"}})
async def preview(
    state: StateDep,
    file: Annotated[UploadFile, File(description="The file a screening job would take.")],
    columns: ColumnsForm = None,
    encoding: EncodingForm = None,
    crs: CrsForm = None,
) -> Preview:
    """The columns read for each field and the first rows as the job would read them; with ``problem`` when no
    location column is recognised, so that the page can offer to map them."""
    options = batch_options({}, columns, encoding, crs, file.filename or "file")  # as POST /screen reads them
    with tempfile.TemporaryDirectory(prefix="ecozone-preview-", dir=state.jobs.scratch) as folder:
        [path] = await save_uploads([file], Path(folder))
        try:
            return await run_in_threadpool(preview_file, path, options["columns"], options["encoding"],
                                           options["crs"])
        except (OSError, ValueError) as error:
            raise ApiProblem(400, f"无法读取文件 / the file cannot be read ({type(error).__name__})", field="file",
                             value=file.filename, fix="另存为 .xlsx 或 UTF-8 .csv / save it as .xlsx or UTF-8 .csv",
                             ) from None

