"""Single-check latency and throughput of ``POST /check`` over loopback, on the embedded default dataset.

Starts uvicorn in a subprocess (``--workers`` processes, 2 by default: one per core of the reference
machine) and drives it from a light asyncio client on keep-alive connections, so the client takes little
of the CPU it shares with the server. Three bounded runs:

1. latency: one request at a time;
2. throughput: ``--connections`` requests in flight, as fast as the server answers;
3. a fixed rate of ``--rate`` checks/s (open loop), the target load: p99 there is what a caller sees.

Sites cycle through points around 石河子, 乌鲁木齐 and 昌吉 with a coal-boiler project, so every check runs the
rules that need the most work (distances to CHP plants, fuel-ban zones, key regions).

Run: ``python benchmarks/api_bench.py`` (add ``--help`` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CENTRES = [(86.0411, 44.3059), (87.6168, 43.8256), (87.3080, 44.0110)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bodies(count: int) -> list[bytes]:
    bodies = []
    for i in range(count):
        lon, lat = CENTRES[i % len(CENTRES)]
        point = [round(lon + 0.004 * (i % 17 - 8), 6), round(lat + 0.003 * (i % 13 - 6), 6)]
        body = {"site": {"type": "Point", "coordinates": point}, "as_of": "2024-06-30",
                "project": {"industry": "热力", "scope": "new", "boiler_tph": 20, "fuel": "coal", "coal_t": 12000}}
        bodies.append(json.dumps(body, ensure_ascii=False).encode())
    return bodies


def _request(body: bytes) -> bytes:
    return (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class Connection:
    """One keep-alive HTTP/1.1 connection; ``check`` sends a request and returns (status, seconds)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def check(self, request: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await self.reader.readexactly(length)
        return status, time.perf_counter() - started

    def close(self) -> None:
        self.writer.close()


def _summary(name: str, latencies: list[float], seconds: float, failures: int) -> dict:
    ordered = sorted(latencies)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    result = {"run": name, "requests": len(latencies), "failed": failures, "p50_ms": round(p(0.50), 2),
              "p99_ms": round(p(0.99), 2), "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
              "checks_per_s": round(len(latencies) / seconds, 1)}
    print(f"{name:<12} {result['requests']:>6} req  p50 {result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms"
          f"  {result['checks_per_s']:>7.1f} checks/s  failed {failures}")
    return result


async def _latency(port: int, requests: list[bytes]) -> dict:
    connection = await Connection.open(port)
    latencies, failures = [], 0
    started = time.perf_counter()
    for request in requests:
        status, seconds = await connection.check(request)
        latencies.append(seconds)
        failures += status != 200
    connection.close()
    return _summary("latency", latencies, time.perf_counter() - started, failures)


async def _throughput(port: int, requests: list[bytes], connections: int) -> dict:
    pool = [await Connection.open(port) for _ in range(connections)]
    queue = list(reversed(requests))
    latencies, failures = [], 0

    async def drive(connection: Connection) -> None:
        nonlocal failures
        while queue:
            status, seconds = await connection.check(queue.pop())
            latencies.append(seconds)
            failures += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(drive(c) for c in pool))
    elapsed = time.perf_counter() - started
    for connection in pool:
        connection.close()
    return _summary(f"closed x{connections}", latencies, elapsed, failures)


async def _fixed_rate(port: int, requests: list[bytes], rate: float, connections: int) -> dict:
    """Send at ``rate``/s whatever the answers (open loop); latency counts from the scheduled send time."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    latencies, failures = [], 0
    started = time.perf_counter()

    async def one(index: int, request: bytes) -> None:
        nonlocal failures
        due = started + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = await idle.get()
        status, _ = await connection.check(request)
        latencies.append(time.perf_counter() - due)
        failures += status != 200
        idle.put_nowait(connection)

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    elapsed = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    return _summary(f"rate {rate:g}/s", latencies, elapsed, failures)


def _start(port: int, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    for module, option in (("httptools", ["--http", "httptools"]), ("uvloop", ["--loop", "uvloop"])):
        try:
            __import__(module)
            args += option
        except ImportError:
            pass
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECOZONE_JOBS_DIR": str(Path("/tmp") / f"ecozone-bench-{port}")}
    return subprocess.Popen(args, cwd=REPO, env=env)


async def _wait_ready(port: int, process: subprocess.Popen, polls: int = 600) -> None:
    body = _request(_bodies(1)[0])
    for _ in range(polls):
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            connection = await Connection.open(port)
        except OSError:
            await asyncio.sleep(0.25)
            continue
        for _ in range(20):  # each worker process warms up on its first checks
            await connection.check(body)
        connection.close()
        return
    raise RuntimeError("the server did not come up")


async def main(args: argparse.Namespace) -> list[dict]:
    port = _free_port()
    process = _start(port, args.workers)
    try:
        await _wait_ready(port, process)
        requests = [_request(b) for b in _bodies(max(args.requests, int(args.rate * args.rate_seconds)))]
        await _throughput(port, requests[:200], args.connections)  # warm every worker before measuring
        print(f"POST /check, {args.workers} uvicorn workers, {os.cpu_count()} cores, embedded dataset")
        return [
            await _latency(port, requests[: args.requests // 4]),
            await _throughput(port, requests[: args.requests], args.connections),
            await _fixed_rate(port, requests[: int(args.rate * args.rate_seconds)], args.rate, args.connections * 4),
        ]
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the throughput run")
    parser.add_argument("--connections", type=int, default=4, help="requests in flight in the throughput run")
    parser.add_argument("--rate", type=float, default=300.0, help="checks/s of the fixed-rate run")
    parser.add_argument("--rate-seconds", type=float, default=5.0, help="length of the fixed-rate run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    figures = asyncio.run(main(options))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))
