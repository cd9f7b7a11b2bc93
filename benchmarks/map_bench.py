"""Page size and time to first render of the default layers map, in headless Chromium (network closed).

Runs the real application with uvicorn on a loopback port, opens ``/`` in a fresh browser context each run
(empty cache) and reads ``ecozone.ready``: the time from navigation start to the first frame painted after
every layer was added. Page size is the bytes the browser received for the page: HTML, Leaflet, the page
code. Also reports the self-contained file (``ecozone map -o``) and its first render from ``file://``.

    python benchmarks/map_bench.py [--runs 5]
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

TARGET_S = 2.0


def _measure(chromium, url: str) -> tuple[float, int, int]:
    """(seconds to first render, bytes received, requests) of one fresh load of ``url``."""
    with harness.page(chromium) as (tab, watch):
        sizes = []
        tab.on("requestfinished", lambda request: sizes.append(request.sizes()["responseBodySize"]))
        tab.goto(url)
        tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=60_000)
        ready_ms = tab.evaluate("ecozone.ready")
        if watch.blocked or watch.console_errors or watch.page_errors:
            raise RuntimeError(f"page not clean: {watch}")
        return ready_ms / 1000, sum(sizes), len(sizes)


def _report(name: str, runs: list[tuple[float, int, int]]) -> None:
    times = [t for t, _, _ in runs]
    _, size, requests = runs[-1]
    verdict = "ok" if statistics.median(times) <= TARGET_S else "OVER TARGET"
    print(f"{name}: page {size / 1e6:.2f} MB in {requests} requests; first render median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs; "
          f"target ≤ {TARGET_S:g} s: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per case (each in a fresh context)")
    args = parser.parse_args()
    missing = harness.chromium_missing()
    if missing:
        sys.exit(missing)

    from api.app import create_app
    from api.settings import Settings
    from maps.build import layers_map, render

    with tempfile.TemporaryDirectory() as folder, harness.browser() as chromium:
        app = create_app(Settings(jobs_dir=Path(folder) / "jobs"))
        with harness.serve(app) as url:
            started = time.perf_counter()
            cold = _measure(chromium, url + "/")
            print(f"server's first page (reads the layers, simplifies level 0): "
                  f"{time.perf_counter() - started:.2f} s wall, first render {cold[0]:.2f} s")
            _report("served layers map (/)", [_measure(chromium, url + "/") for _ in range(args.runs)])

        for detail in (0, 2):
            path = Path(folder) / f"layers_{detail}.html"
            path.write_text(render(layers_map(inline_levels=detail)), encoding="utf-8")
            _report(f"self-contained file, --detail {detail} ({path.stat().st_size / 1e6:.1f} MB)",
                    [_measure(chromium, path.as_uri()) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
