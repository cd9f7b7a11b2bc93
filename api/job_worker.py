"""What runs inside a batch job's own process: the limits it runs under and what it tells the server.

Each attempt of a job runs in a process spawned for it (never forked from the threaded server), so whatever
its input does (a segfault in a C library, a stack overflow, memory exhausted) ends that process only, and
the server that watches it marks the attempt. The process

- dies with the server thread that started it (``PR_SET_PDEATHSIG``): a job never outlives its watcher, and
  a server killed with ``kill -9`` leaves no job running that the next server would run a second time;
- runs under an address-space cap (``RLIMIT_AS``), so a memory bomb ends in ``MemoryError`` in this process
  instead of exhausting the machine, and writes no core file; the cap counts address space, not resident
  memory, so a thread's stack is often what no longer fits: ``can't start new thread`` is that same cap;
- works in the job's folder with the job's own temporary folder, so what it leaves behind stays in the job
  (the server removes it) and the paths it reports (report, result workbook) are relative, never the server's;
- sends ``("progress", done, total)`` while it works, then one of ``("succeeded", report)``,
  ``("failed", error)`` (an input error: the job fails at once) or ``("crashed", reason)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import sys
import tempfile
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["Work", "run"]

#: ``work(job, input_path, outputs, progress) -> report``: one job's work, called in its process with the
#: job's folder as working directory (paths are relative to it). It crosses into a spawned process, so it
#: must be picklable: a module-level function, or a ``functools.partial`` of one.
Work = Callable[[Any, Path, dict[str, Path], Callable[[int, int], None]], dict[str, Any]]


log = logging.getLogger("ecozone.jobs")

#: What ``threading`` raises when a thread's stack cannot be mapped (Python 3.11-3.13 say it so).
_NO_THREAD = "can't start new thread"


def _limit_hit(error: BaseException) -> str | None:
    """The limit an unexpected error comes from ("memory", "recursion"), looking through what it was raised
    from (a pool re-raises a thread's error; a library may wrap it), or None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and _NO_THREAD in str(error)):
            return "memory"
        if isinstance(error, RecursionError):
            return "recursion"
        error = error.__cause__ or error.__context__
    return None


#: glibc's ``mallopt`` parameter ``M_ARENA_MAX``, and the arenas a job's process may have.
_M_ARENA_MAX, _ARENAS = -8, 2


def _fewer_arenas() -> None:
    """Let glibc's malloc make 2 arenas, not 8 per core: each reserves 64 MiB of address space, which the cap
    counts though little of it is used (a 100,000-row job: 2.7 GB of address space for 0.54 GB resident,
    2.1 GB with 2 arenas, as fast). Where the C library is not glibc, nothing changes."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, _ARENAS)


def _die_with_parent(parent: int) -> None:
    """End with the server (``gis.forked.end_with_parent``), and now if it has already ended."""
    from gis.forked import end_with_parent

    end_with_parent()
    if os.getppid() != parent:  # the server died before the request took effect
        os._exit(1)


def run(work: Work, job: Any, folder: Path, input_path: Path, outputs: dict[str, Path], conn: Connection,
        parent: int, memory_bytes: int) -> None:
    """The body of a job's process: set the limits, do the work, send the outcome, exit."""
    _fewer_arenas()
    _die_with_parent(parent)
    from gis.batch.columnar import use_system_memory_pool

    use_system_memory_pool()  # as the server's process does; a spawned one starts with Arrow's default
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir(folder)
    for path in outputs.values():  # an attempt cut short (its server crashed) left them half written: this job's own
        path.unlink(missing_ok=True)
    scratch = Path("tmp").resolve()
    scratch.mkdir(exist_ok=True)
    tempfile.tempdir = str(scratch)

    def progress(done: int, total: int) -> None:
        conn.send(("progress", int(done), int(total)))

    from gis.errors import EcozoneError

    try:
        outcome: tuple = ("succeeded", work(job, input_path, outputs, progress))
    except EcozoneError as error:
        outcome = ("failed", error.to_dict())
    except BaseException as error:  # noqa: BLE001 - whatever it is, the server is told and the process ends
        limit = _limit_hit(error)
        if limit is not None:  # under the cap: what did not fit is the cap's doing, not a bug to report
            print(f"job {job.id} hit its {limit} limit: {error!r}", file=sys.stderr)
            outcome = ("crashed", limit)
        else:
            print(f"job {job.id} failed unexpectedly:\n{traceback.format_exc()}", file=sys.stderr)
            outcome = ("failed", {
                "type": "InternalError", "message": "筛查在服务器上出错，错误已记入服务日志 / the screening failed on "
                                                    "the server; the error is in its log",
                "source": None, "row": None, "field": None, "value": None,
                "fix": "请连同输入文件报告此问题 / report it with the input file"})
    try:
        conn.send(outcome)
    except MemoryError:
        conn.send(("crashed", "memory"))
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown: the outcome is sent, nothing else is owed
