"""Batch jobs kept on disk, so they survive a restart and can be read and cancelled by any server process.

Layout: ``{jobs_dir}/{job id}/`` holds ``job.json`` (the state, rewritten atomically), ``input/`` (the
uploaded file under its own name), ``results/`` and, once asked, a ``cancel`` marker. A state change is a
read-modify-write under an ``flock`` on the job's ``lock`` file, so processes and threads never interleave.
``{jobs_dir}/queue/`` holds an empty file per queued job, named by its id, so that the runner looks at the
queued jobs only, not at every job ever run.

One process at a time runs jobs: the one holding the ``flock`` on ``{jobs_dir}/runner.lock``. Other server
processes (``ecozone serve --workers N``) take it over if that process dies. When a runner takes the lock it
re-queues every job still marked ``running``: its runner died with it, the input is kept, and the job is
run again from the start (the results are only written at the end, so nothing half-done is served). It also
puts back in ``queue/`` any queued job missing there (a process that stopped between the two writes).

The runner also deletes finished jobs (input and results) once they are older than the retention period,
and uploads abandoned in ``.uploads/`` for a day: a server runs for years, and its disk must not fill.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
import threading
import uuid
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field

from gis.errors import EcozoneError

__all__ = ["Job", "JobManager", "JobStatus", "RESULT_FORMATS", "Runner"]

log = logging.getLogger("ecozone.jobs")

#: Result formats of a screening job: suffix -> media type.
RESULT_FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}

_ID = re.compile(r"^[0-9a-f]{32}$")
_PROGRESS_EVERY_S = 0.2
_POLL_S = 0.5
_PRUNE_EVERY_S = 3600.0
#: An upload still staged after this long belongs to a request that never finished.
_ABANDONED_UPLOAD_S = 86400.0

#: ``run(input_path, outputs, progress, cancel) -> report``: the work of one job (``gis.batch.screen_file``
#: bound to the store and the job's options).
Runner = Callable[[Path, dict[str, Path], Callable[[int, int], None], Callable[[], bool]], dict[str, Any]]


class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = {JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Job(BaseModel):
    """The state of one batch job, as stored in ``job.json``."""

    id: str
    status: JobStatus
    input_name: str = Field(description="Name of the uploaded file.")
    input_bytes: int
    options: dict[str, Any] = Field(default_factory=dict, description="Screening options (as_of, columns).")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    done: int = Field(default=0, description="Rows screened so far.")
    total: int | None = Field(default=None, description="Rows to screen, once known.")
    attempts: int = Field(default=0, description="Times the job was started (more than 1 after a restart).")
    report: dict[str, Any] | None = Field(default=None, description="The screening report, once succeeded.")
    error: dict[str, Any] | None = Field(default=None, description="Why the job failed.")
    notes: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class JobManager:
    """Creates, runs, reads and cancels batch jobs under one folder.

    Parameters
    ----------
    root
        The jobs folder (created if missing).
    make_runner
        ``make_runner(job) -> Runner``: the work for a job, given its options.
    keep_days
        Days a finished job is kept after it finished; 0 keeps every job.
    """

    def __init__(self, root: Path, make_runner: Callable[[Job], Runner], keep_days: float = 30.0) -> None:
        self.root = Path(root)
        self.keep_days = keep_days
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue = self.root / "queue"  # one empty file per queued job, named by its id
        self._queue.mkdir(exist_ok=True)
        self._make_runner = make_runner
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: BinaryIO | None = None
        self._pruned_at = 0.0

    # -- what routes call ----------------------------------------------------------------------------------
    def submit(self, upload: Path, options: dict[str, Any]) -> Job:
        """Move an uploaded file (on the jobs folder's file system) into a new queued job."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        (folder / "input").mkdir(parents=True)
        (folder / "results").mkdir()
        target = folder / "input" / upload.name
        os.replace(upload, target)
        job = Job(id=job_id, status=JobStatus.queued, input_name=upload.name, input_bytes=target.stat().st_size,
                  options=options, created_at=_now())
        self._write(job)
        self._enqueue(job_id)
        self._wake.set()
        return job

    def staging(self) -> Path:
        """A new private folder for an upload in progress, on the jobs folder's file system."""
        (self.root / ".uploads").mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root / ".uploads"))

    def get(self, job_id: str) -> Job | None:
        """The job, or None when there is no such job."""
        if not _ID.match(job_id):
            return None
        try:
            return Job.model_validate_json((self.root / job_id / "job.json").read_bytes())
        except FileNotFoundError:  # no such job, or one just deleted by ``prune``
            return None

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask the runner to stop a running one; finished jobs are left as they are."""
        with self._locked(job_id):
            job = self.get(job_id)
            if job.status is JobStatus.queued:
                job = job.model_copy(update={"status": JobStatus.cancelled, "finished_at": _now()})
                self._write(job)
            elif job.status is JobStatus.running:
                (self.root / job_id / "cancel").touch()
        return job

    def result(self, job_id: str, fmt: str) -> Path:
        return self.root / job_id / "results" / f"result.{fmt}"

    # -- the runner -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread that takes the runner lock when it is free and runs queued jobs."""
        self._thread = threading.Thread(target=self._loop, name="ecozone-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the runner; a job it was running goes back to the queue for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._lock_file is None and not self._take_runner_lock():
                self._stop.wait(1.0)
                continue
            if time.monotonic() - self._pruned_at >= _PRUNE_EVERY_S:
                self.prune()
            job = self._next_queued()
            if job is None:
                self._wake.wait(_POLL_S)
                self._wake.clear()
                continue
            self._run(job)

    def _take_runner_lock(self) -> bool:
        handle = open(self.root / "runner.lock", "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        self._requeue_orphans()
        return True

    def _requeue_orphans(self) -> None:
        """Jobs marked running while nobody held the runner lock lost their runner: queue them again."""
        for job in self._all():
            if job.status is JobStatus.running:
                with self._locked(job.id):
                    (self.root / job.id / "cancel").unlink(missing_ok=True)
                    self._write(job.model_copy(update={
                        "status": JobStatus.queued, "done": 0,
                        "notes": [*job.notes, f"{_now()}: the server stopped while the job ran; re-queued"],
                    }))
                log.warning("job %s re-queued: its runner stopped while it ran", job.id)
            if job.status in (JobStatus.running, JobStatus.queued):
                self._enqueue(job.id)

    def prune(self, now: dt.datetime | None = None) -> list[str]:
        """Delete the jobs that finished more than ``keep_days`` ago, and uploads abandoned for a day; returns
        the ids of the deleted jobs. The runner calls it hourly."""
        self._pruned_at = time.monotonic()
        now = now or dt.datetime.now(dt.timezone.utc)
        deleted = []
        if self.keep_days > 0:
            cutoff = now - dt.timedelta(days=self.keep_days)
            for job in self._all():
                if job.finished and job.finished_at and dt.datetime.fromisoformat(job.finished_at) < cutoff:
                    with self._locked(job.id):
                        shutil.rmtree(self.root / job.id)
                    deleted.append(job.id)
        if deleted:
            log.info("deleted %d jobs finished before %s (ECOZONE_JOB_KEEP_DAYS=%g)", len(deleted),
                     cutoff.isoformat(timespec="seconds"), self.keep_days)
        for staged in (self.root / ".uploads").glob("*"):
            with contextlib.suppress(FileNotFoundError):  # a request may finish with it meanwhile
                if now.timestamp() - staged.stat().st_mtime > _ABANDONED_UPLOAD_S:
                    shutil.rmtree(staged, ignore_errors=True)
        return deleted

    def _enqueue(self, job_id: str) -> None:
        (self._queue / job_id).touch()

    def _all(self) -> Iterator[Job]:
        for folder in self.root.iterdir():
            if folder.is_dir():
                job = self.get(folder.name)
                if job is not None:
                    yield job

    def _next_queued(self) -> Job | None:
        queued = []
        for marker in list(self._queue.iterdir()):
            job = self.get(marker.name)
            if job is not None and job.status is JobStatus.queued:
                queued.append(job)
            else:  # cancelled while queued, or gone: the marker is stale
                marker.unlink(missing_ok=True)
        return min(queued, key=lambda job: job.created_at) if queued else None

    def _run(self, job: Job) -> None:
        with self._locked(job.id):
            job = self.get(job.id)
            if job.status is not JobStatus.queued:  # cancelled in the meantime
                return
            job = job.model_copy(update={"status": JobStatus.running, "started_at": _now(),
                                         "attempts": job.attempts + 1, "done": 0, "total": None})
            self._write(job)
        (self._queue / job.id).unlink(missing_ok=True)
        folder = self.root / job.id
        marker = folder / "cancel"
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = dt.datetime.now().timestamp()
            if now - last[0] >= _PROGRESS_EVERY_S or done >= total:
                last[0] = now
                self._update(job.id, done=int(done), total=int(total))

        def cancel() -> bool:
            return self._stop.is_set() or marker.exists()

        outputs = {fmt: self.result(job.id, fmt) for fmt in RESULT_FORMATS}
        update: dict[str, Any]
        try:
            report = self._make_runner(job)(folder / "input" / job.input_name, outputs, progress, cancel)
            update = {"status": JobStatus.succeeded, "report": report}
        except EcozoneError as error:
            if marker.exists():
                update = {"status": JobStatus.cancelled}
            elif self._stop.is_set():
                update = {"status": JobStatus.queued, "done": 0, "started_at": None,
                          "notes": [*job.notes, f"{_now()}: the server stopped while the job ran; re-queued"]}
            else:
                update = {"status": JobStatus.failed, "error": error.to_dict()}
        except Exception:  # noqa: BLE001 — one broken job must not stop the runner
            log.exception("job %s failed unexpectedly", job.id)
            update = {"status": JobStatus.failed, "error": {
                "type": "InternalError", "message": "the screening failed on the server; the error is in its log",
                "fix": "report it with the input file"}}
        if update["status"] is not JobStatus.succeeded:
            for path in outputs.values():
                path.unlink(missing_ok=True)
        if update["status"] is not JobStatus.queued:
            update["finished_at"] = _now()
        self._update(job.id, **update)
        if update["status"] is JobStatus.queued:
            self._enqueue(job.id)

    # -- state on disk --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, job_id: str) -> Iterator[None]:
        with open(self.root / job_id / "lock", "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._locked(job_id):
            self._write(self.get(job_id).model_copy(update=changes))

    def _write(self, job: Job) -> None:
        path = self.root / job.id / "job.json"
        temporary = path.with_name(f".job.{threading.get_ident()}.json")
        temporary.write_text(job.model_dump_json(indent=1), encoding="utf-8")
        os.replace(temporary, path)
