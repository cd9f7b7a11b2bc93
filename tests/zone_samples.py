"""Sample zone features of every kind, built by the tests (not taken from the default dataset)."""

from __future__ import annotations

import geopandas as gpd
import shapely

from gis.kinds import KINDS

_SAMPLE_ATTRIBUTES = {
    "nature_reserve": {"reserve_name": "玛纳斯河流域中上游湿地自然保护区", "level": "省级（兵团）"},
    "drinking_water_zone": {"source_name": "测试水源地", "source_type": "groundwater"},
    "industrial_park": {
        "level": "兵团级",
        "sewage_status_history": [{"as_of": "2019-03-31", "status": "under_construction"}],
        "water_project_freezes": [{"scope": "涉水项目", "from": "2018-01-01", "to": None}],
    },
    "key_region": {"members": [{"adcode": "659001", "name": "石河子市"}], "membership_source": "test"},
    "built_up_area": {"city": "石河子市", "city_level": "县级及以上"},
    "fuel_ban_zone": {"city": "石河子市"},
    "chp_plant": {"capacity_mw": 660.0},
    "control_unit": {"unit_code": "ZH65900110001", "access_list": {"空间布局约束": "禁止新建燃煤锅炉"}},
    "admin_division": {"adcode": "659001", "pm25_2017": 59.5, "attainment": False},
}


def sample_geometries(x0: float, y0: float) -> list[shapely.Geometry]:
    """A polygon with a hole, a multipolygon and a plain polygon near (x0, y0) in lon/lat."""
    outer = shapely.box(x0, y0, x0 + 0.2, y0 + 0.1)
    hole = shapely.box(x0 + 0.05, y0 + 0.02, x0 + 0.1, y0 + 0.05)
    with_hole = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    multi = shapely.MultiPolygon([shapely.box(x0 + 0.3, y0, x0 + 0.35, y0 + 0.05),
                                  shapely.box(x0 + 0.4, y0, x0 + 0.45, y0 + 0.05)])
    plain = shapely.Polygon([(x0, y0 - 0.1), (x0 + 0.1, y0 - 0.05), (x0 + 0.05, y0 - 0.01)])
    return [with_hole, multi, plain]


def sample_zones(kind: str, x0: float = 86.0, y0: float = 44.3) -> gpd.GeoDataFrame:
    """Three features of ``kind`` (points for point kinds) with every common field filled."""
    spec = KINDS[kind]
    subtypes = list(spec.subtypes) or [None]
    if spec.geometry == "point":
        geoms = [shapely.Point(x0, y0), shapely.Point(x0 + 0.1, y0 + 0.05), shapely.Point(x0 - 0.2, y0)]
    else:
        geoms = sample_geometries(x0, y0)
    attributes = _SAMPLE_ATTRIBUTES.get(kind, {})
    rows = []
    for i, geom in enumerate(geoms):
        rows.append({
            "zone_id": f"{kind}:{i + 1}",
            "kind": kind,
            "name": f"{spec.label_zh}测试{i + 1}",
            "name_en": f"{spec.label_en} test {i + 1}",
            "subtype": subtypes[i % len(subtypes)],
            "jurisdiction": "兵团第八师石河子市",
            "attributes": {**attributes, "序号": i + 1, "备注": "测试要素"},
            "source_doc": "tests",
            "source_quote": "「测试」",
            "geometry_source": ["official", "derived", "illustrative"][i % 3],
            "valid_from": "2019-01-01" if i == 0 else None,
            "valid_to": "2025-01-01" if i == 1 else None,
        })
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
