"""The same screening on a Dask cluster: sites partitioned spatially with dask-geopandas, one Screener per worker.

Each chunk's readable sites become a dask-geopandas frame, are shuffled along a Hilbert curve
(``spatial_shuffle``) so that every partition holds nearby sites (fewer boundary cells and zones per
partition, more rows per rule group), and are screened partition by partition with the very code of the
single-machine path. Results are put back in row order, so the output is identical to the local one.
Workers open the store themselves: its location must be reachable from them (a shared path or a
PostgreSQL URL).
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd

from gis.batch.columnar import CodedText, as_list
from gis.batch.spatial import BatchEngine
from gis.rules.project import ProjectColumn
from gis.batch.verdicts import CODED_COLUMNS, COLUMNS, Screener
from gis.rules import default_rule_packs
from gis.store import open_store

__all__ = ["DaskScreener"]


class DaskScreener:
    """Screens chunks on a Dask cluster.

    Parameters
    ----------
    address
        Scheduler address, or ``"local"`` to start a local cluster of ``workers`` threads (shapely
        releases the GIL, so threads use every core).
    store_location
        Location of the store, opened by each worker.
    as_of
        Date of the layers and rules.
    workers
        Workers of a local cluster; default the number of CPU cores.
    """

    def __init__(self, address: str, store_location: str, as_of: dt.date, workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                         processes=False, dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            self.client = Client(address)
        self.store_location = store_location
        self.as_of = as_of
        self.rows_exact = 0

    def screen(self, geoms: np.ndarray, projects: ProjectColumn) -> dict[str, CodedText | list]:
        """Verdict columns for one chunk, as ``Screener.screen`` returns them, computed on the cluster."""
        import dask_geopandas
        import geopandas as gpd

        n = len(geoms)
        out = {name: [None] * n for name in COLUMNS}
        rows = np.flatnonzero([g is not None for g in geoms])
        if not len(rows):
            return _coded(out)
        # Projects travel as class codes into the list of classes sent once (dask turns object columns into
        # strings), with each row's numeric facts beside them.
        frame = gpd.GeoDataFrame({"_row": rows, "_project": projects.codes[rows],
                                  **{f"_value_{name}": values[rows] for name, values in projects.values.items()}},
                                 geometry=list(geoms[rows]), crs="EPSG:4326")
        partitions = max(1, min(len(rows) // 2000, 4 * len(self.client.scheduler_info()["workers"])))
        sites = dask_geopandas.from_geopandas(frame, npartitions=partitions).spatial_shuffle()
        meta = pd.DataFrame({"_row": pd.Series(dtype="int64"), "_exact": pd.Series(dtype="int64"),
                             **{name: pd.Series(dtype=object) for name in COLUMNS}})
        result = sites.map_partitions(_screen_partition, self.store_location, self.as_of.isoformat(),
                                      projects.projects, meta=meta)
        screened = result.compute(scheduler=self.client).sort_values("_row")
        self.rows_exact += int(screened["_exact"].sum())
        for name in COLUMNS:
            column = out[name]
            for row, value in zip(screened["_row"], screened[name]):
                column[row] = None if isinstance(value, float) and np.isnan(value) else value
        return _coded(out)

    def close(self) -> None:
        """Release the client (and the local cluster, if this started one)."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _screen_partition(part, store_location: str, as_of: str, projects: list) -> pd.DataFrame:
    """Screen one partition on a worker; the worker keeps its prepared engine between partitions."""
    packs = default_rule_packs()
    batch = BatchEngine.for_store(open_store(store_location), as_of, packs)
    screener = Screener(batch, packs, dt.date.fromisoformat(as_of))
    values = {name.removeprefix("_value_"): part[name].to_numpy(dtype=float)
              for name in part.columns if name.startswith("_value_")}
    column = ProjectColumn(part["_project"].to_numpy(dtype=np.int64), projects, values, [[] for _ in projects])
    columns = screener.screen(part.geometry.to_numpy(), column)
    frame = pd.DataFrame({name: pd.Series(as_list(values), dtype=object) for name, values in columns.items()})
    exact = np.zeros(len(frame), dtype=np.int64)
    exact[:1] = screener.rows_exact  # counted once per partition
    frame.insert(0, "_exact", exact)
    frame.insert(0, "_row", part["_row"].to_numpy())
    return frame


def _coded(columns: dict[str, list]) -> dict[str, CodedText | list]:
    """The columns as ``Screener.screen`` holds them."""
    return {name: CodedText.of(values) if name in CODED_COLUMNS else values for name, values in columns.items()}
