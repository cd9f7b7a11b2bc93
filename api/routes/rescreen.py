"""``POST /rescreen``: the permits of a screened file whose verdict changes as of another date or layer version.

Synchronous, for the registers an office keeps (up to ``MAX_ROWS`` rows: a larger file is refused with 413 as
soon as its rows pass the limit); the answer is JSON, or the changed rows as a workbook or CSV to download.
It takes what ``POST /screen`` takes back from a job: the screened .xlsx or .csv, and the form fields of
``POST /screen`` that the file was screened with (the project facts, ``columns``, ``encoding``, ``crs``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import StateDep
from api.errors import ApiProblem
from api.routes.screen import ColumnsForm, CrsForm, EncodingForm, batch_options, with_fact_fields
from api.uploads import save_uploads
from gis.rescreen import RescreenReport, rescreen_file, write_rescreen
from gis.versions import layer_version_date

__all__ = ["MAX_ROWS", "router"]

router = APIRouter(tags=["batch screening"])

#: Rows one synchronous re-screening takes (about a second of work); larger files go through POST /screen.
MAX_ROWS = 20_000

_MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}


async def _rescreen(
    state: StateDep,
    file: Annotated[UploadFile, File(description="The screened .xlsx or .csv (a job's result).")],
    as_of: Annotated[dt.date | None, Form(description="Screen again as of this date.")] = None,
    layer: Annotated[str | None, Form(max_length=200, description="KIND:N (e.g. ecological_redline:2) — screen "
                                      "again as of the date version N of that layer comes into force; the versions "
                                      "are those GET /layers/{kind}/versions lists.")] = None,
    format: Annotated[Literal["json", "xlsx", "csv"], Form(description="json, or the changed rows as a file.")] = "json",
    columns: ColumnsForm = None,
    encoding: EncodingForm = None,
    crs: CrsForm = None,
    **facts: str | None,
) -> Response | RescreenReport:
    """Only the rows whose verdict (结论代码) differs from the file's: each by its row in the file (行号（原表行）,
    as the sheet numbers it), its own cells (an .xlsx's numbers and dates as such), old and new verdict, the rules
    and zones; ``sheet`` names the worksheet screened.

    Give the fields the file was screened with, as ``POST /screen`` takes them. Those not given are read from an
    .xlsx's 筛查汇总 (batch-wide facts, ``columns``, ``crs``; a CSV records none); ``assumed`` and ``options`` say
    which were used and where from."""
    if (as_of is None) == (layer is None):
        raise ApiProblem(400, "请给出 as_of 或 layer，二者选一 / give as_of or layer (not both)", field="as_of",
                         kind="invalid-parameter", fix="例如 as_of=2021-06-30，或 layer=ecological_redline:2 / e.g. "
                                                       "as_of=2021-06-30, or layer=ecological_redline:2")
    options = batch_options(facts, columns, encoding, crs, file.filename or "file")
    options["defaults"] = options["defaults"] or None  # none given: those the file records
    day: dt.date | str | None = as_of
    if layer is not None:
        day = layer_version_date(state.store, layer, field="layer")
    folder = Path(tempfile.mkdtemp(prefix="ecozone-rescreen-"))
    try:
        [path] = await save_uploads([file], folder)
        report = await run_in_threadpool(lambda: rescreen_file(path, as_of=day, store=state.store, max_rows=MAX_ROWS,
                                                               **options))
        if format == "json":
            return report
        written = await run_in_threadpool(write_rescreen, report, folder / f"changes.{format}")
        name = f"{Path(file.filename or 'rescreen').stem}-结论变化.{format}"
        return Response(written.read_bytes(), media_type=_MEDIA[format],
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


rescreen = router.post(
    "/rescreen", operation_id="rescreen", name="rescreen", response_model=RescreenReport,
    summary="Rows of a screened file whose verdict changes as of another date or layer version",
    responses={200: {"content": {media: {} for media in _MEDIA.values()}}, 400: {"description": "Bad input"},
               413: {"description": "File too large"}})(with_fact_fields(_rescreen))
