"""Full-size official layers, measured as a user meets them: a generated red-line delivery of real size (40,000
patches, about 6.9 M vertices, CGCS2000 Gauss-Krüger zone 29 with the zone prefix, GBK ``.dbf`` without
``.cpg``; ``tests/delivery_samples.py``) imported by the plain command into a copy of the embedded dataset, then
every interface against that store beside the same on the default (embedded) store.

    python -m benchmarks.scale_bench [--features N] [--layout spread|dense] [--postgres URL | --no-postgres]
                                     [--skip-browser]

The patches lie over the part of Xinjiang in zone 29 (``spread``, 319,000 km²: one patch per 16 km² at
20,000; 40,000 over the whole of Xinjiang's 1.66 M km² would be one per 41 km²), or all within 210 × 200 km
around 石河子 and 昌吉 (``dense``: one patch per km² at 40,000, some 320 within 10 km of a point there), a
stress case for the cost of each zone a check finds.

Printed, in one run:

- ``ecozone layers import`` of the delivery (GeoPackage; PostGIS too, in a throw-away server unless a URL is
  given or ``--no-postgres``): wall time;
- one ``ecozone check`` (a subprocess, as a user runs it) near 石河子, inside the delivery's area: wall time and
  peak RSS, median of three, against the same check on the default store (target within 1.5x);
- ``ecozone serve --workers 2``: start to first answer of ``POST /check``; p50/p99 one at a time and at 300
  checks/s for 5 s (target p99 < 20 ms; ``benchmarks/api_bench.py``'s client);
- the layers map (``/map``) in headless Chromium: page bytes with the first view's tiles, and the tiles and bytes
  fetched by a zoom to 12 over 石河子 (``benchmarks/map_bench.py``'s probes);
- OGC API - Features items of the red line: first page and page 100 (limit 100), cold (the layer's catalogue
  read) and warm, time and bytes on the wire (gzip);
- ``ecozone screen`` of a 100,000-row permit register (a third of the points around 石河子 and 昌吉, in the
  delivery's area): wall time and peak RSS on both stores;
- PostGIS (the same red line in a table with a GiST index) answering the point queries of the checks
  (``ST_Intersects``), per query, and the same hits from ecozone's engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import api_bench  # noqa: E402
from benchmarks.screen_bench import postgres  # noqa: E402
from benchmarks.screen_file_bench import register  # noqa: E402
from gis.store import open_store  # noqa: E402
from tests.delivery_samples import BOX, delivery, write_delivery  # noqa: E402

KIND = "ecological_redline"
SHIHEZI = "86.0413,44.3056"
CHECK_ARGS = ["--industry", "热力", "--new", "--boiler-tph", "20", "--fuel", "燃煤", "--format", "json", "--no-audit"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


#: Runs ``ecozone`` and prints its peak RSS (kB): a process's peak counts the memory of the process that forked
#: it (Linux records it at exec), so it is measured from this small one, not from the benchmark's.
_RSS_WRAPPER = ("import resource, subprocess, sys; code = subprocess.call([sys.executable, '-c', "
                "'from api.cli import main; main()', *sys.argv[1:]]); "
                "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
                "print(usage.ru_utime + usage.ru_stime, usage.ru_maxrss, file=sys.stderr); sys.exit(code)")


def _spawn_rss(args: list[str]) -> tuple[float, float, str, float]:
    """(wall s, peak RSS MB, stdout, CPU s) of one ``ecozone ARGS`` run as a user runs it. On a shared machine
    the CPU time is the steadier figure."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *args], cwd=REPO, env=ENV, capture_output=True)
    wall = time.perf_counter() - started
    stderr = run.stderr.decode(errors="replace")
    if run.returncode != 0:
        raise RuntimeError(f"ecozone {' '.join(args[:3])} … failed:\n{stderr[-3000:]}")
    cpu, peak = stderr.strip().splitlines()[-1].split()
    return wall, int(peak) / 1024, run.stdout.decode(errors="replace"), float(cpu)


def measure_check(store: str | None) -> tuple[float, float, float]:
    """Median wall time, peak RSS and CPU time of three ``ecozone check`` runs near 石河子 (a fresh process
    each)."""
    runs = [_spawn_rss(["check", SHIHEZI, *CHECK_ARGS, *(["--store", store] if store else [])]) for _ in range(3)]
    return tuple(statistics.median(r[k] for r in runs) for k in (0, 1, 3))


async def measure_server(store: str | None, rate: float, seconds: float) -> dict:
    """``ecozone serve --workers 2`` on ``store``: start to first answer, one at a time, and a fixed rate."""
    port = api_bench._free_port()
    folder = Path(tempfile.mkdtemp(prefix="ecozone-scale-"))
    env = {**ENV, "ECOZONE_JOBS_DIR": str(folder / "jobs"), "ECOZONE_AUDIT": "false",
           **({"ECOZONE_STORE": store} if store else {})}
    started = time.perf_counter()
    with open(folder / "server.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
                                    "127.0.0.1", "--port", str(port), "--workers", "2", "--log-level", "warning"],
                                   cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    figures: dict = {"port": port, "process": process}
    try:
        request = api_bench._request(api_bench._bodies(1)[0])
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text(errors="replace")[-3000:])
            try:
                connection = await api_bench.Connection.open(port)
                status, _ = await connection.check(request)
                connection.close()
                if status == 200:
                    break
            except OSError:
                await asyncio.sleep(0.05)
        figures["first_answer_s"] = time.perf_counter() - started
        requests = [api_bench._request(b) for b in api_bench._bodies(max(2000, int(rate * seconds)))]
        await api_bench._throughput(port, requests[:400], 16)  # each worker builds the engines of its tiles
        figures["latency"] = await api_bench._latency(port, requests[:500])
        cpu = api_bench._server_cpu_s(process)
        figures["rate"] = await api_bench._fixed_rate(port, requests[: int(rate * seconds)], rate, 32)
        figures["rate"]["server_cpu_ms"] = (api_bench._server_cpu_s(process) - cpu) / figures["rate"]["requests"] * 1e3
        return figures
    except BaseException:
        process.terminate()
        process.wait(30)
        raise


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(30)


def measure_ogc(url: str) -> list[str]:
    """First page and page 100 of the red line's items (limit 100), cold then warm: time and gzip bytes."""
    lines = []
    with httpx.Client(base_url=url, headers={"Accept-Encoding": "gzip"}, timeout=600) as client:
        for label in ("cold", "warm"):
            for page in (1, 100):
                started = time.perf_counter()
                answer = client.get(f"/ogc/collections/{KIND}/items", params={"limit": 100, "offset": 100 * (page - 1)})
                seconds = time.perf_counter() - started
                body = answer.json()
                lines.append(f"  {label} page {page:3d}: {seconds * 1e3:7.1f} ms, {answer.num_bytes_downloaded / 1e3:6.0f}"
                             f" kB gzipped ({len(answer.content) / 1e3:.0f} kB), {body['numberReturned']} of "
                             f"{body['numberMatched']:,}")
    return lines


def measure_map(url: str) -> list[str]:
    """Layers map page bytes with the first view, and the bytes of a zoom, in headless Chromium."""
    from benchmarks.map_bench import SHIHEZI as CENTRE, _load
    from tests import maps_harness as harness

    def _zoom(chromium, address: str) -> tuple[int, int, float]:
        """(tiles, bytes on the wire, seconds) of the move from the first view to zoom 12 over 石河子; a tile's
        bytes are its encoded body as the browser received it (its Content-Length)."""
        with harness.page(chromium) as (tab, watch):
            sizes: dict[str, int] = {}

            def finished(request) -> None:
                response = request.response()
                length = response.headers.get("content-length") if response else None
                sizes[request.url] = int(length) if length else request.sizes()["responseBodySize"]

            tab.on("requestfinished", finished)
            tab.goto(address)
            tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=300_000)
            before = len(watch.requests)
            started = time.perf_counter()
            tab.evaluate(f"ecozone.map.setView([{CENTRE[1]}, {CENTRE[0]}], 12, {{animate: false}})")
            tab.wait_for_function("ecozone.idle()", timeout=300_000)
            seconds = time.perf_counter() - started
            tab.wait_for_timeout(500)  # the last requests' "finished" events
            fetched = watch.requests[before:]
            return len(fetched), sum(sizes.get(u, 0) for u in fetched), seconds

    missing = harness.chromium_missing()
    if missing:
        return [f"  (no browser: {missing})"]
    with harness.browser() as chromium:
        _load(chromium, url + "/map")  # the server makes the first view's tiles
        ready, size, requests = _load(chromium, url + "/map")
        tiles, wire, seconds = _zoom(chromium, url + "/map")
    with httpx.Client(base_url=url, headers={"Accept-Encoding": "gzip"}, timeout=600) as client:
        page = client.get("/map").num_bytes_downloaded
    return [f"  page (gzipped HTML): {page / 1e3:.1f} kB; page and first view: {size / 1e3:.0f} kB in {requests} "
            f"requests, first render {ready:.2f} s",
            f"  zoom to 12 over 石河子: {tiles} tiles, {wire / 1e3:.0f} kB on the wire, {seconds:.2f} s"]


def batch_input(folder: Path, rows: int) -> Path:
    """A permit register of ``rows`` rows, a third of its points moved into the delivery's area."""
    frame = register(rows)
    rng = np.random.default_rng(11)
    moved = rng.random(rows) < 1 / 3
    frame.loc[moved, "经度"] = np.char.mod("%.6f", rng.uniform(BOX[0], BOX[2], moved.sum()))
    frame.loc[moved, "纬度"] = np.char.mod("%.6f", rng.uniform(BOX[1], BOX[3], moved.sum()))
    path = folder / "register.csv"
    frame.to_csv(path, index=False)
    return path


def measure_postgis(url: str, store_path: str, points: np.ndarray) -> list[str]:
    """The red line in a PostGIS table with a GiST index answering ``ST_Intersects`` for each point, one query
    at a time, against the point-in-zone hits of ecozone's tile engines on the same points."""
    import psycopg

    from gis.overlap import OverlapEngine
    from gis.store import open_store

    with open_store(store_path, read_only=True) as store:
        zones = store.read(KIND)
        versions = store.in_force()
        engine_hits, engine_times = [], []
        for x, y in points:
            started = time.perf_counter()
            engine = OverlapEngine.for_site(store, shapely.Point(x, y))
            found = engine.check(shapely.Point(x, y), kinds=[KIND])
            engine_times.append(time.perf_counter() - started)
            engine_hits.append(sorted(h.zone_id for h in found.layer(KIND).hits if h.relation.value == "inside"))
        del versions
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("DROP TABLE IF EXISTS bench_redline")
        conn.execute("CREATE TABLE bench_redline (zone_id text, geom geometry(Geometry, 4326))")
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench_redline (zone_id, geom) FROM STDIN") as copy:
            for zone_id, wkb in zip(zones["zone_id"], shapely.to_wkb(zones.geometry.values, hex=True)):
                copy.write_row((zone_id, f"SRID=4326;{wkb}"))
        conn.execute("CREATE INDEX ON bench_redline USING gist (geom)")
        conn.execute("ANALYZE bench_redline")
        loaded = time.perf_counter() - started
        times, hits = [], []
        for x, y in points:
            started = time.perf_counter()
            rows = conn.execute("SELECT zone_id FROM bench_redline WHERE ST_Intersects(geom, "
                                "ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (float(x), float(y))).fetchall()
            times.append(time.perf_counter() - started)
            hits.append(sorted(r[0] for r in rows))
    same = sum(a == b for a, b in zip(hits, engine_hits))
    inside = sum(bool(h) for h in hits)
    p = lambda values, q: sorted(values)[int(q * (len(values) - 1))] * 1e3  # noqa: E731
    return [f"  PostGIS load + GiST index: {loaded:.1f} s",
            f"  PostGIS ST_Intersects, {len(points):,} points one at a time: p50 {p(times, .5):.2f} ms, p99 "
            f"{p(times, .99):.2f} ms; {inside:,} points inside a patch",
            f"  ecozone tile engine, same points (red line only, in process): p50 {p(engine_times, .5):.2f} ms, p99 "
            f"{p(engine_times, .99):.2f} ms (first use of a tile builds it)",
            f"  same patches found for {same:,} of {len(points):,} points"]


def delivery_area(layout: str) -> shapely.Geometry | None:
    """Where the patches lie: Xinjiang's part of Gauss-Krüger zone 29 (85.5-88.5° E, kept 0.1° inside), from the
    embedded administrative layer, or None for the generator's dense box."""
    if layout == "dense":
        return None
    xinjiang_and_inner_mongolia = open_store().in_force()["admin_division"].coverage
    return shapely.intersection(xinjiang_and_inner_mongolia, shapely.box(85.6, 30.0, 88.4, 50.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=40_000)
    parser.add_argument("--vertices", type=int, default=172)
    parser.add_argument("--layout", choices=("spread", "dense"), default="spread",
                        help="patches over Xinjiang's part of GK zone 29, or all around 石河子 and 昌吉")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the screened register")
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--rate-seconds", type=float, default=5.0)
    parser.add_argument("--postgres", help="an empty PostgreSQL database with PostGIS (default: a throw-away one)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ecozone-scale-") as folder, contextlib.ExitStack() as stack:
        folder = Path(folder)
        started = time.perf_counter()
        frame = delivery(args.features, args.vertices, area=delivery_area(args.layout))
        shp = write_delivery(frame, folder / "生态保护红线.shp")
        vertices = int(shapely.get_num_coordinates(frame.geometry.values).sum())
        print(f"delivery ({args.layout}): {len(frame):,} polygons, {vertices:,} vertices, GK zone 29, GBK without .cpg "
              f"(.shp {shp.stat().st_size / 1e6:.0f} MB), written in {time.perf_counter() - started:.0f} s", flush=True)
        del frame

        gpkg = str(folder / "store.gpkg")
        _spawn_rss(["layers", "init", gpkg])
        wall, rss, _, cpu = _spawn_rss(["layers", "import", str(shp), "--kind", KIND, "--store", gpkg])
        print(f"import (GeoPackage, ecozone layers import): {wall:.1f} s ({cpu:.1f} s CPU), peak {rss:,.0f} MB",
              flush=True)
        pg_url = None
        if not args.no_postgres:
            pg_url = args.postgres or stack.enter_context(postgres(None))
            pg_store = pg_url + ("&" if "?" in pg_url else "?") + "schema=ecozone_scale"
            try:
                _spawn_rss(["layers", "init", pg_store])
                wall, rss, _, cpu = _spawn_rss(["layers", "import", str(shp), "--kind", KIND, "--store", pg_store])
                print(f"import (PostGIS): {wall:.1f} s ({cpu:.1f} s CPU in ecozone), peak {rss:,.0f} MB", flush=True)
            except RuntimeError as error:
                print(f"import (PostGIS) not measured: {str(error)[:300]}", flush=True)

        print("\n== ecozone check near 石河子 (subprocess, median of 3)", flush=True)
        base = measure_check(None)
        big = measure_check(gpkg)
        print(f"  default store: {base[0]:.2f} s ({base[2]:.2f} s CPU), {base[1]:,.0f} MB; {args.features:,}-patch "
              f"store: {big[0]:.2f} s ({big[2]:.2f} s CPU), {big[1]:,.0f} MB; ratio {big[0] / base[0]:.2f}x time, "
              f"{big[2] / base[2]:.2f}x CPU, {big[1] / base[1]:.2f}x memory (target ≤ 1.5x)", flush=True)

        for label, store in (("default store", None), (f"{args.features:,}-patch store", gpkg)):
            print(f"\n== ecozone serve --workers 2, {label}", flush=True)
            figures = asyncio.run(measure_server(store, args.rate, args.rate_seconds))
            process = figures.pop("process")
            url = f"http://127.0.0.1:{figures['port']}"
            try:
                print(f"  start to first answer: {figures['first_answer_s']:.2f} s; server CPU at {args.rate:g}/s "
                      f"{figures['rate']['server_cpu_ms']:.2f} ms per check", flush=True)
                if store:
                    print("OGC API items of the red line (limit 100):")
                    print("\n".join(measure_ogc(url)), flush=True)
                if not args.skip_browser:
                    print("layers map:")
                    print("\n".join(measure_map(url)), flush=True)
            finally:
                stop(process)

        print(f"\n== ecozone screen, {args.rows:,} rows (CSV in, GeoParquet out)", flush=True)
        source = batch_input(folder, args.rows)
        for label, store in (("default store", None), (f"{args.features:,}-patch store", gpkg)):
            wall, rss, _, cpu = _spawn_rss(["screen", str(source), "-o", str(folder / "out.parquet"),
                                       *(["--store", store] if store else [])])
            print(f"  {label}: {wall:.1f} s ({cpu:.1f} s CPU), peak {rss:,.0f} MB ({args.rows / wall:,.0f} rows/s)",
                  flush=True)

        if pg_url:
            print("\n== PostGIS GiST against ecozone, point queries", flush=True)
            rng = np.random.default_rng(3)
            points = np.column_stack([rng.uniform(BOX[0], BOX[2], 2000), rng.uniform(BOX[1], BOX[3], 2000)])
            print("\n".join(measure_postgis(pg_url, gpkg, points)), flush=True)


if __name__ == "__main__":
    main()
