"""Batch screening jobs: ``POST /screen`` takes a file and answers 202 with a job to poll, cancel and download.

Jobs live on disk (``api.jobs``): they survive a restart (a job that was running is re-queued and run again
from the start) and any server process can answer for them. Each attempt runs in a process of its own, so
a file that crashes the screening ends that process, never the server, and fails its job after a bounded
number of attempts.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import typing
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import AppState, StateDep
from api.errors import ApiProblem, hide_paths
from api.jobs import RESULT_FORMATS, Job, JobStatus, Work
from api.params import IsoDate
from api.routes.audit import file_digest, record_batch
from api.uploads import save_uploads
from gis.batch.inputs import mapping_fields
from gis.rules.project import fact_specs, read_project
from gis.sites.build import user_crs
from gis.sites.encoding import decode
from gis.store import Store

__all__ = ["INPUT_SUFFIXES", "ColumnsForm", "CrsForm", "EncodingForm", "JobView", "batch_options", "make_work",
           "router", "screen_job", "with_fact_fields"]

router = APIRouter(prefix="/screen", tags=["batch screening"])

#: Files a screening job takes: the permit lists officers keep, and GIS files screened by their geometry (a
#: shapefile zipped with its sidecars).
INPUT_SUFFIXES = (".xlsx", ".csv", ".gpkg", ".geojson", ".parquet", ".zip")
#: A job's status as the workspace page names it (maps/static/screen.js).
_STATUS_ZH = {JobStatus.queued: "排队中", JobStatus.running: "筛查中", JobStatus.succeeded: "已完成",
              JobStatus.failed: "失败", JobStatus.cancelled: "已取消"}
#: What to do for results of a job that has none: only a queued or running one will have them by waiting.
_NO_RESULT_FIX = {
    JobStatus.queued: "查询任务，等状态变为 succeeded（已完成）后再下载 / poll the job until its status is succeeded",
    JobStatus.running: "查询任务，等状态变为 succeeded（已完成）后再下载 / poll the job until its status is succeeded",
    JobStatus.failed: "任务已失败，不会有结果：按任务的 error 修正后重新提交（POST /screen） / the job failed and will "
                      "have no results: correct what its error says and submit the file again (POST /screen)",
    JobStatus.cancelled: "任务已取消，不会有结果：如仍需筛查，请重新提交（POST /screen） / the job was cancelled and will "
                         "have no results: submit the file again (POST /screen) to screen it",
}


class Progress(BaseModel):
    done: int = Field(description="Rows read, screened and written so far.")
    total: int | None = Field(description="Rows to screen, once the file is read.")
    fraction: float | None = Field(description="done / total, 0-1.")
    eta_seconds: float | None = Field(default=None, description="Time left at the rate so far, while running.")


class JobView(BaseModel):
    """A screening job as the API shows it: state, progress, report or error, and links."""

    id: str
    status: JobStatus
    input_name: str
    input_bytes: int
    options: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: Progress
    attempts: int
    report: dict[str, Any] | None = Field(description="The screening report (rows in/out/failed, verdict counts).")
    error: dict[str, Any] | None = Field(description="Why the job failed: type, message, row, field, fix.")
    notes: list[str]
    links: list[dict[str, str]]


def make_work(store: Store, workers: int | None) -> Work:
    """The work of a screening job (``api.job_worker.Work``): ``screen_job`` on the app's store."""
    return functools.partial(screen_job, store.open_location, store.name, workers)


def screen_job(location: str, name: str, workers: int | None, job: Job, input_path: Path,
               outputs: dict[str, Path], progress: Callable[[int, int], None]) -> dict[str, Any]:
    """``gis.batch.screen_file`` with the job's options, in the job's process: the store is opened there again
    (``location`` is never shown; ``name`` is how answers show the store)."""
    from gis.batch import screen_file, watched_chunk_rows
    from gis.store import open_store

    with open_store(location, read_only=True) as store:
        store.name = name
        report = screen_file(
            input_path, list(outputs.values()), store=store, as_of=job.options.get("as_of"), workers=workers,
            columns=job.options.get("columns"), progress=progress,
            chunk_rows=watched_chunk_rows(job.input_bytes),  # progress and cancel between chunks
            defaults=job.options.get("defaults") or None, encoding=job.options.get("encoding"),
            crs=job.options.get("crs"),
        )
    return report.model_dump(mode="json")


def _view(request: Request, job: Job) -> JobView:
    links = [{"rel": "self", "type": "application/json", "href": str(request.url_for("screen_job", job_id=job.id))}]
    if not job.finished:
        links.append({"rel": "cancel", "type": "application/json",
                      "href": str(request.url_for("screen_cancel", job_id=job.id))})
    if job.status is JobStatus.succeeded:
        links += [{"rel": "result", "type": media, "title": fmt,
                   "href": str(request.url_for("screen_result", job_id=job.id, fmt=fmt))}
                  for fmt, media in RESULT_FORMATS.items()]
    fraction = round(job.done / job.total, 4) if job.total else (1.0 if job.status is JobStatus.succeeded else None)
    shown = job.model_dump(exclude={"done", "total"})
    shown["error"] = hide_paths(shown["error"])  # a reader's message may name the job's input by its path
    return JobView(**shown, progress=Progress(done=job.done, total=job.total, fraction=fraction,
                                              eta_seconds=_eta(job)), links=links)


def _eta(job: Job) -> float | None:
    """Seconds left at the rate since the job started (None until a row is done, or once finished)."""
    if job.status is not JobStatus.running or not job.started_at or not job.total or job.done <= 0:
        return None
    elapsed = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(job.started_at)).total_seconds()
    return round(max(elapsed, 0.0) * max(job.total - job.done, 0) / job.done, 1)


def _job(state: AppState, job_id: str) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        kept = state.settings.job_keep_days
        kept_zh, kept_en = ((f"；已结束的任务保留 {kept:g} 天", f"; finished jobs are kept {kept:g} days") if kept
                            else ("", ""))
        raise ApiProblem(404, f"没有筛查任务 '{job_id}' / no screening job '{job_id}'", field="job_id", value=job_id,
                         kind="not-found", fix=f"使用 POST /screen 返回的任务编号{kept_zh} / use the id POST /screen "
                                               f"answered with{kept_en}")
    return job


#: The form fields of a batch's input (``POST /screen``, ``POST /rescreen``): headers mapped, encoding, CRS.
ColumnsForm = Annotated[str | None, Form(description="JSON object naming the columns when they cannot be recognised, "
                                                     "e.g. {\"lon\": \"经度\", \"lat\": \"纬度\"}.")]
EncodingForm = Annotated[str | None, Form(max_length=40, description="Text encoding of a .csv or a shapefile's .dbf "
                                          "that is neither UTF-8 nor GBK (detected if omitted), e.g. utf-16, big5.")]
CrsForm = Annotated[str | None, Form(max_length=10_000, description="CRS of every row, e.g. EPSG:4538, overriding the "
                                     "file's own: a shapefile without its .prj, the X/Y of a register without 带号.")]


def batch_options(facts: dict[str, str | None], columns: str | None, encoding: str | None, crs: str | None,
                  source: str) -> dict[str, Any]:
    """``screen_file``'s ``defaults``, ``columns``, ``encoding`` and ``crs`` from a form's fields, each checked now:
    a batch-wide fact, a codec or a CRS that cannot be read is the request's 400, not every row's error."""
    defaults = {name: value for name, value in facts.items() if value is not None and value.strip()}
    read_project(defaults)
    encoding = encoding.strip() if encoding and encoding.strip() else None
    if encoding:
        decode(b"", encoding=encoding, source=source)  # a codec Python knows
    crs = crs.strip() if crs and crs.strip() else None
    if crs:
        user_crs(crs)  # a CRS PROJ knows
    return {"columns": _columns(columns), "defaults": defaults, "encoding": encoding, "crs": crs}


def _columns(text: str | None) -> dict[str, str] | None:
    if text is None or not text.strip():
        return None
    try:
        columns = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a number past Python's digits, nested past the stack
        columns = None
    if not isinstance(columns, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise ApiProblem(400, "表单项 columns 应为 JSON 对象，写明各项所在的列名 / columns must be a JSON object mapping "
                         "roles to column names", field="columns", value=text[:200], kind="invalid-parameter",
                         fix='例如 / e.g. {"lon": "经度", "lat": "纬度"}')
    return mapping_fields(columns)  # east and north as x and y, as the summary records them


async def _submit(
    request: Request,
    response: Response,
    state: StateDep,
    file: Annotated[UploadFile, File(description="The permit list: .xlsx or .csv (UTF-8 or GBK, Chinese "
                                                 "headers), one site per row; or a GIS file (.gpkg, .geojson, "
                                                 ".parquet, a zipped shapefile) screened by its geometry.")],
    as_of: Annotated[IsoDate | None, Form(description="Layers and rules in force on this date (default today).")] = None,
    columns: ColumnsForm = None,
    encoding: EncodingForm = None,
    crs: CrsForm = None,
    **facts: str | None,
) -> JobView:
    """Queue a screening job; poll the job, then download the results as xlsx, csv, geojson, gpkg or parquet.

    The project fields (scope, industry, fuel ...) are facts of every row that does not give them, e.g. scope
    ``existing`` for a register of existing enterprises; each row says what it assumed.
    """
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise ApiProblem(400, f"筛查任务只接受 {'、'.join(INPUT_SUFFIXES)} 文件 / a screening job takes "
                         f"{' or '.join(INPUT_SUFFIXES)} files", field="file", value=file.filename,
                         kind="invalid-parameter", fix="将清单另存为 .xlsx 或 UTF-8 .csv / save the list as .xlsx or "
                                                       "UTF-8 .csv")
    options = {"as_of": as_of.isoformat() if as_of else None,
               **batch_options(facts, columns, encoding, crs, file.filename or "file")}
    staging = state.jobs.staging()
    try:
        [path] = await save_uploads([file], staging)
        digest = await file_digest(path) if state.audit is not None else None  # before the job takes the file
        job = state.jobs.submit(path, options)
        await record_batch(state, request, job, digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    response.headers["Location"] = str(request.url_for("screen_job", job_id=job.id))
    return _view(request, job)


def with_fact_fields(endpoint):
    """``endpoint`` with one optional form field per project fact (as ``ecozone check`` has one option each)."""
    own = inspect.signature(endpoint)
    hints = typing.get_type_hints(endpoint, include_extras=True)
    parameters = [p.replace(annotation=hints[p.name]) for p in own.parameters.values()
                  if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for spec in fact_specs():
        choices = f" One of: {', '.join(spec.choices)} (Chinese words too)." if spec.choices else ""
        about = f"{spec.label_zh}{f'（{spec.unit}）' if spec.unit else ''}: {spec.description}{choices}"
        parameters.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=Annotated[str | None, Form(description=about)]))

    async def submit(**options: Any) -> Any:
        return await endpoint(**options)

    submit.__doc__ = endpoint.__doc__
    submit.__signature__ = own.replace(parameters=parameters,  # type: ignore[attr-defined]
                                       return_annotation=hints.get("return", inspect.Signature.empty))
    return submit


submit = router.post(
    "", operation_id="screen_submit", name="screen_submit", status_code=202, response_model=JobView,
    summary="Start screening a file of sites",
    responses={400: {"description": "Bad input"}, 413: {"description": "File too large"}})(with_fact_fields(_submit))


@router.get("/{job_id}", operation_id="screen_job", name="screen_job", response_model=JobView, summary="A screening job",
            responses={404: {"description": "No such job"}})
def status(request: Request, state: StateDep, job_id: str) -> JobView:
    """Status, progress, and once done the report and the result links."""
    return _view(request, _job(state, job_id))


@router.post("/{job_id}/cancel", operation_id="screen_cancel", name="screen_cancel", status_code=202, response_model=JobView,
             summary="Cancel a screening job",
             responses={404: {"description": "No such job"}, 409: {"description": "The job has finished"}})
def cancel(request: Request, state: StateDep, job_id: str) -> JobView:
    """Cancel a queued job at once, or stop a running one (its status turns to cancelled shortly)."""
    job = _job(state, job_id)
    if job.finished:
        raise ApiProblem(409, f"任务已结束（{_STATUS_ZH[job.status]}），无需取消 / the job has already "
                         f"{job.status.value}", field="job_id", value=job_id, kind="job-finished",
                         fix="无需取消 / nothing to cancel")
    return _view(request, state.jobs.cancel(job_id))


@router.get("/{job_id}/result.{fmt}", operation_id="screen_result", name="screen_result", summary="Download a job's results",
            response_class=FileResponse,
            responses={200: {"content": {media: {} for media in RESULT_FORMATS.values()},
                             "description": "The screened rows"},
                       404: {"description": "No such job or format"}, 409: {"description": "Not finished"}})
def result(state: StateDep, job_id: str, fmt: str) -> FileResponse:
    """The input rows with the verdict columns added: xlsx, csv (UTF-8 with BOM) or geojson."""
    job = _job(state, job_id)
    if fmt not in RESULT_FORMATS:
        raise ApiProblem(404, f"没有结果格式 '{fmt}' / no result format '{fmt}'", field="fmt", value=fmt,
                         kind="not-found", fix="可用的格式 / use one of " + ", ".join(RESULT_FORMATS))
    if job.status is not JobStatus.succeeded:
        raise ApiProblem(409, f"任务状态为「{_STATUS_ZH[job.status]}」，还没有结果 / the job is {job.status.value}: there are "
                         "no results", field="job_id", value=job_id, kind="job-not-done", fix=_NO_RESULT_FIX[job.status])
    name = f"{Path(job.input_name).stem}-筛查结果.{fmt}"
    return FileResponse(state.jobs.result(job_id, fmt), media_type=RESULT_FORMATS[fmt], filename=name)
