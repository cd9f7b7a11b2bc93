"""``ecozone serve --workers N``: one listening socket per worker process, connections spread by the kernel,
a dead worker replaced, a taken port refused."""

from __future__ import annotations

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
    """The server's worker processes, once ``count`` of them listen on its port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(server.process.pid).children()
        listening = [c for c in children if any(
            conn.status == psutil.CONN_LISTEN and conn.laddr.port == server.port for conn in c.net_connections("tcp"))]
        if len(listening) == count:
            return listening
        time.sleep(0.25)
    raise AssertionError(f"expected {count} listening workers, found {len(listening)}")


def _serving_pids(workers: list[psutil.Process], port: int) -> set[int]:
    return {w.pid for w in workers for conn in w.net_connections("tcp")
            if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port}


@pytest.fixture
def two_workers(tmp_path):
    server = ApiServer(tmp_path / "jobs", tmp_path / "server.log", workers=2).start()
    yield server
    server.stop()


def test_each_worker_listens_and_takes_a_share_of_the_connections(two_workers):
    workers = _workers(two_workers, 2)
    allowed = sorted(psutil.Process().cpu_affinity())
    assert [w.cpu_affinity() for w in workers] in ([[allowed[0]], [allowed[1 % len(allowed)]]],
                                                   [[allowed[1 % len(allowed)]], [allowed[0]]])
    clients = [two_workers.client() for _ in range(16)]
    try:
        for client in clients:  # 16 keep-alive connections, each opened by one request
            assert client.get("/ogc/conformance").status_code == 200
        assert _serving_pids(workers, two_workers.port) == {w.pid for w in workers}
    finally:
        for client in clients:
            client.close()


def test_a_worker_that_dies_is_replaced(two_workers):
    first, second = _workers(two_workers, 2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    replaced = _workers(two_workers, 2)
    assert second.pid in {w.pid for w in replaced} and first.pid not in {w.pid for w in replaced}
    for _ in range(8):  # fresh connections land on either worker, and both answer
        assert httpx.get(f"{two_workers.url}/ogc/conformance", timeout=60).status_code == 200


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
