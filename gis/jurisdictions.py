"""Jurisdictions and the area a layer covers in each: the autonomous region, its prefectures and counties, each
兵团 city and the 兵团 as a whole, all geodesic.

The units come from the store's ``admin_division`` layer (subtypes province, prefecture, county,
bingtuan_city). The 兵团 has no boundary of its own there: it is represented by the union of the
``bingtuan_city`` units (师市合一: each city stands for its division, named in its ``division`` attribute).
Land of the 兵团 outside those cities (regiments inside autonomous-region counties, divisions without a city in
the layer) is therefore not in it, and a share "of the 兵团" is the share of those cities' land; ``BASIS_ZH``
says so wherever a share is shown. A store with better 兵团 boundaries imports them as ``bingtuan_city`` units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gis.cache import BoundedCache
from gis.crs import geodesic_area_m2, geodesic_areas_m2
from gis.errors import VersionNotFoundError
from gis.store import LayerVersion, Store

__all__ = [
    "BASIS_ZH",
    "BINGTUAN_CODE",
    "BINGTUAN_FLOOR_PCT",
    "FLOOR_SOURCE",
    "LEVEL_LABELS",
    "Jurisdiction",
    "Jurisdictions",
    "dissolve",
    "geodesic_areas",
]

#: The 兵团's red-line floor: share of land, %, that must not fall ([004] 表2-1, indicator 12, 约束性).
BINGTUAN_FLOOR_PCT = 21.87
FLOOR_SOURCE = ("[004] 新疆生产建设兵团“十四五”生态环境保护规划 表2-1：生态保护红线占国土面积比例（%）"
                "21.87，2025 年目标「不减少」（约束性）")

#: Code of the synthetic unit "the 兵团 as a whole".
BINGTUAN_CODE = "bingtuan"

#: Levels, in the order reports list them, with their Chinese labels.
LEVEL_LABELS = {"region": "自治区", BINGTUAN_CODE: "兵团", "bingtuan_city": "兵团师市", "prefecture": "地州市",
                "county": "县市区"}

BASIS_ZH = ("兵团没有单独的辖区边界图层：兵团整体以行政区划图层中的兵团城市（subtype bingtuan_city，师市合一，"
            "每个城市代表其所在师）的并集计算；城市以外的兵团土地（分布在自治区县市内的团场、图层中没有城市的师）"
            "不在其中，因此「兵团占比」是这些城市土地上的占比。自治区、地州市、县市区的面积取各自边界的椭球面积。")

_SUBTYPE_LEVEL = {"province": "region", "prefecture": "prefecture", "county": "county", "bingtuan_city": "bingtuan_city"}


def geodesic_areas(geoms) -> np.ndarray:
    """Geodesic area in m² of each lon/lat geometry, all at once (``gis.crs.geodesic_areas_m2``)."""
    return geodesic_areas_m2(np.asarray(geoms, dtype=object).ravel())


def dissolve(geoms) -> np.ndarray:
    """Polygons whose interiors do not meet, covering what ``geoms`` cover.

    Only geometries whose interiors meet are merged, group by group (connected through the spatial index), so a
    layer of tens of thousands of mostly separate polygons costs one index pass and a few small unions; one
    ``union_all`` of such a layer takes minutes. Touching neighbours stay apart: they share no area.
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))]
    if len(geoms) < 2:
        return geoms
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if len(left):
        shared = shapely.relate_pattern(geoms[left], geoms[right], "T********")
        left, right = left[shared], right[shared]
    if not len(left):
        return geoms
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(geoms), len(geoms)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    alone = sizes[labels] == 1
    grouped = np.flatnonzero(~alone)
    order = grouped[np.argsort(labels[grouped], kind="stable")]
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    merged = [shapely.union_all(geoms[members]) for members in np.split(order, bounds)]
    return np.concatenate([geoms[alone], np.asarray(merged, dtype=object)])


@dataclass(frozen=True)
class Jurisdiction:
    """One unit: its level (``LEVEL_LABELS``), code (adcode, or ``bingtuan``), boundary and land area."""

    level: str
    code: str
    name: str
    parent: str | None
    division: str | None
    geometry: shapely.Geometry
    land_m2: float

    @property
    def level_label(self) -> str:
        """The level in Chinese (自治区, 地州市, 县市, 师 …)."""
        return LEVEL_LABELS[self.level]


class Jurisdictions:
    """The units of one version of the store's administrative layer, with their land areas (prepared once)."""

    def __init__(self, admin_version: LayerVersion, zones) -> None:
        self.admin_version = admin_version
        units: list[Jurisdiction] = []
        records = zones.drop(columns="geometry").to_dict("records")
        for record, geom in zip(records, zones.geometry.values):
            level = _SUBTYPE_LEVEL.get(record["subtype"])
            if level is None or geom is None or geom.is_empty:
                continue
            attrs = record["attributes"] or {}
            code = str(attrs.get("adcode") or record["zone_id"])
            shapely.prepare(geom)
            units.append(Jurisdiction(level, code, record["name"], attrs.get("parent_adcode"), attrs.get("division"),
                                      geom, geodesic_area_m2(geom)))
        cities = [u for u in units if u.level == "bingtuan_city"]
        if cities:
            whole = shapely.union_all([u.geometry for u in cities])
            shapely.prepare(whole)
            units.append(Jurisdiction(BINGTUAN_CODE, BINGTUAN_CODE, f"新疆生产建设兵团（{len(cities)} 个兵团城市）",
                                      None, None, whole, geodesic_area_m2(whole)))
        rank = {level: i for i, level in enumerate(LEVEL_LABELS)}
        self.units = sorted(units, key=lambda u: (rank[u.level], u.code))
        self.bingtuan_cities = [f"{u.name}（{u.division or '师未注明'}，{u.code}）" for u in cities]

    @classmethod
    def of_store(cls, store: Store, as_of: str | dt.date | None = None) -> Jurisdictions:
        """The units of the administrative layer in force on ``as_of`` (default today), cached per version."""
        version = store.in_force(as_of).get("admin_division")
        if version is None:
            raise VersionNotFoundError(
                "图层库中没有生效的行政区划，无法计算各辖区所占份额 / the store has no administrative divisions in "
                "force: shares need each jurisdiction's land",
                field="admin_division", value=str(as_of) if as_of else None,
                fix="以图层类型 admin_division 导入行政区划界线（亚类 province、prefecture、county、bingtuan_city，"
                    "各带行政区划代码） / import the administrative boundaries as kind admin_division (subtypes "
                    "province, prefecture, county, bingtuan_city, each with its adcode)",
            )
        key = (store.location, version.version, version.content_sha256)
        found = _cache.get(key)
        return found if found is not None else _cache.put(key, cls(version, store.read("admin_division",
                                                                                       version.version)))

    @property
    def bingtuan(self) -> Jurisdiction | None:
        """The 兵团 as a whole (the union of its cities), if the layer has any 兵团 city."""
        return next((u for u in self.units if u.level == BINGTUAN_CODE), None)

    def areas_within(self, pieces, piece_areas: np.ndarray | None = None,
                     units: list[Jurisdiction] | None = None) -> np.ndarray:
        """Geodesic m² of ``pieces`` (polygons whose interiors do not meet: ``dissolve``) inside each unit.

        A piece wholly inside a unit counts with its own area (computed once); only pieces crossing a unit's
        boundary are intersected with it.
        """
        pieces = np.asarray(pieces, dtype=object)
        units = self.units if units is None else units
        if not len(pieces):
            return np.zeros(len(units))
        areas = geodesic_areas(pieces) if piece_areas is None else piece_areas
        tree = shapely.STRtree(pieces)
        totals = np.zeros(len(units))
        for position, unit in enumerate(units):
            found = tree.query(unit.geometry, predicate="intersects")
            if not len(found):
                continue
            inside = shapely.contains_properly(unit.geometry, pieces[found])
            crossing = pieces[found[~inside]]
            # The unit cut to each piece's box first (a rectangle clip, no overlay): intersecting a piece with a whole
            # region's boundary costs that boundary's vertices every time.
            bounds = shapely.bounds(crossing)
            near = shapely.make_valid(np.array([shapely.clip_by_rect(unit.geometry, *box) for box in bounds]))
            crossing = shapely.intersection(near, crossing)
            totals[position] = areas[found[inside]].sum() + geodesic_areas(crossing).sum()
        return totals


_cache: BoundedCache[Jurisdictions] = BoundedCache(4)
