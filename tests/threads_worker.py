"""Checks from several threads at once on one store, in a process of its own, so that a test survives a crash.

Usage: python -m tests.threads_worker ROUNDS THREADS FOLDER

Reads parcels, points and files (a 国土 TXT, a GeoJSON and a CSV written into FOLDER, as uploads are),
checks each once in this thread, then ROUNDS times from THREADS threads at once (each thread a shuffled
share), reading the files again in the threads, and runs the overlap engine alone on each site. Exits 0
when every concurrent result equals the sequential one, 1 when one differs; a crash ends the process with
the signal.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import shapely

from gis.check import check_site
from gis.overlap import OverlapEngine
from gis.sites import read_site
from gis.store import open_store


def inputs(store, folder: Path) -> list[str]:
    """Texts and file paths of sites near the store's zones: parcels of 16-68 vertices, points, files."""
    rng = np.random.default_rng(7)
    zones = store.snapshot().zones
    centres = zones.geometry.representative_point().sample(80, random_state=3, replace=True).tolist()
    sources = []
    for i, centre in enumerate(centres):
        x, y = centre.x + rng.normal(0, 0.03), centre.y + rng.normal(0, 0.03)
        if i % 3 == 0:
            sources.append(f"{x:.6f}, {y:.6f}")
        else:
            parcel = shapely.Point(x, y).buffer(rng.uniform(0.005, 0.05), quad_segs=int(rng.integers(4, 17)))
            sources.append(json.dumps(shapely.geometry.mapping(parcel)))  # GeoJSON text
    parcel = shapely.Point(86.05, 44.30).buffer(0.01, quad_segs=8)
    geojson = folder / "parcel.geojson"
    geojson.write_text(json.dumps({"type": "Feature", "properties": {"名称": "地块"},
                                   "geometry": shapely.geometry.mapping(parcel)}), encoding="utf-8")
    csv = folder / "sites.csv"
    csv.write_text("名称,经度,纬度\n甲,86.0413,44.3056\n乙,87.6168,43.8256\n", encoding="utf-8")
    samples = Path(__file__).parents[1] / "data" / "samples"
    return [*sources, str(geojson), str(csv), str(samples / "shihezi_boiler.txt")]


def check(store, source: str) -> str:
    return check_site(read_site(source), store=store).model_dump_json()


def main(rounds: int, threads: int, folder: Path) -> int:
    store = open_store()
    sources = inputs(store, folder)
    expected = {source: check(store, source) for source in sources}
    # The engine alone too: most of its time is then in GEOS, where the threads really run at once.
    engine = OverlapEngine.for_store(store)
    shapes = {source: read_site(source).shape for source in sources}
    overlaps = {source: engine.check(shape).model_dump_json() for source, shape in shapes.items()}
    differ: list[str] = []
    how: list[dict] = []  # of the first results that differ: which parts, to be able to tell why
    rng = np.random.default_rng(11)

    def compare(kind: str, source: str, got: str, want: str) -> None:
        if got != want:
            differ.append(source)
            a, b = json.loads(want), json.loads(got)
            how.append({"kind": kind, "source": source[:80], "parts": sorted(k for k in a if a.get(k) != b.get(k)),
                        "got": got[:1500], "want": want[:1500]})

    def work(share: list[str]) -> None:
        for source in share:
            compare("check", source, check(store, source), expected[source])
            for _ in range(3):
                compare("engine", source, engine.check(shapes[source]).model_dump_json(), overlaps[source])

    for _ in range(rounds):
        order = list(rng.permutation(sources))
        workers = [threading.Thread(target=work, args=(order[i::threads],)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    print(json.dumps({"sites": len(sources), "rounds": rounds, "threads": threads, "differ": differ[:5]}))
    if how:
        print(json.dumps(how[:2], ensure_ascii=False), file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))
