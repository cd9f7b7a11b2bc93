"""The layers map on the embedded dataset and on a store with a generated 40,000-polygon red line: page bytes,
first render, the bytes of one zoom, tile timings, and the saved file, in headless Chromium (network closed).

For each store the real application runs with uvicorn on a loopback port. Page size is what the browser received
for the page (gzipped HTML, Leaflet, Leaflet.VectorGrid, the page code) and the tiles of the first view, each load
in a fresh browser context; first render is ``ecozone.ready`` (navigation start to the first frame painted after
the tiles in view were drawn). One zoom is the move from the first view to zoom 12 over 石河子: the tiles it
fetched and their bytes on the wire. Tile timings are the server's answer times for the tiles of three views,
first made (cache emptied) and then kept. The saved file is ``ecozone map -o`` (tiles to zoom 8, 20 MB bound).

    python benchmarks/map_bench.py [--runs 5] [--polygons 40000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import maps_harness as harness

SHIHEZI = (86.05, 44.30)
TARGET_S = 2.0


def _load(chromium, url: str) -> tuple[float, int, int]:
    """(seconds to first render, bytes received, requests) of one fresh load of ``url``."""
    with harness.page(chromium) as (tab, watch):
        sizes = []
        tab.on("requestfinished", lambda request: sizes.append(request.sizes()["responseBodySize"]))
        tab.goto(url)
        tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=300_000)
        ready_ms = tab.evaluate("ecozone.ready")
        if watch.blocked or watch.console_errors or watch.page_errors:
            raise RuntimeError(f"page not clean: {watch}")
        return ready_ms / 1000, sum(sizes), len(sizes)


def _zoom(chromium, url: str) -> tuple[int, int, float]:
    """(tiles fetched, bytes on the wire, seconds) of the move from the first view to zoom 12 over 石河子."""
    with harness.page(chromium) as (tab, watch):
        sizes: dict[str, int] = {}
        tab.on("requestfinished",
               lambda request: sizes.__setitem__(request.url, request.sizes()["responseBodySize"]))
        tab.goto(url)
        tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=300_000)
        before = len(watch.requests)
        started = time.perf_counter()
        tab.evaluate(f"ecozone.map.setView([{SHIHEZI[1]}, {SHIHEZI[0]}], 12, {{animate: false}})")
        tab.wait_for_function("ecozone.idle()", timeout=300_000)
        seconds = time.perf_counter() - started
        fetched = watch.requests[before:]
        if any("/tiles/" not in url for url in fetched):
            raise RuntimeError(f"the zoom fetched more than tiles: {fetched}")
        return len(fetched), sum(sizes.get(url, 0) for url in fetched), seconds


def _tile_times(url: str, store, day) -> list[str]:
    """Answer times of the tiles of the first view (zoom 5), of zoom 8 and of zoom 12 over 石河子, first made and
    then kept."""
    import httpx

    from maps.layers import map_layers
    from maps.tiles import TILES, tiles_covering

    bounds = map_layers(store, day).bounds
    views = {5: bounds, 8: (85.3, 43.9, 86.8, 44.7), 12: (85.99, 44.26, 86.11, 44.34)}
    TILES.clear()
    lines = []
    with httpx.Client(base_url=url, headers={"Accept-Encoding": "gzip"}, timeout=300) as client:
        for z, view in views.items():
            tiles = list(tiles_covering(view, z))
            times = {"made": [], "kept": []}
            size = 0
            for state in ("made", "kept"):
                for x, y in tiles:
                    started = time.perf_counter()
                    answer = client.get(f"/tiles/all/{z}/{x}/{y}.pbf?as_of={day}")
                    times[state].append(time.perf_counter() - started)
                    size += len(answer.content) if state == "made" else 0
            lines.append(f"  zoom {z:2d}: {len(tiles)} tiles, {size / 1e3:.0f} kB (unzipped); first made median "
                         f"{statistics.median(times['made']) * 1e3:.0f} ms (max {max(times['made']) * 1e3:.0f}), kept "
                         f"median {statistics.median(times['kept']) * 1e3:.1f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per store (each in a fresh context)")
    parser.add_argument("--polygons", type=int, default=40_000, help="generated red-line polygons")
    args = parser.parse_args()
    missing = harness.chromium_missing()
    if missing:
        sys.exit(missing)

    import datetime as dt

    from api.app import create_app
    from api.settings import Settings
    from gis.store import open_store
    from maps.build import layers_map, render
    from tests.large_layer import large_store

    day = dt.date.today()
    with tempfile.TemporaryDirectory() as folder, harness.browser() as chromium:
        started = time.perf_counter()
        large = large_store(Path(folder), args.polygons)
        print(f"generated and imported {args.polygons} red-line polygons in {time.perf_counter() - started:.0f} s")
        for name, location in (("embedded dataset", None), (f"{args.polygons:,}-polygon red line", str(large))):
            print(f"\n== {name}")
            app = create_app(Settings(store=location, jobs_dir=Path(folder) / "jobs"))
            with harness.serve(app) as url, open_store(location, read_only=True) as store:
                started = time.perf_counter()
                cold = _load(chromium, url + "/map")
                print(f"server's first page (reads what the legends need, makes the first view's tiles): "
                      f"{time.perf_counter() - started:.2f} s wall, first render {cold[0]:.2f} s")
                runs = [_load(chromium, url + "/map") for _ in range(args.runs)]
                times = [t for t, _, _ in runs]
                _, size, requests = runs[-1]
                verdict = "ok" if statistics.median(times) <= TARGET_S else "OVER TARGET"
                print(f"page and first view: {size / 1e3:.0f} kB in {requests} requests; first render median "
                      f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, "
                      f"{len(times)} runs; target ≤ {TARGET_S:g} s: {verdict})")
                with harness.page(chromium) as (tab, _):
                    sizes = {}
                    tab.on("requestfinished", lambda r: sizes.__setitem__(r.url, r.sizes()["responseBodySize"]))
                    tab.goto(url + "/map")
                    tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=300_000)
                    html = next(size for address, size in sizes.items() if address.endswith("/map"))
                print(f"page itself (gzipped HTML): {html:,} bytes")
                tiles, wire, seconds = _zoom(chromium, url + "/map")
                print(f"one zoom (first view → zoom 12 over 石河子): {tiles} tiles, {wire / 1e3:.0f} kB on the wire, "
                      f"{seconds:.2f} s")
                print("tile timings (server, gzip):")
                for line in _tile_times(url, store, day):
                    print(line)
            with open_store(location, read_only=True) as store:
                started = time.perf_counter()
                m = layers_map(store, day)
                html = render(m)
                built = time.perf_counter() - started
            path = Path(folder) / "layers.html"
            path.write_text(html, encoding="utf-8")
            zooms = m.ecozone_tiles.zooms
            renders = [_load(chromium, path.as_uri())[0] for _ in range(max(1, args.runs // 2))]
            print(f"saved file (ecozone map -o): {path.stat().st_size / 1e6:.1f} MB, tiles of zooms {zooms}, built in "
                  f"{built:.1f} s, first render median {statistics.median(renders):.2f} s; left out: "
                  f"{'; '.join(m.ecozone_tiles.left_out) or 'nothing'}")


if __name__ == "__main__":
    main()
