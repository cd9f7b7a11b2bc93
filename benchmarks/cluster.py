"""A Dask cluster of separate processes on this machine, as ``ecozone screen --dask tcp://…`` meets one: for the
file benchmark's ``--cluster`` and the cluster test."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def dask_cluster(workers: int, logs: Path) -> Iterator[str]:
    """A Dask scheduler and ``workers`` one-thread workers (none: a scheduler alone) as separate processes on
    loopback, their output in ``logs``; its address."""
    from distributed import Client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    command = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if command is None:
        raise RuntimeError("the dask command (it comes with distributed) is not installed")
    with open(logs, "w") as log:
        started = [subprocess.Popen([command, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                     "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT)]
        try:
            # the port is polled with a plain socket: a client that fails is closed by the garbage collector,
            # which deadlocks a client starting in another thread (distributed's LoopRunner lock)
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the scheduler did not start; see {logs}") from None
                    time.sleep(0.5)
            with Client(address, timeout=30):
                pass
            started += [subprocess.Popen([command, "worker", address, "--nthreads", "1", "--no-dashboard",
                                          "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT)
                        for _ in range(workers)]
            if workers:
                with Client(address, timeout=10) as client:
                    client.wait_for_workers(workers, timeout=120)
            yield address
        finally:
            for process in reversed(started):
                process.terminate()
            for process in started:
                process.wait(timeout=30)
