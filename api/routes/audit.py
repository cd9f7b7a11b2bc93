"""The audit trail over HTTP, and what the other routes call to be recorded in it.

``GET /audit`` lists the records, ``GET /audit/chain`` walks their chain of digests, ``GET /audit/{id}`` shows
one and ``POST /audit/{id}/replay`` re-runs a recorded check on the server's store. The trail tells who
checked which site: it always needs a key, read or write, even on a server whose reads are open; a server
with no key configured does not serve it (the operator reads it with ``ecozone audit``).

``CheckFiling`` is what ``POST /check`` does with a result besides answering it: the report it answers
instead of JSON when the request's ``Accept`` asks for one, and the audit record.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Path as PathParam, Query, Request, Security
from fastapi.concurrency import run_in_threadpool

from api.params import IsoDate
from api.deps import AppState, StateDep, _api_key
from api.errors import ApiProblem
from api.filing import report_bytes, site_input
from gis.audit import AuditRecord, ChainCheck
from gis.errors import InputError
from gis.check import CheckResult
from gis.evidence import Verification, evidence_of
from gis.report import FORMATS
from gis.store import ImportedVersion, Store

__all__ = ["router", "CheckFiling", "filing_for", "report_format_of", "file_digest", "record_batch", "record_import",
           "batch_recorder"]

router = APIRouter(prefix="/audit", tags=["audit"])


def report_format_of(accept: str | None) -> str | None:
    """The report format the ``Accept`` header prefers over JSON (pdf, docx, html), or None for JSON.

    Media types are taken in order of their quality (q); the first that ecozone answers wins, so that
    ``*/*`` and ``application/json`` keep the JSON answer."""
    if not accept:
        return None
    offered = {media: fmt for fmt, media in FORMATS.items()}
    ranked = []
    for position, item in enumerate(accept.split(",")):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.lower()))
    for quality, _, media in sorted(ranked):
        if quality == 0:
            break
        if media in offered:
            return offered[media]
        if media in ("application/json", "*/*", "application/*"):
            return None
    return None


class CheckFiling:
    """What ``POST /check`` files for one request: the report it answers (``fmt``) and the audit record."""

    def __init__(self, state: AppState, fmt: str | None, key_name: str | None) -> None:
        self.state, self.fmt, self.key_name = state, fmt, key_name

    @property
    def media_type(self) -> str:
        """The answer's media type."""
        return FORMATS[self.fmt] if self.fmt else "application/json"

    @property
    def headers(self) -> dict[str, str] | None:
        """A report comes as a file to save."""
        if not self.fmt:
            return None
        return {"Content-Disposition": f"attachment; filename=\"ecozone-report.{self.fmt}\"; "
                                       f"filename*=UTF-8''{quote('核查报告')}.{self.fmt}"}

    def __call__(self, result: CheckResult, store: Store, site: Any, file: Path | None) -> bytes | None:
        """Record the check; the report's bytes when one was asked for, else None (the usual JSON)."""
        evidence = evidence_of(result, store, site_input(site, file))
        if self.state.audit is not None:
            self.state.audit.record_check(evidence, "api", self.key_name)
        return report_bytes(result, store, evidence, self.fmt) if self.fmt else None


def filing_for(state: AppState, headers: Any) -> CheckFiling | None:
    """The filing of a check request (its ``Accept`` and ``X-API-Key`` headers); None when there is nothing to
    file: no report asked, no audit trail."""
    fmt = report_format_of(headers.get("accept"))
    if fmt is None and state.audit is None:
        return None
    return CheckFiling(state, fmt, state.settings.key_name(headers.get("x-api-key")))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _layers(store: Store, versions: dict[str, int]) -> dict[str, dict[str, Any]]:
    known = {(v.kind, v.version): v.content_sha256 for v in store.versions()}
    return {kind: {"version": number, "sha256": known.get((kind, number))} for kind, number in versions.items()}


async def file_digest(path: Path) -> str:
    """SHA-256 of an uploaded file, read in a worker thread (an upload may be large)."""
    return await run_in_threadpool(_sha256_file, path)


async def record_batch(state: AppState, request: Request, job: Any, digest: str | None) -> None:
    """Record a screening job as it is submitted: the file's digest, its options, the key."""
    if state.audit is None:
        return
    as_of = job.options.get("as_of")
    versions = {kind: v.version for kind, v in state.store.in_force(as_of).items()}
    await run_in_threadpool(
        state.audit.record, "batch", "api", key_name=state.settings.key_name(request.headers.get("x-api-key")),
        input_sha256=digest, layers=_layers(state.store, versions),
        details={"job_id": job.id, "input_name": job.input_name, "input_bytes": job.input_bytes,
                 "options": job.options})


def record_import(state: AppState, request: Request, version: ImportedVersion, path: Path) -> None:
    """Record a layer import: the file's digest, the new version (or the one kept, when the file held nothing
    new) and the digest of its stored features."""
    if state.audit is None:
        return
    state.audit.record(
        "import", "api", key_name=state.settings.key_name(request.headers.get("x-api-key")),
        input_sha256=_sha256_file(path), result_sha256=version.content_sha256,
        layers={version.kind: {"version": version.version, "sha256": version.content_sha256}},
        details={"kind": version.kind, "version": version.version, "source": version.source,
                 "effective_from": version.effective_from, "feature_count": version.feature_count,
                 "note": version.note, "created": version.created})


def batch_recorder(store: Store, audit, jobs_dir: Path):
    """What records a screening job's finish (``JobManager(finished=…)``): the digest of each result file and
    the verdict counts (the submission was recorded by ``record_batch``); None without an audit trail."""
    if audit is None:
        return None

    def record(job, outputs: dict[str, Path]) -> None:
        report = job.report or {}
        counts = report.get("verdict_counts", {})
        # the rows per 结论 in the words and order of the job's report and summary (部分未核查 apart from 未核查),
        # as the 核查记录 page shows a record's verdict; the codes stay in the details
        labels = report.get("verdict_labels") or counts
        input_path = jobs_dir / job.id / "input" / job.input_name
        audit.record("batch_result", "api", input_sha256=_sha256_file(input_path),
                     result_sha256=_sha256_file(next(iter(outputs.values()))) if outputs else None,
                     verdict="；".join(f"{label} {n}" for label, n in labels.items()),
                     layers=_layers(store, report.get("layer_versions", {})),
                     details={"job_id": job.id, "input_name": job.input_name, "rows_in": report.get("rows_in"),
                              "rows_failed": report.get("rows_failed"), "verdict_counts": counts,
                              "verdict_labels": report.get("verdict_labels", {}),
                              "outputs": {fmt: _sha256_file(path) for fmt, path in outputs.items()}})

    return record


async def require_audit_key(state: StateDep, key: Annotated[str | None, Security(_api_key)] = None) -> str:
    """The trail needs a configured key, read or write, whatever the server's read setting; its name."""
    settings = state.settings
    if not (settings.read_keys or settings.write_keys):
        raise ApiProblem(403, "这台服务器未配置密钥，不通过 HTTP 提供审计记录 / the audit trail is not served: no "
                              "key is configured", field="X-API-Key", kind="audit-disabled",
                         fix="由运维人员设置 ECOZONE_READ_KEYS，或在服务器上用 ecozone audit 查看 / the operator sets "
                             "ECOZONE_READ_KEYS, or reads the trail with: ecozone audit")
    name = settings.key_name(key)
    if name is None:
        raise ApiProblem(401 if not key else 403, "审计记录需要有效的密钥 / the audit trail needs a valid key",
                         field="X-API-Key", kind="api-key-required" if not key else "invalid-api-key",
                         fix="在 X-API-Key 请求头中提供读取或写入密钥 / send a read or write key in the X-API-Key "
                             "header",
                         headers={"WWW-Authenticate": "ApiKey"} if not key else None)
    return name


def _trail(state: AppState):
    if state.audit is None:
        raise ApiProblem(404, "这台服务器关闭了审计记录 / auditing is off on this server", field="audit",
                         kind="not-found", fix="由运维人员设置 ECOZONE_AUDIT=1 / the operator sets ECOZONE_AUDIT=1")
    return state.audit


_KEYED = [Depends(require_audit_key)]

#: A record's number (SQLite's integers are 64-bit).
RecordId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The record's number.")]
_ERRORS = {401: {"description": "No API key"}, 403: {"description": "Key not valid, or no key configured"},
           404: {"description": "Auditing is off, or no such record"}}


@router.get("", operation_id="audit_list", name="audit_list", dependencies=_KEYED, responses=_ERRORS,
            summary="The audit records (a key is always needed)")
async def audit_list(
    state: StateDep,
    since: Annotated[IsoDate | None, Query(description="Records from this date (UTC) on.")] = None,
    action: Annotated[str | None, Query(pattern="^(check|batch|batch_result|import)$",
                                        description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, the newest.")] = 100,
    details: Annotated[bool, Query(description="Include each record's details (a check's evidence).")] = False,
) -> dict[str, Any]:
    """Records, oldest first: when, action, interface, key name, input and result digests, verdict, layers."""
    records = await run_in_threadpool(_trail(state).records, since, action=action, limit=limit)
    return {"records": [r.model_dump(mode="json", exclude=None if details else {"details"}) for r in records]}


@router.get("/chain", operation_id="audit_chain", name="audit_chain", dependencies=_KEYED, responses=_ERRORS,
            response_model=ChainCheck, summary="Walk the chain of record digests")
async def audit_chain(
    state: StateDep,
    kept: Annotated[str | None, Query(max_length=64, description="A digest noted from an earlier answer "
                                      "(last_digest, or 16 hex digits of it at least): it must still be in the "
                                      "trail (kept_at names its record); one no longer there is a break.")] = None,
) -> ChainCheck:
    """Whether every record's digest still matches its fields and the previous record's and, when the server has
    an audit key, whether every record is signed with it (``signed``); with ``kept``, whether a digest noted
    earlier is still there (the newest records removed leave a shorter chain that verifies)."""
    return await run_in_threadpool(_trail(state).verify, kept)


def _record(state: AppState, record_id: int) -> AuditRecord:
    try:
        return _trail(state).get(record_id)
    except InputError as error:
        raise ApiProblem(404, error.message, field="record_id", value=record_id, kind="not-found",
                         fix="所有记录见 GET /audit / GET /audit lists the records") from None


@router.get("/{record_id}", operation_id="audit_record", name="audit_record", dependencies=_KEYED,
            responses=_ERRORS, response_model=AuditRecord, summary="One audit record")
async def audit_record(state: StateDep, record_id: RecordId) -> AuditRecord:
    """One record with its details."""
    return await run_in_threadpool(_record, state, record_id)


@router.post("/{record_id}/replay", operation_id="audit_replay", name="audit_replay", dependencies=_KEYED,
             responses=_ERRORS, response_model=Verification, summary="Re-run a recorded check")
async def audit_replay(state: StateDep, record_id: RecordId) -> Verification:
    """Re-run the check on the server's store: the same result digest, or what changed."""
    await run_in_threadpool(_record, state, record_id)
    return await anyio.to_thread.run_sync(_trail(state).replay, record_id, state.store, limiter=state.checks)
