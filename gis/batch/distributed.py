"""The same screening on a Dask cluster: each chunk cut into one slice per worker thread, each slice screened
by a worker with the very code of the single-machine path (``ChunkScreener``).

A worker keeps its screener, and with it its places, project classes and texts, from slice to slice of a
register, as the single-machine path keeps them from chunk to chunk; which worker screens which rows does not
change what they get. A slice travels as its sites (WKB) and the cells of its facts; it comes back as its
verdict columns, the repeated texts once each. The batch reads the next chunk while the workers screen this
one. Workers open the store themselves: its location must be reachable from them (a shared path or a
PostgreSQL URL).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely

from gis.batch.collector import fewer_collections
from gis.batch.columnar import CodedText, use_system_memory_pool
from gis.batch.county import AdminUnits
from gis.batch.screening import ChunkScreener
from gis.batch.spatial import BatchEngine
from gis.batch.verdicts import CODED_COLUMNS, COLUMNS
from gis.errors import EcozoneError, InputError
from gis.rules import default_rule_packs
from gis.store import open_store

__all__ = ["DaskScreener"]

#: Seconds to wait for a scheduler, and for its first worker, before saying it cannot be reached or has none.
_CONNECT_SECONDS = 10
_worker = threading.local()  # on a worker: its thread's screener, and what it screens


class DaskScreener:
    """Screens chunks on a Dask cluster.

    Parameters
    ----------
    address
        Scheduler address, or ``"local"`` to start a cluster of ``workers`` processes on this machine.
    store_location
        Location of the store, opened by each worker.
    as_of
        Date of the layers and rules.
    workers
        Worker processes of a local cluster; default the number of CPU cores.
    defaults, multipliers, source, by_row_upto
        As ``ChunkScreener`` takes them.
    county
        Whether the register has a county column: each worker then reads its store's administrative units
        (``ChunkScreener``'s ``units``).
    """

    def __init__(self, address: str, store_location: str, as_of: dt.date, workers: int | None = None, *,
                 defaults: Mapping[str, Any] | None = None, multipliers: Mapping[str, float] | None = None,
                 source: str | None = None, by_row_upto: int = 0, county: bool = False) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if address == "local":
            try:
                self._cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)  # no worker warnings on Ctrl-C
            except RuntimeError as error:  # most often a script without the main guard (see its traceback)
                raise EcozoneError(
                    "无法在本机启动 Dask 工作进程 / could not start Dask worker processes on this machine",
                    field="dask_address", value=address,
                    fix="在脚本中，于 if __name__ == \"__main__\": 之下调用；或不给 «dask_address»，在本机筛查 / in a "
                        "script, call it under if __name__ == \"__main__\":, or leave «dask_address» out "
                        f"({error})") from error
            self.client = Client(self._cluster)
        else:
            try:
                self.client = _connect(Client, address)
            except (OSError, ValueError, TypeError) as error:  # unreachable, or not an address
                raise InputError(
                    "无法连接 Dask 集群的调度器 / cannot reach the Dask scheduler", field="dask_address",
                    value=address, fix="把 «dask_address» 写作 tcp://主机:8786，并确认调度器（dask scheduler）已启动、"
                    "本机可以访问；或不给 «dask_address»，在本机筛查 / give «dask_address» as tcp://host:8786, with "
                    f"the scheduler (dask scheduler) running and reachable from here, or leave it out to screen on "
                    f"this machine ({error})") from error
            try:
                self.client.wait_for_workers(1, timeout=_CONNECT_SECONDS)
            except TimeoutError:
                self.client.close()
                raise InputError("所连接的 Dask 集群的调度器没有工作进程 / the Dask scheduler has no workers",
                                 field="dask_address", value=address,
                                 fix=f"在各台机器上启动 dask worker {address} / start 'dask worker {address}' on the "
                                     "machines that are to screen") from None
        self._register = (store_location, as_of.isoformat(), dict(defaults or {}), dict(multipliers or {}), source,
                          by_row_upto, county)
        self.rows_exact = 0

    def submit(self, geoms: np.ndarray, facts: Mapping[str, np.ndarray], county: np.ndarray | None = None
               ) -> _Screening:
        """Send a chunk (as ``ChunkScreener.screen`` takes it) to the workers; its columns come with ``result()``."""
        threads = sum(self.client.nthreads().values()) or 1
        slices = [s for s in np.array_split(np.arange(len(geoms)), threads) if len(s)]
        wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))
        sent = [self.client.submit(_screen_slice, wkb[s], {name: np.asarray(cells)[s] for name, cells in facts.items()},
                                   self._register, None if county is None else np.asarray(county, dtype=object)[s],
                                   pure=False) for s in slices]
        return _Screening(self, len(geoms), slices, sent)

    def close(self) -> None:
        """Release the client (and the local cluster, if this started one)."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _connect(client, address: str):
    """A client of the scheduler at ``address``, in a thread given ``_CONNECT_SECONDS`` twice over: a port that
    answers but is no scheduler (a web server, the dashboard) never ends Dask's handshake.

    No client is left for the garbage collector to close: a client closing in ``__del__`` takes the lock that
    every client's start holds (distributed's ``LoopRunner._lock``), so one collected while a thread starts
    another deadlocks that thread and every later client (the test suite hung so). A client that failed is
    released in this thread as it fails (its traceback dropped: the frames held it), one made after the caller
    gave up is closed, and what earlier failures left is collected before a client starts."""
    made: list = []
    guard = threading.Lock()
    given_up = threading.Event()

    def connect() -> None:
        gc.collect()  # here, where no client's start holds the lock
        try:
            made_client = client(address, timeout=_CONNECT_SECONDS)
        except BaseException as error:  # handed to the caller, without the frames that hold the failed client
            error.__context__ = error.__cause__ = None
            with guard:
                made.append(error.with_traceback(None))
            made_client = None
        if made_client is None:
            gc.collect()  # the failed client, if a cycle of its frames still held it: closed here, not at random
            return
        with guard:
            late = given_up.is_set()
            if not late:
                made.append(made_client)
        if late:
            made_client.close()

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(2 * _CONNECT_SECONDS)
    with guard:
        if not made:
            given_up.set()
            raise TimeoutError(f"no Dask handshake from {address} in {2 * _CONNECT_SECONDS} s")
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class _Screening:
    """A chunk on the cluster: its slices, and their screening under way."""

    def __init__(self, owner: DaskScreener, rows: int, slices: list[np.ndarray], sent: list) -> None:
        self._owner, self._rows, self._slices, self._sent = owner, rows, slices, sent

    def result(self) -> dict[str, CodedText | list]:
        """The chunk's verdict columns, as ``ChunkScreener.screen`` gives them (waiting for the workers)."""
        out = {name: CodedText(self._rows) if name in CODED_COLUMNS else np.full(self._rows, None, dtype=object)
               for name in COLUMNS}
        self._wait()
        for rows, (columns, exact) in zip(self._slices, self._owner.client.gather(self._sent)):
            self._owner.rows_exact += exact
            for name, values in columns.items():
                if name in CODED_COLUMNS:
                    out[name].put(rows, *values)
                else:
                    out[name][rows] = values
        return {name: column if isinstance(column, CodedText) else column.tolist() for name, column in out.items()}

    def _wait(self) -> None:
        """Wait for the slices while the cluster has workers: with none left for ``_CONNECT_SECONDS`` three times
        over (all killed, or gone with their machines), the batch stops saying so instead of waiting for ever."""
        from distributed import wait

        client, alone_since = self._owner.client, None
        while True:
            try:
                wait(self._sent, timeout=_CONNECT_SECONDS / 2)
                return
            except TimeoutError:
                if client.nthreads():
                    alone_since = None
                    continue
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > 3 * _CONNECT_SECONDS:
                    raise EcozoneError(
                        "所连接的 Dask 集群已没有工作进程，筛查无法继续 / the Dask cluster has no workers left: the screening "
                        "cannot go on", field="dask_address",
                        fix="重新启动 dask worker 后再筛查，或不给 «dask_address»，在本机筛查 / start the workers (dask "
                            "worker) again and screen again, or leave «dask_address» out to screen on this machine"
                    ) from None


def _screen_slice(wkb: np.ndarray, facts: dict[str, np.ndarray], register: tuple,
                  county: np.ndarray | None = None) -> tuple[dict[str, Any], int]:
    """Screen one slice on a worker, with the screener this worker thread keeps for the register: the coded
    columns as (texts, each row's index into them), the others as arrays; and the rows checked one by one."""
    if getattr(_worker, "register", None) != register:
        location, as_of, defaults, multipliers, source, by_row_upto, has_county = register
        use_system_memory_pool()  # as ecozone's own processes do
        packs = default_rule_packs()
        store = open_store(location)
        batch = BatchEngine.for_store(store, as_of, packs)
        units = AdminUnits.of_store(store, as_of) if has_county else None
        _worker.screener = ChunkScreener(batch, packs, dt.date.fromisoformat(as_of), defaults=defaults or None,
                                         multipliers=multipliers or None, source=source, by_row_upto=by_row_upto,
                                         units=units)
        _worker.register = register
    screener: ChunkScreener = _worker.screener
    before = screener.rows_exact
    with fewer_collections():
        columns = screener.screen(shapely.from_wkb(wkb), facts, county)
    found = {name: (values.texts, values.codes) if isinstance(values, CodedText) else np.asarray(values, dtype=object)
             for name, values in columns.items()}
    return found, screener.rows_exact - before
