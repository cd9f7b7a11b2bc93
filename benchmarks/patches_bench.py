"""Remote-sensing patches (人类活动遥感监测图斑) in a GIS file: screened with verdicts (``screen_file``) and cut by
the protected zones with areas, county and division (``screen_patches``), against what an analyst would write
with geopandas for the second (``overlay`` with the protected zones, geodesic areas, ``sjoin`` with the
counties), in one run.

    python -m benchmarks.patches_bench [--patches N] [--keep DIR]

The patches are generated as monitoring deliveries look: irregular polygons of 8 to 24 vertices and about
0.5 to 5 ha, half of them drawn clockwise, around the edges of the embedded dataset's zones, in a GeoPackage
layer of multi-polygons (as GIS programs write them) in CGCS2000 longitude/latitude.

geopandas answers less than ``screen_patches`` (no coverage check, no reading errors, no 兵团 rule, no handover
workbook); its figure is what the cut and the areas alone cost.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from benchmarks.timing import timed
from gis.batch import screen_file
from gis.batch.columnar import use_system_memory_pool
from gis.batch.patches import screen_patches
from gis.batch.spatial import PROTECTED_KINDS
from gis.crs import geodesic_areas_m2
from gis.store import open_store


def patches(n: int, seed: int = 5) -> gpd.GeoDataFrame:
    """``n`` generated patches (see the module notes), in CGCS2000 longitude/latitude."""
    rng = np.random.default_rng(seed)
    zones = open_store().snapshot().zones
    zones = zones[zones.kind != "admin_division"]
    edges = shapely.get_coordinates(shapely.segmentize(zones.geometry.boundary.values, 0.05))
    middles = edges[rng.integers(0, len(edges), n)] + rng.normal(0, 0.03, (n, 2))
    shapes = []
    for i, (x, y) in enumerate(middles):
        vertices = rng.integers(8, 25)
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radius = rng.uniform(40, 120) * rng.uniform(0.7, 1.3, vertices)  # metres
        ring = np.column_stack([x + radius * np.cos(angles) / 85_000, y + radius * np.sin(angles) / 111_000])
        shapes.append(shapely.MultiPolygon([shapely.Polygon(ring[::-1] if i % 2 else ring)]))
    return gpd.GeoDataFrame({"图斑编号": [f"TB{i:06d}" for i in range(n)],
                             "变化类型": rng.choice(["建设用地", "采矿", "道路", "光伏"], n)},
                            geometry=shapes, crs="EPSG:4490")


def geopandas_cut(source: Path, target: Path, protected: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> None:
    """What an analyst writes: read, overlay with the protected zones, geodesic areas and shares, the county
    of each patch by a spatial join of its representative point, write a GeoPackage."""
    frame = gpd.read_file(source).to_crs("EPSG:4326")
    frame["图斑面积m²"] = geodesic_areas_m2(frame.geometry.values)
    pieces = gpd.overlay(frame, protected[["kind", "name", "geometry"]], how="intersection", keep_geom_type=True)
    pieces["相交面积m²"] = geodesic_areas_m2(pieces.geometry.values)
    pieces["占图斑比例%"] = 100 * pieces["相交面积m²"] / pieces["图斑面积m²"]
    points = frame.set_geometry(frame.representative_point())
    county = gpd.sjoin(points, counties[["name", "geometry"]], predicate="within", how="left")
    frame["所在县市区"] = county.groupby(level=0)["name"].first()
    frame.to_file(target, layer="图斑")
    pieces.to_file(target, layer="图斑区域相交")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="Keep the generated files in this folder.")
    args = parser.parse_args()
    use_system_memory_pool()  # as the ecozone command does: the figures are what an officer's run takes
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ecozone-patches-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {args.patches:,} patches …", flush=True)
    source = folder / "图斑.gpkg"
    patches(args.patches).to_file(source)
    store = open_store()
    zones = store.snapshot().zones
    protected = zones[zones.kind.isin(PROTECTED_KINDS)]
    counties = zones[(zones.kind == "admin_division") & (zones.subtype == "county")]
    # the zones of the patches' area are prepared once per store version, as a job's process prepares them before
    # its first row: the timed runs measure the screening
    screen_file(source, folder / "warm.parquet", store=store)
    print(f"{args.patches:,} patches ({source.stat().st_size / 1e6:.0f} MB GeoPackage)", flush=True)
    verdicts = timed("ecozone screen_file → GeoParquet (verdicts)",
                     lambda: screen_file(source, folder / "verdicts.parquet", store=store))
    cut = timed("ecozone screen_patches → GeoPackage + 移交清单",
                lambda: screen_patches(source, [folder / "cut.gpkg", folder / "移交清单.xlsx"], store=store))
    peer = timed("geopandas overlay + areas + sjoin → GeoPackage",
                 lambda: geopandas_cut(source, folder / "geopandas.gpkg", protected, counties))
    print(f"  per patch: verdicts {1000 * verdicts / args.patches:.2f} ms, cut {1000 * cut / args.patches:.2f} ms; "
          f"screen_patches / geopandas: {cut / peer:.2f}x", flush=True)
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
