"""``ecozone serve``: the HTTP API under uvicorn, on the embedded dataset unless told otherwise."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["serve"]

_APP = "api.app:create_app"
logger = logging.getLogger("uvicorn.error")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes, one per core is a good start (on Linux each "
                                              "is bound to a CPU and listens on its own SO_REUSEPORT socket).")] = 1,
    store: Annotated[str | None, typer.Option("--store", help="GeoPackage path or postgresql:// URL "
                                                              "(default: the embedded dataset).")] = None,
    jobs_dir: Annotated[Path | None, typer.Option("--jobs-dir", help="Folder of batch jobs.")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API: checks, batch jobs, the layers as OGC API - Features, and /docs.

    Every other setting comes from ECOZONE_* environment variables (see api/settings.py), e.g.
    ECOZONE_WRITE_KEYS=... to allow layer imports.
    """
    import uvicorn

    from api.settings import Settings
    from pydantic import ValidationError

    # Worker processes build their app from the environment, so options travel as ECOZONE_* variables.
    if store is not None:
        os.environ["ECOZONE_STORE"] = store
    if jobs_dir is not None:
        os.environ["ECOZONE_JOBS_DIR"] = str(jobs_dir)
    try:
        Settings()
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    if workers > 1 and sys.platform == "linux":
        _serve_balanced(host, port, workers, log_level)
    else:
        uvicorn.run(_APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)


def _serve_balanced(host: str, port: int, workers: int, log_level: str) -> None:
    """Worker processes that each listen on a socket of their own, bound with SO_REUSEPORT.

    Linux then spreads new connections evenly over the workers. With the one socket that uvicorn's
    ``--workers`` shares, whichever worker wakes first accepts a whole burst of connections, so a client's
    pool of keep-alive connections can land on one worker while the others idle (measured with
    benchmarks/api_bench.py: 4 connections to 2 workers gave the throughput of one). Each worker is bound to
    one CPU, in turn over the CPUs the server may use, so that it keeps its caches warm (in alternating
    benchmark runs: 5–10 % less CPU per check and a lower p99 at a fixed 300 checks/s). A worker that dies is
    replaced; SIGINT or SIGTERM stops them all.
    """
    _refuse_a_taken_port(host, port)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(message)s")
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())

    cpus = sorted(os.sched_getaffinity(0))

    def start(index: int) -> multiprocessing.process.BaseProcess:
        cpu = cpus[index % len(cpus)]
        process = context.Process(target=_worker, args=(host, port, log_level, cpu), daemon=False)
        process.start()
        return process

    processes = [start(i) for i in range(workers)]
    logger.info("ecozone serving on http://%s:%d with %d worker processes (SO_REUSEPORT)", host, port, workers)
    while not stopping.wait(0.5):
        for i, process in enumerate(processes):
            if not process.is_alive():
                logger.warning("worker %s exited (code %s); starting another", process.pid, process.exitcode)
                processes[i] = start(i)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=30)


def _refuse_a_taken_port(host: str, port: int) -> None:
    """SO_REUSEPORT would let the workers share a port with another such server: make sure none listens there.

    SO_REUSEADDR lets the probe past connections of an earlier server still in TIME_WAIT (a restart), while a
    socket listening on the port still refuses it."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise typer.BadParameter(f"port {port} on {host} is already in use; stop that server or choose "
                                         "another --port", param_hint="--port") from None
            raise


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _worker(host: str, port: int, log_level: str, cpu: int) -> None:
    """One worker, bound to one CPU: its own listening socket in the port's SO_REUSEPORT group, and a
    uvicorn server on it."""
    import uvicorn

    os.sched_setaffinity(0, {cpu})
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(_APP, factory=True, host=host, port=port, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])
