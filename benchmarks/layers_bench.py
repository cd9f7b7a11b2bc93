"""Change-report benchmark: a generated red line of 40,000 polygons (about 170 vertices each, 6.9 M vertices), a
new version with 1 % of it changed, and ``ecozone layers diff`` between the two.

    python -m benchmarks.layers_bench [--features N] [--vertices V] [--changed FRACTION] [--store PATH]

The polygons are irregular, separate blobs on a grid over Xinjiang (some touching their neighbours). The new
version deletes, moves, edits the attributes of and adds a quarter of the changed share each. Printed: the
import of each version, the cold diff (first of the layer: the union of the version before is dissolved
once), the warm diff (that dissolve kept, as in a server), the report's figures, and the peak memory.
``--naive`` also times the pairwise ``union_all`` difference of the whole layers, for comparison.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.jurisdictions import geodesic_areas
from gis.layer_diff import diff_layer
from gis.store import init_store

KIND = "ecological_redline"
BBOX = (75.0, 36.5, 95.0, 48.5)


def generated(count: int, vertices: int, seed: int = 1) -> gpd.GeoDataFrame:
    """``count`` star-shaped blobs of ``vertices`` vertices on a grid over Xinjiang, none overlapping."""
    rng = np.random.default_rng(seed)
    columns = int(np.ceil(np.sqrt(count * (BBOX[2] - BBOX[0]) / (BBOX[3] - BBOX[1]))))
    rows = int(np.ceil(count / columns))
    width, height = (BBOX[2] - BBOX[0]) / columns, (BBOX[3] - BBOX[1]) / rows
    cells = np.arange(count)
    cx = BBOX[0] + (cells % columns + 0.5) * width
    cy = BBOX[1] + (cells // columns + 0.5) * height
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radii = 0.5 * (0.55 + 0.45 * rng.random((count, vertices)))
    xs = cx[:, None] + radii * width * np.cos(angles)
    ys = cy[:, None] + radii * height * np.sin(angles)
    rings = np.stack([xs, ys], axis=2)
    geoms = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    return gpd.GeoDataFrame({
        "zone_id": [f"HX{i:06d}" for i in cells], "name": [f"生态保护红线图斑{i}" for i in cells],
        "subtype": np.where(cells % 3 == 0, "bingtuan", "autonomous_region"), "jurisdiction": "新疆",
        "attributes": [{"功能": "水源涵养", "级别": int(i % 5)} for i in cells], "geometry_source": "official",
    }, geometry=geoms, crs=4326)


def edited(first: gpd.GeoDataFrame, fraction: float, seed: int = 2) -> gpd.GeoDataFrame:
    """The next version: a quarter of ``fraction`` each deleted, moved, re-attributed and newly added."""
    rng = np.random.default_rng(seed)
    quarter = max(1, int(len(first) * fraction / 4))
    chosen = rng.choice(len(first), 3 * quarter, replace=False)
    deleted, moved, renamed = chosen[:quarter], chosen[quarter:2 * quarter], chosen[2 * quarter:]
    second = first.copy()
    second.loc[moved, "geometry"] = second.loc[moved, "geometry"].translate(0.01, 0.005)
    for i in renamed:
        second.at[i, "attributes"] = {**second.at[i, "attributes"], "级别": 9}
    added = first.iloc[deleted].copy()
    added["zone_id"] = [f"NEW{i:06d}" for i in range(len(added))]
    added["geometry"] = added.geometry.scale(0.6, 0.6)
    second = second.drop(index=deleted)
    return gpd.GeoDataFrame(pd_concat([second, added]), crs=4326)


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=40_000)
    parser.add_argument("--vertices", type=int, default=172)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--store", type=Path, default=None, help="GeoPackage to create (default a temporary one)")
    parser.add_argument("--naive", action="store_true", help="also time union_all of both whole versions")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        location = args.store or Path(folder) / "bench.gpkg"
        store = init_store(location)
        first = generated(args.features, args.vertices)
        second = edited(first, args.changed)
        total = int(shapely.get_num_coordinates(first.geometry.values).sum())
        print(f"layer: {len(first):,} polygons, {total:,} vertices; next version changes {args.changed:.1%}")
        for frame, day in ((first, "2021-01-01"), (second, "2022-01-01")):
            started = time.perf_counter()
            version = store.import_layer(frame, KIND, source="bench", effective_from=day)
            print(f"import v{version.version}: {time.perf_counter() - started:.1f} s")
        for label in ("cold", "warm"):
            started = time.perf_counter()
            report = diff_layer(store, KIND, "2021-06-01", "2022-06-01")
            print(f"diff ({label}): {time.perf_counter() - started:.1f} s")
        print(f"  added {len(report.added)}, removed {len(report.removed)}, changed {len(report.changed)}, "
              f"unchanged {report.unchanged}")
        print(f"  area added {report.added_m2 / 1e6:,.3f} km², removed {report.removed_m2 / 1e6:,.3f} km², "
              f"union before {report.union_before_m2 / 1e6:,.1f} km²")
        print(f"  兵团 share {report.bingtuan.share_before_pct:.4f}% → {report.bingtuan.share_after_pct:.4f}%")
        if args.naive:
            started = time.perf_counter()
            before = shapely.union_all(first.geometry.values)
            after = shapely.union_all(second.geometry.values)
            naive = geodesic_areas([after.difference(before)])[0]
            print(f"naive union_all difference: {time.perf_counter() - started:.1f} s, added {naive / 1e6:,.3f} km²")
        print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        store.close()


if __name__ == "__main__":
    main()
