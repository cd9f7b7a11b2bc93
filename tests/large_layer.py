"""A generated red line of real size and shape for the map tests and benchmarks: irregular polygons of a few
hundred metres to several kilometres, about 170 vertices each, some with holes, scattered over Xinjiang, imported
into a writable copy of the embedded dataset as a new version of ``ecological_redline``."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.store import init_store

#: Where the polygons are scattered (lon/lat): the Xinjiang basins and ranges.
EXTENT = (75.0, 36.5, 95.0, 48.5)
KIND = "ecological_redline"
EFFECTIVE = "2020-01-01"


def redline_polygons(n: int, seed: int = 20) -> list[shapely.Polygon]:
    """``n`` star-shaped polygons with a wandering radius (0.3–6 km) and 120–220 vertices; every tenth has a
    hole."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(EXTENT[0], EXTENT[2], n)
    lat = rng.uniform(EXTENT[1], EXTENT[3], n)
    size_km = np.exp(rng.uniform(np.log(0.3), np.log(6.0), n))
    polygons = []
    for i in range(n):
        count = int(rng.integers(120, 220))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        wobble = np.cumsum(rng.normal(0, 0.08, count))
        wobble -= np.linspace(0, wobble[-1], count)  # closes smoothly
        radius = size_km[i] * np.clip(1 + 0.35 * np.sin(3 * angles + i) + wobble, 0.25, None)
        dx = radius * np.cos(angles) / (111.32 * np.cos(np.radians(lat[i])))
        dy = radius * np.sin(angles) / 110.57
        shell = np.column_stack((lon[i] + dx, lat[i] + dy))
        holes = []
        if i % 10 == 0:
            r = 0.15 * size_km[i]
            a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
            holes.append(np.column_stack((lon[i] + r * np.cos(a) / (111.32 * np.cos(np.radians(lat[i]))),
                                          lat[i] + r * np.sin(a) / 110.57)))
        polygon = shapely.make_valid(shapely.Polygon(shell, holes))
        polygons.append(max(shapely.get_parts(polygon), key=lambda part: part.area)
                        if polygon.geom_type != "Polygon" else polygon)
    return polygons


def redline_layer(n: int, seed: int = 20, subtype: str | None = "autonomous_region") -> gpd.GeoDataFrame:
    """The polygons as a red-line layer, as an official delivery would carry them (no 示意; ``subtype`` None as
    in a delivery whose 类型 holds the ecological function)."""
    polygons = redline_polygons(n, seed)
    rows = [{
        "zone_id": f"SBHX{i:06d}", "kind": KIND, "name": f"生态保护红线图斑{i:06d}", "subtype": subtype,
        "jurisdiction": "新疆维吾尔自治区", "attributes": {"redline_function": ("水源涵养", "防风固沙", "生物多样性维护")[i % 3]},
        "source_doc": "测试生成的红线图层", "source_quote": "生成数据", "geometry_source": "official",
    } for i in range(n)]
    return gpd.GeoDataFrame(rows, geometry=polygons, crs="EPSG:4326")


_made: dict[tuple[int, int, str | None], Path] = {}


def large_store(folder: Path, n: int, seed: int = 20, subtype: str | None = "autonomous_region") -> Path:
    """Path of a writable copy of the embedded dataset with ``n`` generated red-line polygons of ``subtype`` in
    force from 2020; made once per process, size and subtype."""
    key = (n, seed, subtype)
    if key not in _made or not _made[key].exists():
        path = folder / f"large-{n}-{seed}-{subtype}.gpkg"
        with init_store(path) as store:
            store.import_layer(redline_layer(n, seed, subtype), KIND, source="generated.shp",
                               effective_from=EFFECTIVE)
        _made[key] = path
    return _made[key]
