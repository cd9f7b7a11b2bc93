"""File-to-file batch screening: a permit register in, the same rows out with verdict columns, against the
floor (DuckDB reading the same file and writing it, no screening at all) and against the pipelines an analyst
would write instead (DuckDB's spatial join; pandas + geopandas ``sjoin``), in one run.

    python -m benchmarks.screen_file_bench [--rows N] [--xlsx-rows N] [--formats csv,parquet] [--skip-peers]
        [--cluster N] [--keep DIR]

The register is generated as officers' 排污许可 registers look: 许可证编号, 单位名称, 行业类别 (GB/T 4754
names and codes, some unknown), 建设性质 (some blank), 锅炉规模, 燃料, 新增燃煤量, 装机容量, 有效期限 and
经度/纬度; 0.5 % of the rows have unreadable or swapped coordinates. Points are spread over the embedded
dataset's zones and over Xinjiang at large. Inputs: CSV (UTF-8) and GeoParquet (the same rows, a point
geometry). Each run writes the other format (CSV in → GeoParquet out, GeoParquet in → CSV out).

The .xlsx output (``--xlsx-rows``, default 100,000: a sheet holds at most 1,048,576 rows) is measured against
the writer alone: openpyxl's write-only mode writing the same rows and columns, already screened.

With ``--cluster N`` the same files are also screened on a Dask cluster: a scheduler and N workers (one
thread each) started as separate processes on loopback, as ``ecozone screen --dask tcp://…`` uses one. The
workers are started and their engines prepared before the clock starts, as the single-machine run's is.

Beside ecozone's run, the steps of it that no rule work can remove are timed alone, one after the other:
reading the input with Arrow, its coordinates as numbers, keying the points on the engine's grid (made by the
run before), each point's nearest protected zone, and writing the rows ecozone screened (read back before the
clock, as plain text columns). What ecozone takes beyond them is the rules, the project facts and the texts,
less what its threads overlap.

The peers answer a smaller question than ecozone (which zones each point is in, as a list): no rules, no
verdict, no distances, no coverage. Their figures are what such an answer costs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import filecmp
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import shapely

from benchmarks.cluster import dask_cluster
from benchmarks.timing import timed
from gis.batch import screen_file
from gis.batch.columnar import use_system_memory_pool
from gis.batch.spatial import BatchEngine
from gis.rules import default_rule_packs
from gis.store import Store, open_store

INDUSTRIES = ["火力发电", "4411", "热力生产和供应", "D4430", "水泥制造", "C3011", "平板玻璃制造", "炼焦",
              "原油加工及石油制品制造", "有机化学原料制造", "无机碱制造", "化学原料和化学制品制造业", "炼钢",
              "铝冶炼", "牛的饲养", "牲畜饲养031，家禽饲养032", "污水处理及其再生利用", "皮革鞣制加工",
              "棉印染精加工", "纸浆制造", "风力发电", "太阳能发电", "房地产开发经营", "游览景区管理",
              "铸造", "新型材料", "", "其他"]
SCOPES = ["新建", "改扩建", "现有", "", "技改"]
FUELS = ["燃煤", "天然气", "", "生物质", "电"]


def register(rows: int, seed: int = 7) -> pd.DataFrame:
    """A generated register of ``rows`` permits (see the module notes)."""
    rng = np.random.default_rng(seed)
    zones = open_store().snapshot().zones
    anchors = shapely.get_coordinates(zones.geometry.representative_point().to_numpy())
    near = rng.integers(0, len(anchors), rows)
    lon = np.where(rng.random(rows) < 0.7, anchors[near, 0] + rng.normal(0, 0.05, rows), rng.uniform(74, 96, rows))
    lat = np.where(
        rng.random(rows) < 0.7, anchors[near, 1] + rng.normal(0, 0.05, rows), rng.uniform(35, 49, rows))
    lon_text = np.char.mod("%.6f", lon).astype(object)
    lat_text = np.char.mod("%.6f", lat).astype(object)
    bad = rng.random(rows) < 0.005
    swapped = bad & (rng.random(rows) < 0.5)
    lon_text[swapped], lat_text[swapped] = lat_text[swapped], lon_text[swapped]
    garbage = bad & ~swapped
    lon_text[garbage] = rng.choice(np.array(["", "abc", "87°36'12\"", "999"], dtype=object), garbage.sum())
    boiler = np.where(rng.random(rows) < 0.4, rng.choice([4, 10, 20, 35, 65, 130], rows).astype(float), np.nan)
    coal = np.where(rng.random(rows) < 0.3, np.round(rng.uniform(100, 200_000, rows)), np.nan)
    power = np.where(rng.random(rows) < 0.05, rng.choice([50, 300, 660], rows).astype(float), np.nan)
    return pd.DataFrame({
        "许可证编号": [f"91650000{i:010d}001P" for i in range(rows)],
        "单位名称": [f"新疆某某公司{i}" for i in range(rows)],
        "行业类别": rng.choice(INDUSTRIES, rows),
        "建设性质": rng.choice(SCOPES, rows),
        "锅炉规模": boiler,
        "燃料": rng.choice(FUELS, rows),
        "新增燃煤量": coal,
        "装机容量": power,
        "有效期限": rng.choice(["2023-06-30至2028-06-29", "2021-01-01至2026-12-31"], rows),
        "经度": lon_text,
        "纬度": lat_text,
    })


def write_inputs(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """The register as CSV (UTF-8) and GeoParquet (a point geometry column beside the same columns)."""
    csv_path, parquet_path = folder / "register.csv", folder / "register.parquet"
    frame.to_csv(csv_path, index=False)
    x = pd.to_numeric(frame["经度"], errors="coerce").to_numpy()
    y = pd.to_numeric(frame["纬度"], errors="coerce").to_numpy()
    points = shapely.points(np.where(np.isfinite(x), x, 0.0), np.where(np.isfinite(y), y, 0.0))
    gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326").to_parquet(parquet_path)
    return {"csv": csv_path, "parquet": parquet_path}


def duckdb_copy(source: Path, target: Path) -> None:
    """The floor: read the file and write it in the other format, nothing else."""
    con = duckdb.connect()
    reader = f"read_csv('{source}', all_varchar=true)" if source.suffix == ".csv" else f"'{source}'"
    fmt = "(FORMAT parquet)" if target.suffix == ".parquet" else "(FORMAT csv, HEADER)"
    con.execute(f"COPY (SELECT * FROM {reader}) TO '{target}' {fmt}")


def spatial_steps(source: Path, screened: Path, target: Path, store: Store) -> Callable[[], None]:
    """The steps of ecozone's screening that no rule work can remove (see the module notes), as one run."""
    engine = BatchEngine.for_store(store, dt.date.today().isoformat(), default_rule_packs())
    as_text = pa_csv.ConvertOptions(column_types=dict.fromkeys(pa_csv.open_csv(source).schema.names, pa.string())
                                    ) if source.suffix == ".csv" else None
    rows = pq.read_table(screened) if screened.suffix == ".parquet" else pa_csv.read_csv(screened)

    def run() -> None:
        table = pa_csv.read_csv(source, convert_options=as_text) if source.suffix == ".csv" else pq.read_table(source)
        lon, lat = (pd.to_numeric(table[name].to_pandas(), errors="coerce").to_numpy(float) for name in ("经度", "纬度"))
        read = np.isfinite(lon) & np.isfinite(lat)
        engine.point_keys(lon[read], lat[read])
        engine.nearest_protected(shapely.points(lon[read], lat[read]), 10_000.0)  # the largest proximity ring
        if target.suffix == ".parquet":
            pq.write_table(rows, target)
        else:
            pa_csv.write_csv(rows, target)

    return run


def _spatial(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb_extension_spatial

    path = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    con.execute(f"LOAD '{path / 'spatial.duckdb_extension'}'")


def duckdb_join(source: Path, target: Path, zones_path: Path) -> None:
    """What an analyst writes in DuckDB: points joined to the zones they lie in, the zone names listed."""
    con = duckdb.connect()
    _spatial(con)
    con.execute(f"CREATE TABLE zones AS SELECT kind, name, ST_GeomFromWKB(wkb) AS geom FROM '{zones_path}'")
    reader = f"read_csv('{source}', all_varchar=true)" if source.suffix == ".csv" else f"'{source}'"
    fmt = "(FORMAT parquet)" if target.suffix == ".parquet" else "(FORMAT csv, HEADER)"
    con.execute(f"""COPY (
        WITH r AS (SELECT *, row_number() OVER () AS row_id, TRY_CAST("经度" AS DOUBLE) AS x,
                   TRY_CAST("纬度" AS DOUBLE) AS y FROM {reader}),
        hits AS (SELECT r.row_id, string_agg(z.kind || ':' || z.name, '；') AS zones FROM r
                 JOIN zones z ON ST_Intersects(z.geom, ST_Point(r.x, r.y)) GROUP BY r.row_id)
        SELECT r.* EXCLUDE (row_id, x, y), hits.zones FROM r LEFT JOIN hits USING (row_id) ORDER BY r.row_id
    ) TO '{target}' {fmt}""")


def geopandas_join(source: Path, target: Path, zones: gpd.GeoDataFrame) -> None:
    """What an analyst writes with pandas and geopandas: read, points, sjoin, list the zones, write."""
    frame = pd.read_csv(source, dtype=str) if source.suffix == ".csv" else pd.read_parquet(source)
    frame = frame.drop(columns=["geometry"], errors="ignore")
    x = pd.to_numeric(frame["经度"], errors="coerce")
    y = pd.to_numeric(frame["纬度"], errors="coerce")
    points = gpd.GeoDataFrame(frame[[]], geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    joined = gpd.sjoin(points, zones[["kind", "name", "geometry"]], predicate="within", how="inner")
    listed = (joined["kind"] + ":" + joined["name"]).groupby(level=0).agg("；".join)
    frame["zones"] = listed.reindex(frame.index)
    frame.to_parquet(target) if target.suffix == ".parquet" else frame.to_csv(target, index=False)


def openpyxl_floor(screened: Path, target: Path) -> Callable[[], None]:
    """The .xlsx floor: the screened rows (read beforehand) written by openpyxl's write-only workbook."""
    from openpyxl import Workbook

    frame = pd.read_csv(screened, dtype=str, keep_default_na=False)
    rows = frame.to_numpy().tolist()

    def write() -> None:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("筛查结果")
        sheet.append(list(frame.columns))
        for row in rows:
            sheet.append(row)
        book.save(target)

    return write


def same_output(one: Path, other: Path) -> bool:
    """Whether two outputs hold the same rows: a CSV byte for byte, a GeoParquet table for table."""
    if one.suffix == ".csv":
        return filecmp.cmp(one, other, shallow=False)
    return pq.read_table(one).equals(pq.read_table(other))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,parquet", help="Inputs to run: csv, parquet or both.")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="Rows of the .xlsx output run (0: none).")
    parser.add_argument("--skip-peers", action="store_true", help="Only the floor and ecozone.")
    parser.add_argument("--cluster", type=int, default=0,
                        help="Also screen on a Dask cluster of this many worker processes (loopback).")
    parser.add_argument("--keep", type=Path, help="Keep the generated files in this folder.")
    args = parser.parse_args()
    use_system_memory_pool()  # as the ecozone command does: the figures are what an officer's run takes
    with contextlib.ExitStack() as stack:
        run(args, stack)


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The benchmark's runs, with what they start closed by ``stack``."""
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ecozone-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {args.rows:,} rows …", flush=True)
    inputs = write_inputs(register(args.rows), folder)
    zones = open_store().snapshot().zones
    zones_path = folder / "zones.parquet"
    pd.DataFrame({"kind": zones["kind"], "name": zones["name"],
                  "wkb": shapely.to_wkb(zones.geometry.values)}).to_parquet(zones_path)
    store = open_store()
    warm = folder / "warm.csv"
    register(1000).to_csv(warm, index=False)
    screen_file(warm, folder / "warm-out.csv", store=store)
    # the zones are prepared once per store version (the warm register, of one chunk, took those of its area)
    BatchEngine.for_store(store, dt.date.today().isoformat(), default_rule_packs())
    cluster = None
    if args.cluster:
        print(f"starting a Dask scheduler and {args.cluster} workers …", flush=True)
        cluster = stack.enter_context(dask_cluster(args.cluster, folder / "cluster.log"))
        screen_file(warm, folder / "warm-out.csv", store=store, dask_address=cluster)  # the workers' engines
    ratios = {}
    for fmt in args.formats.split(","):
        source = inputs[fmt]
        other = "parquet" if fmt == "csv" else "csv"
        print(f"{fmt} in ({source.stat().st_size / 1e6:.0f} MB) → {other} out, {args.rows:,} rows", flush=True)
        floor = timed("DuckDB read + write (the floor)", lambda: duckdb_copy(source, folder / f"floor.{other}"))
        ours = timed("ecozone screen_file", lambda: screen_file(source, folder / f"ecozone.{other}", store=store))
        ratios[f"{fmt} → {other}"] = ours / floor
        print(f"  ecozone / floor: {ours / floor:.1f}x", flush=True)
        least = timed("ecozone's spatial steps alone (no rules)",
                      spatial_steps(source, folder / f"ecozone.{other}", folder / f"steps.{other}", store))
        print(f"  spatial steps alone / floor: {least / floor:.1f}x", flush=True)
        if cluster is not None:
            spread = timed(f"ecozone screen_file, Dask cluster of {args.cluster} workers",
                           lambda: screen_file(source, folder / f"dask.{other}", store=store, dask_address=cluster))
            ratios[f"{fmt} → {other} (cluster)"] = spread / floor
            same = same_output(folder / f"ecozone.{other}", folder / f"dask.{other}")
            print(f"  cluster / floor: {spread / floor:.1f}x; cluster / one machine: {spread / ours:.2f}; "
                  f"the same output as one machine: {'yes' if same else 'NO'}", flush=True)
        if not args.skip_peers:
            join = timed("DuckDB spatial join (zones listed)", lambda: duckdb_join(source, folder / f"duck.{other}",
                                                                                  zones_path))
            sjoin = timed("pandas + geopandas sjoin (zones listed)",
                          lambda: geopandas_join(source, folder / f"gpd.{other}", zones))
            print(f"  ecozone / DuckDB join: {ours / join:.1f}x; ecozone / geopandas: {ours / sjoin:.1f}x", flush=True)
    if args.xlsx_rows:
        rows = min(args.xlsx_rows, args.rows)
        small = folder / "register-xlsx.csv"
        register(rows).to_csv(small, index=False)
        print(f"csv in → xlsx out, {rows:,} rows", flush=True)
        ours = timed("ecozone screen_file", lambda: screen_file(small, folder / "ecozone.xlsx", store=store))
        screen_file(small, folder / "screened.csv", store=store)
        floor = timed("openpyxl write-only, same rows (the floor)",
                      openpyxl_floor(folder / "screened.csv", folder / "floor.xlsx"))
        ratios["csv → xlsx"] = ours / floor
        print(f"  ecozone / openpyxl: {ours / floor:.1f}x", flush=True)
    print("ratios to the floor: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()), flush=True)
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
