"""Batch jobs kept on disk, so they survive a restart and can be read and cancelled by any server process.

Layout: ``{jobs_dir}/{job id}/`` holds ``job.json`` (the state, rewritten atomically), ``input/`` (the
uploaded file under its own name), ``results/``, while an attempt runs ``tmp/`` (its temporary files) and,
once asked, a ``cancel`` marker. A state change is a read-modify-write under an ``flock`` on the job's
``lock`` file, so processes and threads never interleave. ``{jobs_dir}/queue/`` holds an empty file per
queued job, named by its id, so that the runner looks at the queued jobs only, not at every job ever run.

One process at a time runs jobs: the one holding the ``flock`` on ``{jobs_dir}/runner.lock``. Other server
processes (``ecozone serve --workers N``) take it over if that process dies. Each attempt of a job runs in a
process of its own (``api.job_worker``) under a memory and a time cap, so that an input that crashes the
screening (a segfault, a stack overflow, memory exhausted) ends that process only. The attempt is counted
in ``job.json`` before the process starts; an attempt that crashes is retried until ``JobLimits.attempts``
attempts have been made, then the job fails with the reason, also when the crash took the whole server
down: when a runner takes the lock, a job still marked ``running`` lost its runner, and is queued again
(from the start: the results are only written at the end, so nothing half-done is served) or, out of
attempts, failed. It also puts back in ``queue/`` any queued job missing there (a process that stopped
between the two writes). Retries are for crashes that need not be the input's (the machine, the server
stopping); an attempt that ran out of its time or memory cap fails the job at once, as it would again.

A process killed (on cancel, on a cap, with its server) never removes the outputs it was writing
(``results/.*.partial*``); the runner deletes them when such an attempt ends, and a starting server for
every job not running, so that submitting and cancelling cannot fill the disk.

Every server process stages uploads and keeps its temporary files in ``{jobs_dir}/.scratch/{id}/``, held
by an ``flock`` while the process lives; at start, the scratch folders of processes that are gone (a
crash leaves them) are deleted. The runner also deletes finished jobs (input and results) once they are
older than the retention period, and staged uploads abandoned for a day: a server runs for years, and its
disk must not fill.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field, ValidationError

from api import job_worker
from api.job_worker import Work

__all__ = ["RESULT_FORMATS", "Job", "JobLimits", "JobManager", "JobStatus", "Work"]

log = logging.getLogger("ecozone.jobs")

#: Result formats of a screening job: suffix -> media type.
RESULT_FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
}

_ID = re.compile(r"[0-9a-f]{32}")
_PROGRESS_EVERY_S = 0.2
_POLL_S = 0.5
#: Seconds the runner waits after a failed turn before it tries again.
_RETRY_S = 2.0
#: How often a running attempt is looked at (cancel marker, time cap, server stopping).
_WATCH_S = 0.2
_PRUNE_EVERY_S = 3600.0
#: An upload still staged after this long belongs to a request that never finished.
_ABANDONED_UPLOAD_S = 86400.0
#: Folders earlier versions staged uploads in, under the system's temporary folder.
_LEGACY_STAGING = ("ecozone-check-*", "ecozone-import-*")
#: Spawned, not forked: a fork of the threaded server would inherit its locks and connections mid-use.
_PROCESSES = multiprocessing.get_context("spawn")
#: Outputs being written (``gis.batch.outputs.partial_path``), and what SQLite keeps beside a GeoPackage.
_PARTIAL = ".*.partial*"


@dataclass(frozen=True)
class JobLimits:
    """What one job may take: attempts in all, and per attempt seconds and address space (bytes)."""

    attempts: int = 3
    seconds: float = 3600.0
    memory_bytes: int = 6 * 1024**3


class JobStatus(str, Enum):
    """Where a job is: queued, running, or one of the finished states."""
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = {JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _exit_reason(exitcode: int | None) -> tuple[str, str]:
    """Why a job's process ended without an outcome, in Chinese and English."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown"
        return (f"筛查进程异常退出（信号 {-exitcode}，{name}）",
                f"the screening process ended abnormally (signal {-exitcode}, {name})")
    return f"筛查进程异常退出（退出码 {exitcode}）", f"the screening process ended abnormally (exit code {exitcode})"


def _limit_reason(kind: str, limits: JobLimits) -> tuple[str, str]:
    """The reason of a limit a job's process reported hitting (``api.job_worker``), in Chinese and English."""
    if kind == "memory":
        mib = limits.memory_bytes // 2**20
        return f"筛查进程超出内存上限（{mib} MiB）", f"the screening process ran out of its memory cap ({mib} MiB)"
    return "筛查进程的递归过深（输入嵌套过深）", "the screening process recursed too deep (deeply nested input)"


def _out_of_memory(limits: JobLimits, source: str) -> dict[str, Any]:
    """The error of a job whose process ran out of its memory cap: it would again, so it is not retried."""
    chinese, english = _limit_reason("memory", limits)
    return _error(chinese, english, source,
                  "将文件拆分为较小的批次分别提交，或请运维调高 ECOZONE_JOB_MAX_MEMORY_MB（上限按地址空间计，约为常驻内存的两倍） / "
                  "split the file into smaller batches, or ask the operator to raise ECOZONE_JOB_MAX_MEMORY_MB (it "
                  "caps address space, about twice the memory a batch keeps resident)")


def _error(chinese: str, english: str, source: str, fix: str) -> dict[str, Any]:
    """A job's error, with the keys of ``EcozoneError.to_dict``."""
    return {"type": "JobError", "message": f"{chinese} / {english}", "source": source, "row": None,
            "field": "file", "value": None, "fix": fix}


def _gave_up(reason: tuple[str, str], attempts: int, source: str) -> dict[str, Any]:
    """The error of a job that ended abnormally in every one of its ``attempts``."""
    return _error(f"{reason[0]}，已重试 {attempts - 1} 次", f"{reason[1]}; tried {attempts} times", source,
                  "检查输入文件（例如单元格中嵌套过深的 WKT、声明了超大范围的工作表），或拆分后再提交；服务日志中有详情 / "
                  "check the input (e.g. a cell of deeply nested WKT, a sheet declaring a huge range) or split it; "
                  "the server log has the details")


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
    attempts: int = Field(default=0, description="Times the job was started, counted before each start (more "
                                                 "than 1 after a crash or a restart).")
    report: dict[str, Any] | None = Field(default=None, description="The screening report, once succeeded.")
    error: dict[str, Any] | None = Field(default=None, description="Why the job failed.")
    notes: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more (succeeded, failed or cancelled)."""
        return self.status in FINISHED


class JobManager:
    """Creates, runs, reads and cancels batch jobs under one folder.

    Parameters
    ----------
    root
        The jobs folder (created if missing).
    work
        The work of a job (``api.job_worker.Work``), run in a process of its own for each attempt.
    keep_days
        Days a finished job is kept after it finished; 0 keeps every job.
    limits
        Attempts per job, and the time and memory caps of each attempt.
    finished
        Called in this process with a job that succeeded and its result files (e.g. to record them in the
        audit trail), before the job reads as succeeded.
    """

    def __init__(self, root: Path, work: Work, keep_days: float = 30.0, limits: JobLimits = JobLimits(),
                 finished: Callable[[Job, dict[str, Path]], None] | None = None) -> None:
        self.root = Path(root)
        self._finished = finished
        self.keep_days = keep_days
        self.limits = limits
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue = self.root / "queue"  # one empty file per queued job, named by its id
        self._queue.mkdir(exist_ok=True)
        self._work = work
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: BinaryIO | None = None
        self._scratch: tuple[Path, BinaryIO] | None = None
        self._system_tmp = Path(tempfile.gettempdir())
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

    @property
    def scratch(self) -> Path:
        """This process's own folder for staged uploads and temporary files, held (``flock``) while it lives."""
        if self._scratch is None:
            parent = self.root / ".scratch"
            parent.mkdir(exist_ok=True)
            folder = Path(tempfile.mkdtemp(dir=parent, prefix=f"{os.getpid()}-"))
            handle = open(folder / "lock", "ab")  # noqa: SIM115 - held open: the lock lives as long as the process
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._scratch = (folder, handle)
        return self._scratch[0]

    def staging(self) -> Path:
        """A new private folder for an upload in progress, on the jobs folder's file system."""
        return Path(tempfile.mkdtemp(dir=self.scratch))

    def get(self, job_id: str) -> Job | None:
        """The job, or None when there is no such job."""
        if not _ID.fullmatch(job_id):
            return None
        try:
            return Job.model_validate_json((self.root / job_id / "job.json").read_bytes())
        except FileNotFoundError:  # no such job, or one just deleted by ``prune``
            return None
        except ValidationError as error:  # written over or cut short outside ecozone: there is no job to serve
            log.error("job %s cannot be read, passed over: %s", job_id, str(error).splitlines()[0])
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
        """Where the job's result in format ``fmt`` is written."""
        return self.root / job_id / "results" / f"result.{fmt}"

    # -- the runner -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Delete what crashed processes left, then start the thread that takes the runner lock when it is
        free and runs queued jobs."""
        self.prune_leftovers()
        self._thread = threading.Thread(target=self._loop, name="ecozone-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the runner (a job it was running goes back to the queue) and delete this process's scratch."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._scratch is not None:
            folder, handle = self._scratch
            shutil.rmtree(folder, ignore_errors=True)
            handle.close()
            self._scratch = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception:  # the runner outlives any one failure (out of file handles, a disk full ...)
                log.exception("the job runner failed a turn; it tries again in %g s", _RETRY_S)
                self._stop.wait(_RETRY_S)

    def _turn(self) -> None:
        """Take the runner lock, or run the next queued job, or wait for one."""
        if self._lock_file is None and not self._take_runner_lock():
            self._stop.wait(1.0)
            return
        if time.monotonic() - self._pruned_at >= _PRUNE_EVERY_S:
            self.prune()
        job = self._next_queued()
        if job is None:
            self._wake.wait(_POLL_S)
            self._wake.clear()
            return
        self._run(job)

    def _take_runner_lock(self) -> bool:
        handle = open(self.root / "runner.lock", "ab")  # noqa: SIM115 - held open while this process runs jobs
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        self._requeue_orphans()
        return True

    def _requeue_orphans(self) -> None:
        """Jobs marked running while nobody held the runner lock lost their runner: queue them again, or fail
        them once they have had all their attempts (the server itself may be what their input crashes)."""
        for job in self._all():
            if job.status is JobStatus.running:
                shutil.rmtree(self.root / job.id / "tmp", ignore_errors=True)
                self._remove_partials(job.id)
                with self._locked(job.id):
                    (self.root / job.id / "cancel").unlink(missing_ok=True)
                    if job.attempts >= self.limits.attempts:
                        reason = ("服务进程在筛查中停止", "the server stopped while the job ran")
                        self._write(job.model_copy(update={
                            "status": JobStatus.failed, "finished_at": _now(),
                            "error": _gave_up(reason, job.attempts, job.input_name)}))
                        log.error("job %s failed: the server stopped in each of its %d attempts", job.id,
                                  job.attempts)
                        continue
                    self._write(job.model_copy(update={
                        "status": JobStatus.queued, "done": 0,
                        "notes": [*job.notes, (f"{_now()}: 服务进程在筛查中停止，重新排队（第 {job.attempts} 次尝试） / "
                                               f"the server stopped while the job ran; re-queued "
                                               f"(attempt {job.attempts})")],
                    }))
                log.warning("job %s re-queued: its runner stopped while it ran", job.id)
            if job.status in (JobStatus.running, JobStatus.queued):
                self._enqueue(job.id)

    def prune(self, now: dt.datetime | None = None) -> list[str]:
        """Delete the jobs that finished more than ``keep_days`` ago, and uploads abandoned for a day; returns
        the ids of the deleted jobs. The runner calls it hourly."""
        self._pruned_at = time.monotonic()
        now = now or dt.datetime.now(dt.UTC)
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
        staged = [*(self.root / ".uploads").glob("*"), *(self.root / ".scratch").glob("*/*")]
        for path in staged:
            with contextlib.suppress(FileNotFoundError):  # a request may finish with it meanwhile
                if path.name != "lock" and now.timestamp() - path.stat().st_mtime > _ABANDONED_UPLOAD_S:
                    shutil.rmtree(path, ignore_errors=True)
        return deleted

    def prune_leftovers(self) -> list[Path]:
        """Delete the scratch folders of server processes that are gone (their ``flock`` is free), the partial
        outputs of jobs not running (a killed attempt's) and the staging folders earlier versions left in the
        system's temporary folder for a day; returns them."""
        deleted = []
        for job in self._all():
            # a job's attempt starts under its lock: none starts meanwhile (a job just pruned has no folder)
            with contextlib.suppress(FileNotFoundError), self._locked(job.id):
                current = self.get(job.id)
                if current is not None and current.status is not JobStatus.running:
                    deleted += self._remove_partials(job.id)
        for folder in (self.root / ".scratch").glob("*"):
            if self._scratch is not None and folder == self._scratch[0]:
                continue
            try:
                with open(folder / "lock", "ab") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    shutil.rmtree(folder, ignore_errors=True)
            except (BlockingIOError, NotADirectoryError):
                continue  # its process lives, or it is no folder of ours
            except FileNotFoundError:  # a process that died before it took its lock, or one just deleted
                shutil.rmtree(folder, ignore_errors=True)
            deleted.append(folder)
        for pattern in _LEGACY_STAGING:
            for folder in self._system_tmp.glob(pattern):
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - folder.stat().st_mtime > _ABANDONED_UPLOAD_S:
                        shutil.rmtree(folder, ignore_errors=True)
                        deleted.append(folder)
        if deleted:
            log.info("deleted %d folders left by stopped server processes", len(deleted))
        return deleted

    def _remove_partials(self, job_id: str) -> list[Path]:
        """Delete the outputs an attempt of the job left half written; the finished results are left alone."""
        removed = []
        for path in (self.root / job_id / "results").glob(_PARTIAL):
            with contextlib.suppress(FileNotFoundError):
                size = path.stat().st_size
                path.unlink()
                removed.append(path)
                log.info("job %s: deleted %s (%d bytes) its stopped attempt left", job_id, path.name, size)
        return removed

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
        """One attempt of a queued job: counted first, run in its own process, then the job's new state."""
        with self._locked(job.id):
            job = self.get(job.id)
            if job.status is not JobStatus.queued:  # cancelled in the meantime
                return
            job = job.model_copy(update={"status": JobStatus.running, "started_at": _now(),
                                         "attempts": job.attempts + 1, "done": 0, "total": None})
            self._write(job)
        (self._queue / job.id).unlink(missing_ok=True)
        outcome, detail = self._attempt(job)
        update: dict[str, Any]
        if outcome == "succeeded":
            update = {"status": JobStatus.succeeded, "report": detail}
        elif outcome == "failed":
            update = {"status": JobStatus.failed, "error": detail}
        elif outcome == "cancelled":
            update = {"status": JobStatus.cancelled}
        elif outcome == "stopped":  # not the job's fault: the attempt is not counted
            update = {"status": JobStatus.queued, "done": 0, "started_at": None, "attempts": job.attempts - 1,
                      "notes": [*job.notes, f"{_now()}: 服务进程在筛查中停止，重新排队 / the server stopped while the job "
                                            "ran; re-queued"]}
        elif outcome == "out_of_memory":  # deterministic: the same input under the same cap does it again
            log.error("job %s: attempt %d ran out of its memory cap; not retried", job.id, job.attempts)
            update = {"status": JobStatus.failed, "error": _out_of_memory(self.limits, job.input_name)}
        elif outcome == "timed_out":
            seconds = f"{self.limits.seconds:g}"
            update = {"status": JobStatus.failed, "error": _error(
                f"筛查超过时限（{seconds} 秒），已停止", f"the screening took longer than this server allows "
                f"({seconds} s) and was stopped", job.input_name,
                "将文件拆分为较小的批次分别提交 / split the file into smaller batches, or ask the operator to "
                "raise ECOZONE_JOB_MAX_SECONDS")}
        else:  # crashed: ``detail`` is the reason, Chinese and English
            log.error("job %s: attempt %d of %d ended: %s", job.id, job.attempts, self.limits.attempts, detail[1])
            if job.attempts < self.limits.attempts:
                update = {"status": JobStatus.queued, "done": 0, "started_at": None, "notes": [
                    *job.notes, (f"{_now()}: {detail[0]}（第 {job.attempts} 次尝试），重新排队 / {detail[1]} "
                                 f"(attempt {job.attempts}); re-queued")]}
            else:
                update = {"status": JobStatus.failed, "error": _gave_up(detail, job.attempts, job.input_name)}
        if update["status"] is JobStatus.succeeded and self._finished is not None:
            try:
                self._finished(job.model_copy(update=update), {fmt: self.result(job.id, fmt) for fmt in RESULT_FORMATS})
            except Exception:  # noqa: BLE001 - the results stand; what could not be recorded is in the log
                log.exception("job %s: what follows its success failed", job.id)
        if update["status"] is not JobStatus.succeeded:
            for fmt in RESULT_FORMATS:
                self.result(job.id, fmt).unlink(missing_ok=True)
        if update["status"] is not JobStatus.queued:
            update["finished_at"] = _now()
        self._update(job.id, **update)
        if update["status"] is JobStatus.queued:
            self._enqueue(job.id)

    def _attempt(self, job: Job) -> tuple[str, Any]:
        """Run the job's work in a process of its own and watch it: progress, cancel, the time cap, the
        server stopping. Returns (outcome, detail): succeeded (report), failed (error), cancelled, stopped,
        timed_out, out_of_memory, or crashed ((Chinese, English) reason)."""
        folder = self.root / job.id
        marker = folder / "cancel"
        outputs = {fmt: self.result(job.id, fmt).relative_to(folder) for fmt in RESULT_FORMATS}
        reader, writer = _PROCESSES.Pipe(duplex=False)
        process = _PROCESSES.Process(
            target=job_worker.run, name=f"ecozone-job-{job.id[:8]}",
            args=(self._work, job, folder, Path("input") / job.input_name, outputs, writer, os.getpid(),
                  self.limits.memory_bytes))
        process.start()
        writer.close()  # the child holds the only writing end: its exit is an end of file here
        deadline = time.monotonic() + self.limits.seconds
        written = 0.0
        message: tuple | None = None
        try:
            while message is None:
                if marker.exists():
                    message = ("cancelled", None)
                elif self._stop.is_set():
                    message = ("stopped", None)
                elif time.monotonic() > deadline:
                    message = ("timed_out", None)
                elif reader.poll(_WATCH_S):
                    try:
                        received = reader.recv()
                    except EOFError:  # the process ended without an outcome: it crashed
                        break
                    if received[0] != "progress":
                        message = received
                    elif time.monotonic() - written >= _PROGRESS_EVERY_S or received[1] >= received[2]:
                        written = time.monotonic()
                        self._update(job.id, done=received[1], total=received[2])
        finally:
            reader.close()
            if message is None or message[0] in ("cancelled", "stopped", "timed_out"):
                process.kill()
            process.join(30)
            if process.is_alive():  # it sent its outcome but does not end
                process.kill()
                process.join()
            exitcode = process.exitcode
            process.close()
            shutil.rmtree(folder / "tmp", ignore_errors=True)
            if message is None or message[0] != "succeeded":  # a killed process never ran its own clean-up
                self._remove_partials(job.id)
        if message is None:
            return "crashed", _exit_reason(exitcode)
        if message == ("crashed", "memory"):
            return "out_of_memory", None
        if message[0] == "crashed":
            return "crashed", _limit_reason(message[1], self.limits)
        return message[0], message[1]

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
