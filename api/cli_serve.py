"""``ecozone serve``: the HTTP API under uvicorn, on the embedded dataset unless told otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import logging.config
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Annotated

import typer
import uvicorn

from api.cli_options import STORE_ENV, JobsDirOption, LogFormatOption, StoreOption
from api.logs import log_config

__all__ = ["serve"]

_APP = "api.app:create_app"
logger = logging.getLogger("uvicorn.error")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes, one per core is a good start (on Linux each is "
                                              "bound to a CPU, and takes the connections in turn).")] = 1,
    store: StoreOption = None,
    jobs_dir: JobsDirOption = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    log_format: LogFormatOption = "text",
) -> None:
    """Serve the HTTP API: checks, batch jobs, the layers as OGC API - Features, and /docs.

    Every other setting comes from ECOZONE_* environment variables (see api/settings.py), e.g.
    ECOZONE_WRITE_KEYS=... to allow layer imports.
    """
    from api.settings import Settings
    from pydantic import ValidationError

    # Worker processes build their app from the environment, so options travel as ECOZONE_* variables.
    if store is not None:
        os.environ[STORE_ENV] = store
    if jobs_dir is not None:
        os.environ["ECOZONE_JOBS_DIR"] = str(jobs_dir)
    os.environ["ECOZONE_LOG_FORMAT"] = log_format
    try:
        settings = Settings()
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    _check_audit(settings)
    if workers > 1 and sys.platform == "linux":
        _serve_balanced(host, port, workers, log_level, settings.log_format)
    else:
        uvicorn.run(_APP, factory=True, host=host, port=port, workers=workers, log_level=log_level,
                    log_config=log_config(settings.log_format, log_level))


def _check_audit(settings) -> None:
    """Refuse to start, in one line, when the server could not write its audit trail (a wrong key, a key file
    open to others, ...): each worker's app would refuse too, with a traceback, and be started again."""
    from api.cli import fail
    from gis.errors import EcozoneError

    try:
        trail = settings.audit_trail()
    except EcozoneError as error:
        fail(error)
    if trail is not None:
        trail.close()


def _serve_balanced(host: str, port: int, workers: int, log_level: str, log_format: str) -> None:
    """This process accepts the connections and hands each to the worker process holding the fewest.

    A keep-alive connection stays with the worker it lands on, and a worker checks one site at a time, so the
    split of connections is the split of the work. Spread by chance (a shared socket, or SO_REUSEPORT's
    hash), 32 connections often split 18/14 or worse, and the busier worker queues checks while the other
    idles: at 300 checks/s on two cores, runs with such a split had a p99 about twice that of evenly split
    runs (benchmarks/README.md). Handed over by count, they split 16/16. Each worker is bound to one CPU, in turn over the CPUs the server may use, so that it keeps
    its caches warm. The port listens once every worker is ready; a worker that dies is replaced; SIGINT or
    SIGTERM stops them all.
    """
    listener = _bind(host, port)
    logging.config.dictConfig(log_config(log_format, log_level))
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    cpus = sorted(os.sched_getaffinity(0))
    selector = selectors.DefaultSelector()
    pool = [_Worker.start(i, cpus[i % len(cpus)], log_level, log_format, selector) for i in range(workers)]
    try:
        while not stopping.is_set():
            for key, _ in selector.select(timeout=0.5):
                if key.fileobj is listener:
                    _hand_over(listener, pool)
                else:
                    key.data.receive()
            for i, worker in enumerate(pool):
                if not worker.process.is_alive() and not stopping.is_set():
                    logger.warning("worker %s exited (code %s); starting another", worker.process.pid,
                                   worker.process.exitcode)
                    worker.close()
                    pool[i] = _Worker.start(i, worker.cpu, log_level, log_format, selector)
            if listener.fileno() not in selector.get_map() and all(w.ready for w in pool):
                listener.listen(2048)
                listener.setblocking(False)
                selector.register(listener, selectors.EVENT_READ)
                logger.info("ecozone serving on http://%s:%d with %d worker processes", host, port, workers)
    finally:
        listener.close()
        for worker in pool:
            worker.process.terminate()
        for worker in pool:
            worker.process.join(timeout=30)


class _Worker:
    """One worker process, the channel it takes connections from, and how many of them it holds."""

    def __init__(self, process, channel: socket.socket, cpu: int, selector: selectors.BaseSelector) -> None:
        self.process, self.channel, self.cpu, self.selector = process, channel, cpu, selector
        self.ready = False
        self.connections = 0

    @classmethod
    def start(cls, index: int, cpu: int, log_level: str, log_format: str,
              selector: selectors.BaseSelector) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(theirs, log_level, log_format, cpu), name=f"ecozone-worker-{index}", daemon=False)
        process.start()
        theirs.close()
        worker = cls(process, ours, cpu, selector)
        selector.register(ours, selectors.EVENT_READ, worker)
        return worker

    def receive(self) -> None:
        """What the worker says: ready (r), a connection closed (-); nothing when it has gone."""
        try:
            message = self.channel.recv(16)
        except OSError:
            message = b""
        if not message:
            self.close()  # the supervisor loop sees the process gone and replaces it
        elif message == _READY:
            self.ready = True
        elif message == _CLOSED:
            self.connections -= 1

    def take(self, connection: socket.socket) -> bool:
        try:
            socket.send_fds(self.channel, [_CONNECTION], [connection.fileno()])
        except OSError:
            self.close()
            return False
        self.connections += 1
        return True

    def close(self) -> None:
        self.ready = False
        if self.channel.fileno() != -1:
            self.selector.unregister(self.channel)
            self.channel.close()


_READY, _CLOSED, _CONNECTION = b"r", b"-", b"c"


def _hand_over(listener: socket.socket, pool: list[_Worker]) -> None:
    """Accept what is waiting; each connection goes to the ready worker holding the fewest."""
    while True:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        with connection:
            for worker in sorted((w for w in pool if w.ready), key=lambda w: w.connections):
                if worker.take(connection):
                    break
            else:
                logger.warning("no worker is ready; closed a connection from %s", connection.getpeername())


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound but not yet listening; a port another server holds is refused.

    SO_REUSEADDR lets a restart past connections of an earlier server still in TIME_WAIT, while a socket
    listening on the port still refuses it."""
    listener = socket.socket(_family(host), socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise typer.BadParameter(f"port {port} on {host} is already in use; stop that server or choose "
                                     "another --port", param_hint="--port") from None
        raise
    return listener


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _worker(channel: socket.socket, log_level: str, log_format: str, cpu: int) -> None:
    """One worker, bound to one CPU: a uvicorn server on the connections the parent hands over."""
    os.sched_setaffinity(0, {cpu})
    config = uvicorn.Config(_APP, factory=True, log_level=log_level, log_config=log_config(log_format, log_level))
    _HandedServer(config, channel).run()


class _HandedServer(uvicorn.Server):
    """A uvicorn server that listens on nothing itself: it serves the connections its parent hands over on
    ``channel``, tells the parent when it is ready and whenever a connection closes, and stops when the parent
    goes away."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._handing: set[asyncio.Task] = set()  # held until done: the loop keeps only weak references

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's lifespan, and no listening socket
        if self.should_exit:
            return
        self.channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._receive)
        self.channel.send(_READY)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=sockets)

    def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message, fds = b"", []
            if not message:
                self.should_exit = True  # the parent is gone
                loop.remove_reader(self.channel.fileno())
                return
            for fd in fds:
                task = loop.create_task(loop.connect_accepted_socket(self._protocol, socket.socket(fileno=fd)))
                self._handing.add(task)
                task.add_done_callback(self._handing.discard)

    def _protocol(self) -> asyncio.Protocol:
        protocol = self.config.http_protocol_class(config=self.config, server_state=self.server_state,
                                                    app_state=self.lifespan.state)
        lost = protocol.connection_lost

        def connection_lost(error: Exception | None) -> None:
            lost(error)
            with contextlib.suppress(OSError):
                self.channel.send(_CLOSED)

        protocol.connection_lost = connection_lost
        return protocol
