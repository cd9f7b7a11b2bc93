"""Single-check latency and throughput of ``POST /check`` over loopback, on the embedded default dataset.

Starts ``ecozone serve --workers N`` in a subprocess (2 workers by default: one per core of the reference
machine) and drives it from a light asyncio client on keep-alive connections; the client shares the cores
with the server, so it runs on uvloop (installed with uvicorn[standard]), which takes about a third less CPU
per request than asyncio's own loop. Three bounded runs:

1. latency: one request at a time;
2. throughput: ``--connections`` requests in flight, as fast as the server answers;
3. a fixed rate of ``--rate`` checks/s (open loop, on 4 × ``--connections`` connections), the target load:
   p99 there is what a caller sees, counted from the moment each request was due.

Every request is a different point within about 5 km of 石河子, 乌鲁木齐 or 昌吉 with a coal-boiler project, so
checks run the rules that need the most work (distances to CHP plants, fuel-ban zones, key regions). The
server's CPU time per check (all worker processes) is printed too, and on Linux the share of CPU time the
host of a virtual machine took during each run (steal).

Run: ``python benchmarks/api_bench.py`` (add ``--help`` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import uvloop

REPO = Path(__file__).resolve().parents[1]
CENTRES = [(86.0411, 44.3059), (87.6168, 43.8256), (87.3080, 44.0110)]
#: Steal from this share up marks a run the host slowed (benchmarks/README.md: p99 against steal over 47 runs).
BUSY_HOST_STEAL_PCT = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bodies(count: int, seed: int = 7) -> list[bytes]:
    """Distinct sites (no two requests alike) within about 5 km of the three centres."""
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        lon, lat = CENTRES[i % len(CENTRES)]
        point = [round(lon + rng.uniform(-0.06, 0.06), 6), round(lat + rng.uniform(-0.045, 0.045), 6)]
        body = {"site": {"type": "Point", "coordinates": point},
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
    """Send at ``rate``/s whatever the answers (open loop); latency counts from the moment a request was due,
    so waiting for a free connection counts too. One pacing loop hands requests to the connections."""
    pool = [await Connection.open(port) for _ in range(connections)]
    due_requests: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies, failures = [], 0

    async def send(connection: Connection) -> None:
        nonlocal failures
        while (item := await due_requests.get()) is not None:
            due, request = item
            status, _ = await connection.check(request)
            latencies.append(time.perf_counter() - due)
            failures += status != 200

    senders = [asyncio.create_task(send(c)) for c in pool]
    started = time.perf_counter()
    for index, request in enumerate(requests):
        due = started + index / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        due_requests.put_nowait((due, request))
    for _ in pool:
        due_requests.put_nowait(None)
    await asyncio.gather(*senders)
    elapsed = time.perf_counter() - started
    for connection in pool:
        connection.close()
    return _summary(f"rate {rate:g}/s", latencies, elapsed, failures)


def _start(port: int, workers: int) -> subprocess.Popen:
    """``ecozone serve`` as a user starts it (uvicorn picks httptools and uvloop; warnings only, no access log),
    its output in a log file shown if it stops."""
    args = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    folder = Path(tempfile.mkdtemp(prefix="ecozone-bench-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECOZONE_JOBS_DIR": str(folder / "jobs")}
    with open(folder / "server.log", "wb") as log:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = folder / "server.log"
    return process


async def _wait_ready(port: int, process: subprocess.Popen, polls: int = 600) -> None:
    body = _request(_bodies(1)[0])
    for _ in range(polls):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{process.log.read_text(errors='replace')[-3000:]}")
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


def _server_cpu_s(process: subprocess.Popen) -> float:
    """CPU seconds used so far by the server and its worker processes."""
    parent = psutil.Process(process.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [parent, *parent.children(recursive=True)])


def _steal_pct(before, after) -> float | None:
    """Share of the machine's CPU time that a virtual machine's host took for itself (Linux ``steal``) between
    two readings, printed beside each run: one sign of a host busy with other guests. Not the only one: caches
    and memory shared with them slow a run without counting as steal."""
    if not hasattr(before, "steal"):
        return None
    total = sum(after) - sum(before)
    return round(100 * (after.steal - before.steal) / total, 1) if total > 0 else 0.0


async def main(args: argparse.Namespace) -> list[dict]:
    port = _free_port()
    process = _start(port, args.workers)
    try:
        await _wait_ready(port, process)
        requests = [_request(b) for b in _bodies(max(args.requests, int(args.rate * args.rate_seconds)))]
        await _throughput(port, requests[:400], 16)  # warm every worker before measuring
        print(f"POST /check, ecozone serve --workers {args.workers}, {os.cpu_count()} cores, embedded dataset")
        runs = [
            lambda: _latency(port, requests[: args.requests // 4]),
            lambda: _throughput(port, requests[: args.requests], args.connections),
            lambda: _fixed_rate(port, requests[: int(args.rate * args.rate_seconds)], args.rate, args.connections * 4),
        ]
        figures = []
        for run in runs:
            server, client, machine = _server_cpu_s(process), time.process_time(), psutil.cpu_times()
            figures.append(await run())
            for name, spent in (("server", _server_cpu_s(process) - server), ("client", time.process_time() - client)):
                figures[-1][f"{name}_cpu_ms_per_check"] = round(spent / figures[-1]["requests"] * 1000, 2)
            figures[-1]["steal_pct"] = _steal_pct(machine, psutil.cpu_times())
        print("CPU per check, server / client: " + ", ".join(
            f"{f['run']} {f['server_cpu_ms_per_check']} / {f['client_cpu_ms_per_check']} ms" for f in figures))
        if any(f["steal_pct"] is not None for f in figures):
            print("CPU time taken by the host (steal): " + ", ".join(f"{f['run']} {f['steal_pct']} %" for f in figures))
            slowed = [f["run"] for f in figures if f["steal_pct"] >= BUSY_HOST_STEAL_PCT]
            if slowed:
                print(f"note: the host took {BUSY_HOST_STEAL_PCT:g} % or more of the CPU time in {', '.join(slowed)}; "
                      "runs with that much steal are slower (benchmarks/README.md): run again for figures of the "
                      "two cores alone")
        return figures
    except Exception:
        print(f"server log ({process.log}):\n{process.log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the throughput run")
    parser.add_argument("--connections", type=int, default=8, help="requests in flight in the throughput run")
    parser.add_argument("--rate", type=float, default=300.0, help="checks/s of the fixed-rate run")
    parser.add_argument("--rate-seconds", type=float, default=5.0, help="length of the fixed-rate run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    figures = uvloop.run(main(options))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))
