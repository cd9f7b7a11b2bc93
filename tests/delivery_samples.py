"""A generated red-line delivery as natural-resources departments hand them over: irregular polygons of about 170
vertices (some with holes, some in two parts) in CGCS2000 3° Gauss-Krüger zone 29 with the zone number in front of
the easting (EPSG:4517), a GBK .dbf without .cpg, and the columns 编号 名称 类型 面积 行政区 批准日期, where 类型 is
the ecological function (水源涵养, 防风固沙 …), not a subtype of the kind.

Also a remote-sensing monitoring delivery (人类活动遥感监测图斑) over the same ground, for screening with --patches.

Used by tests/test_deliveries.py and benchmarks/layers_bench.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

#: CGCS2000 3° zone 29 (central meridian 87° E) spans 85.5-88.5° E; the patches stay inside it.
BOX = (85.7, 43.6, 88.3, 45.4)
FUNCTIONS = ("水源涵养", "防风固沙", "水土保持", "生物多样性维护", "水土流失", "土地沙化")
COUNTIES = ("昌吉回族自治州昌吉市", "昌吉回族自治州呼图壁县", "昌吉回族自治州玛纳斯县", "昌吉回族自治州阜康市",
            "昌吉回族自治州吉木萨尔县", "兵团第八师石河子市", "塔城地区沙湾市")
APPROVED = (dt.date(2018, 6, 30), dt.date(2021, 12, 3), dt.date(2023, 2, 28))
GK_ZONE_29 = "EPSG:4517"


def _rings(cx, cy, rx, ry, vertices: int, rng: np.random.Generator) -> np.ndarray:
    """Closed star-shaped rings (always simple) whose radius wanders smoothly, as a surveyed outline does: one
    per centre, shape (len(cx), vertices + 1, 2)."""
    count = len(cx)
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    radius = 0.75 + rng.uniform(-0.02, 0.02, (count, vertices))
    for k in range(1, 7):
        radius += rng.uniform(0, 0.25 / k, (count, 1)) * np.sin(k * angles + rng.uniform(0, 2 * np.pi, (count, 1)))
    xs = cx[:, None] + rx[:, None] * radius * np.cos(angles)
    ys = cy[:, None] + ry[:, None] * radius * np.sin(angles)
    rings = np.stack([xs, ys], axis=2)
    return np.concatenate([rings, rings[:, :1]], axis=1)


def delivery(count: int, vertices: int = 172, seed: int = 7, area: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    """``count`` patches in lon/lat (EPSG:4490) with the delivery's columns, one per cell of a grid over ``BOX``
    (about one a km² for 40,000: a dense layer), or over ``area`` (a polygon in lon/lat: the cells whose centre
    lies in it); every tenth has a hole and every seventeenth two parts."""
    rng = np.random.default_rng(seed)
    cx, cy, width, height = _cells(count, BOX if area is None else area)
    cells = np.arange(count)
    rx, ry = width * rng.uniform(0.2, 0.42, count), height * rng.uniform(0.2, 0.42, count)
    geometries = shapely.polygons(_rings(cx, cy, rx, ry, vertices, rng))
    holed = cells[cells % 10 == 9]
    holes = shapely.linearrings(_rings(cx[holed], cy[holed], rx[holed] * 0.25, ry[holed] * 0.25, 24, rng)[:, ::-1])
    outer = shapely.linearrings(_rings(cx[holed], cy[holed], rx[holed], ry[holed], vertices - 24, rng))
    geometries[holed] = [shapely.Polygon(shell, [hole]) for shell, hole in zip(outer, holes)]
    split = cells[cells % 17 == 16]
    half_x, half_y = rx[split] / 2.4, ry[split]
    left = shapely.polygons(_rings(cx[split] - rx[split] / 2, cy[split], half_x, half_y, vertices // 2, rng))
    right = shapely.polygons(_rings(cx[split] + rx[split] / 2, cy[split], half_x, half_y, vertices // 2, rng))
    geometries[split] = [shapely.MultiPolygon([a, b]) for a, b in zip(left, right)]
    geometries = shapely.orient_polygons(geometries)
    width_digits = max(4, len(str(count)))
    areas = shapely.area(gpd.GeoSeries(geometries, crs="EPSG:4490").to_crs(GK_ZONE_29).values) / 1e4  # ha, planar
    county = rng.integers(0, len(COUNTIES), count)
    return gpd.GeoDataFrame({
        "编号": [f"HX-{i + 1:0{width_digits}d}" for i in range(count)],
        "名称": [f"{COUNTIES[c][-3:]}生态保护红线{i + 1}号图斑" for i, c in enumerate(county)],
        "类型": rng.choice(FUNCTIONS, count),
        "面积": np.round(areas, 4),
        "行政区": [COUNTIES[c] for c in county],
        "批准日期": pd.Series([APPROVED[i % len(APPROVED)] for i in range(count)], dtype=pd.ArrowDtype(pa.date32())),
    }, geometry=list(geometries), crs="EPSG:4490")


def _cells(count: int, area) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Centres (x, y) and size of ``count`` grid cells over ``area`` (a box, or a polygon whose cells are those
    with their centre in it): the grid is made finer until it has enough, and the first ``count`` are taken."""
    polygon = shapely.box(*area) if isinstance(area, tuple) else area
    minx, miny, maxx, maxy = polygon.bounds
    wanted = count
    while True:
        columns = int(np.ceil(np.sqrt(wanted * (maxx - minx) / (maxy - miny))))
        rows = int(np.ceil(wanted / columns))
        width, height = (maxx - minx) / columns, (maxy - miny) / rows
        cells = np.arange(columns * rows)
        cx, cy = minx + (cells % columns + 0.5) * width, miny + (cells // columns + 0.5) * height
        inside = shapely.contains_xy(polygon, cx, cy)
        if inside.sum() >= count:
            return cx[inside][:count], cy[inside][:count], width, height
        wanted = int(wanted * count / max(1, inside.sum()) * 1.02) + 1


def write_delivery(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` as the department does: Gauss-Krüger zone 29 with the zone prefix, GBK, no .cpg."""
    pyogrio.write_dataframe(frame.to_crs(GK_ZONE_29), path, encoding="GBK", use_arrow=True)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def next_delivery(frame: gpd.GeoDataFrame, fraction: float, seed: int = 8) -> gpd.GeoDataFrame:
    """The next delivery: of ``fraction`` of the patches, a quarter each moved (about 50 m), given another 类型,
    dropped, and added anew (smaller copies under new numbers); the rest exactly as before."""
    rng = np.random.default_rng(seed)
    quarter = max(1, int(len(frame) * fraction / 4))
    chosen = rng.choice(len(frame), 3 * quarter, replace=False)
    moved, retyped, dropped = chosen[:quarter], chosen[quarter:2 * quarter], chosen[2 * quarter:]
    second = frame.copy()
    second.loc[moved, "geometry"] = second.geometry.iloc[moved].translate(0.0005, 0.0003).values
    second.loc[retyped, "类型"] = [FUNCTIONS[(FUNCTIONS.index(t) + 1) % len(FUNCTIONS)] for t in second["类型"].iloc[retyped]]
    added = frame.iloc[dropped].copy()
    added["编号"] = [f"HX-N{i + 1:04d}" for i in range(len(added))]
    added["geometry"] = added.geometry.scale(0.6, 0.6).values
    return gpd.GeoDataFrame(pd.concat([second.drop(index=dropped), added], ignore_index=True), crs=frame.crs)


def as_zones(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A delivery in the zone schema, as ``read_layer_file`` maps it (for tests of the store alone)."""
    return gpd.GeoDataFrame({
        "zone_id": frame["编号"].tolist(), "name": frame["名称"].tolist(), "jurisdiction": frame["行政区"].tolist(),
        "valid_from": [d.isoformat() for d in frame["批准日期"]],
        "attributes": [{"类型": t, "面积": float(a)} for t, a in zip(frame["类型"], frame["面积"])],
    }, geometry=list(frame.geometry), crs="EPSG:4326")  # CGCS2000 lon/lat taken as WGS 84, as the store does


#: Six-digit county codes (行政区划代码) of the ground ``BOX`` covers, as a monitoring delivery gives them.
COUNTY_CODES = (652301, 652323, 652324, 659001, 654223)


def monitoring(count: int, seed: int = 21) -> gpd.GeoDataFrame:
    """``count`` remote-sensing change patches (人类活动遥感监测图斑) in lon/lat (EPSG:4490), the shapes of
    ``delivery``, with the columns a monitoring centre delivers: 图斑编号 (text), TBBH (a sequence number), 区划 (the
    county's code, an integer), 年度 (2024), 发现日期 (a date field), 监测时间 (days written as text in the forms
    officers use, every eleventh blank), 图斑面积 (m², real), 面积（亩） (real, every thirteenth blank), 户数 (a
    count), 备注 (words) and 占地面积 (whole m², all of four digits: a measure that looks like a code)."""
    rng = np.random.default_rng(seed)
    frame = delivery(count, seed=seed)
    found = [dt.date(2024, 1, 1) + dt.timedelta(days=int(n)) for n in rng.integers(0, 300, count)]
    seen = [day + dt.timedelta(days=int(n)) for day, n in zip(found, rng.integers(1, 40, count))]
    forms = ("{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日")
    square_metres = np.round(shapely.area(frame.to_crs(GK_ZONE_29).geometry.values), 2)
    mu = np.round(square_metres / (10000 / 15), 4)
    return gpd.GeoDataFrame({
        "图斑编号": [f"JC2024-{i + 1:05d}" for i in range(count)],
        "TBBH": np.arange(1, count + 1),
        "区划": [COUNTY_CODES[i] for i in rng.integers(0, len(COUNTY_CODES), count)],
        "年度": np.full(count, 2024),
        "发现日期": pd.Series(found, dtype=pd.ArrowDtype(pa.date32())),
        "监测时间": [None if i % 11 == 10 else forms[i % 3].format(d=d) for i, d in enumerate(seen)],
        "图斑面积": square_metres,
        "面积（亩）": [None if i % 13 == 12 else float(v) for i, v in enumerate(mu)],
        "户数": rng.integers(0, 40, count),
        "备注": rng.choice(("新增建设用地", "疑似违法占地", "已整改", "复核"), count),
        "占地面积": rng.integers(1000, 10000, count),
    }, geometry=list(frame.geometry), crs="EPSG:4490")


def write_monitoring(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` as a shapefile the way ``write_delivery`` does (GK zone 29, GBK without .cpg), or as a
    GeoPackage in its own lon/lat, date fields as dates."""
    if path.suffix == ".shp":
        return write_delivery(frame, path)
    pyogrio.write_dataframe(frame, path, use_arrow=True)
    return path
