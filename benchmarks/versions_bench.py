"""Importing a real-size delivery and a new version of it: 40,000 red-line patches (about 170 vertices each,
6.9 M vertices) written as departments deliver them (GK zone 29, GBK .dbf without .cpg, 编号 名称 类型 面积 行政区
批准日期), imported by the plain command's path (``read_layer_file`` then ``import_layer``, default coverage) into
a copy of the embedded dataset; then the next delivery with 1 % of it changed. Versions share the features they
have in common, so the second import should add about 1 % to the store.

    python -m benchmarks.versions_bench [--features N] [--vertices V] [--changed FRACTION] [--postgres URL]

Printed: for each version the time to read the shapefile and to import it (validate, digest, write), the store
size after it and what it added (MB and % of the first version's share), then ``verify_store`` and a read of one
version, and the peak memory. With ``--postgres`` (an empty database) the same two imports into PostGIS, with
the size of its tables.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import shapely

from gis.layer_files import read_layer_file, resolve_coverage
from gis.store import create_store, init_store, verify_store
from tests.delivery_samples import delivery, next_delivery, write_delivery

KIND = "ecological_redline"


def _postgis_mb(store) -> float:
    query = ("SELECT sum(pg_total_relation_size(format('%%I.%%I', schemaname, tablename)::regclass)) "
             "FROM pg_tables WHERE schemaname = %s")
    return float(store.conn.execute(query, (store.schema,)).fetchone()[0]) / 1e6


def _import(store, path: Path, day: str, size) -> tuple[float, float, float]:
    """Read and import one delivery as ``ecozone layers import`` does; (read s, import s, size after MB)."""
    started = time.perf_counter()
    zones, notices = read_layer_file(path, KIND)
    read = time.perf_counter() - started
    started = time.perf_counter()
    area, notice = resolve_coverage(None, store)
    store.import_layer(zones, KIND, source=path.name, effective_from=day, coverage=area, notices=[*notices, notice])
    return read, time.perf_counter() - started, size()


def _run(store, files: list[Path], size, label: str) -> None:
    before = size()
    print(f"{label}: store {before:,.1f} MB before")
    first_share = None
    for number, (path, day) in enumerate(zip(files, ("2021-01-01", "2022-01-01")), start=1):
        previous = size()
        read, imported, after = _import(store, path, day, size)
        added = after - previous
        first_share = first_share or added
        print(f"  v{number}: read {read:.1f} s, import {imported:.1f} s, store {after:,.1f} MB (+{added:,.2f} MB, "
              f"{added / first_share:.2%} of the first version's)")
    started = time.perf_counter()
    problems = verify_store(store)
    print(f"  verify_store: {time.perf_counter() - started:.1f} s, {len(problems)} problems")
    started = time.perf_counter()
    zones = store.read(KIND, 2)
    print(f"  read v2: {time.perf_counter() - started:.1f} s ({len(zones):,} features)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=40_000)
    parser.add_argument("--vertices", type=int, default=172)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--postgres", help="an empty PostgreSQL database with PostGIS available, to measure it too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        started = time.perf_counter()
        first = delivery(args.features, args.vertices)
        second = next_delivery(first, args.changed)
        files = [write_delivery(first, folder / "红线2021.shp"), write_delivery(second, folder / "红线2022.shp")]
        vertices = int(shapely.get_num_coordinates(first.geometry.values).sum())
        print(f"delivery: {len(first):,} polygons, {vertices:,} vertices, GK zone 29, GBK without .cpg; next one "
              f"changes {args.changed:.1%}; generated and written in {time.perf_counter() - started:.1f} s "
              f"(.shp {files[0].stat().st_size / 1e6:,.1f} MB)")

        location = folder / "store.gpkg"
        store = init_store(location)
        _run(store, files, lambda: location.stat().st_size / 1e6, "GeoPackage")
        store.close()
        if args.postgres:
            store = create_store(args.postgres)
            _run(store, files, lambda: _postgis_mb(store), "PostGIS")
            store.close()
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
