"""``ecozone serve --workers N``: the server process hands each connection to the worker holding the fewest,
a dead worker is replaced, a taken port is refused."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.api_support import REPO, ApiServer


def _workers(server: ApiServer, count: int, timeout: float = 120) -> list[psutil.Process]:
    """The server's worker processes (multiprocessing children, not its resource tracker), once there are
    ``count``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [c for c in psutil.Process(server.process.pid).children()
                   if any("spawn_main" in part for part in c.cmdline())]
        if len(workers) == count:
            return workers
        time.sleep(0.25)
    raise AssertionError(f"expected {count} workers, found {len(workers)}")


def _held(worker: psutil.Process, port: int) -> set[int]:
    """Client ports of the connections to ``port`` that ``worker`` holds."""
    return {conn.raddr.port for conn in worker.net_connections("tcp")
            if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port}


def _connect(server: ApiServer, count: int) -> list[http.client.HTTPConnection]:
    """``count`` keep-alive connections, each opened by one request."""
    connections = []
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.request("GET", "/ogc/conformance")
        response = connection.getresponse()
        assert response.status == 200 and response.read()
        connections.append(connection)
    return connections


def _close(connections: list[http.client.HTTPConnection]) -> None:
    for connection in connections:
        connection.close()


@pytest.fixture
def two_workers(tmp_path):
    server = ApiServer(tmp_path / "jobs", tmp_path / "server.log", workers=2).start()
    yield server
    server.stop()


def test_connections_are_split_evenly_and_each_worker_has_its_cpu(two_workers):
    workers = _workers(two_workers, 2)
    allowed = sorted(psutil.Process().cpu_affinity())
    assert [w.cpu_affinity() for w in workers] in ([[allowed[0]], [allowed[1 % len(allowed)]]],
                                                   [[allowed[1 % len(allowed)]], [allowed[0]]])
    connections = _connect(two_workers, 16)
    try:
        assert [len(_held(w, two_workers.port)) for w in workers] == [8, 8]
        assert not any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == two_workers.port
                       for c in psutil.Process(two_workers.process.pid).net_connections("tcp"))
    finally:
        _close(connections)


def test_new_connections_go_to_the_worker_holding_the_fewest(two_workers):
    first, second = _workers(two_workers, 2)
    connections = _connect(two_workers, 8)
    try:
        held = _held(first, two_workers.port)
        assert len(held) == 4
        _close([c for c in connections if c.sock.getsockname()[1] in held])  # the first worker now holds none
        deadline = time.monotonic() + 30
        while _held(first, two_workers.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        connections += _connect(two_workers, 4)
        assert len(_held(first, two_workers.port)) == 4 and len(_held(second, two_workers.port)) == 4
    finally:
        _close(connections)


def test_a_worker_that_dies_is_replaced(two_workers):
    first, second = _workers(two_workers, 2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    deadline = time.monotonic() + 120
    while first.pid in {w.pid for w in _workers(two_workers, 2)} and time.monotonic() < deadline:
        time.sleep(0.25)
    replaced = _workers(two_workers, 2)
    assert second.pid in {w.pid for w in replaced} and first.pid not in {w.pid for w in replaced}
    new = next(w for w in replaced if w.pid != second.pid)
    connections = []  # the survivor serves them until the new worker is ready, then both do
    try:
        deadline = time.monotonic() + 120
        while not _held(new, two_workers.port) and time.monotonic() < deadline:
            connections += _connect(two_workers, 1)
            time.sleep(0.25)
        assert _held(new, two_workers.port) and _held(second, two_workers.port)
    finally:
        _close(connections)


def test_sigterm_stops_the_workers_too(two_workers):
    workers = _workers(two_workers, 2)
    two_workers.process.terminate()
    assert two_workers.process.wait(timeout=60) == 0
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


def test_a_port_in_use_is_refused_with_the_fix(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--workers", "2"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "already in use" in result.stderr and "--port" in result.stderr


def test_a_restart_is_not_refused_for_connections_of_the_last_server(tmp_path):
    """Connections the previous server closed linger in TIME_WAIT on its port for a minute: not 'in use'."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first, so its end of the connection waits in TIME_WAIT
        client.close()
    assert any(c.status == psutil.CONN_TIME_WAIT and c.laddr.port == port for c in psutil.net_connections("tcp"))
    server = ApiServer(tmp_path / "jobs", tmp_path / "server.log", workers=2)
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    server.start()
    try:
        assert httpx.get(f"{server.url}/ogc/conformance", timeout=60).status_code == 200
    finally:
        server.stop()
