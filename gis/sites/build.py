"""From a ``RawSite`` to checked ``Site`` objects: CRS resolution, order and unit checks, transforms.

The same steps run for every format, in this order: clean rings, apply ``swap_xy``, decide the source
CRS (option > file > inferred from the numbers), check degrees or Gauss-Krüger values (swaps, metres as
degrees, zone prefix), transform to WGS 84 with PROJ, undo GCJ-02/BD-09, build and repair geometries,
check the coverage. Each step that changes coordinates is recorded.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.crs import (
    STORE_CRS,
    bd09_to_wgs84,
    crs_identity,
    crs_label,
    datum_name,
    gcj02_to_wgs84,
    geodesic_area_m2,
    transformer_to_wgs84,
)
from gis.errors import CoordinateError, CRSError, FieldError, GeometryError
from gis.sites import gk
from gis.sites.checks import CoveredArea, Log, assemble, check_area, check_coverage, clean_ring, covered, repair
from gis.sites.limits import check_raw
from gis.sites.model import CRS_ORIGINS_ZH, FILE_CRS_ORIGINS, Plot, RawSite, Site, SourceCRS

__all__ = ["build_sites", "combine", "coverage_hints", "crs_overridden", "user_crs"]

DATUMS = {"wgs84": None, "gcj02": ("GCJ-02 (Amap/Tencent)", gcj02_to_wgs84), "bd09": ("BD-09 (Baidu)", bd09_to_wgs84)}
_SAME_AS_WGS84 = ("World Geodetic System 1984", "China 2000")
#: Where a GIS file's CRS comes from (``FILE_CRS_ORIGINS``), as the Chinese half of a text says it.
_CHINA_ZONES = "中国境内为 3° 带 25–45、6° 带 13–23 / China lies in 3° zones 25–45 and 6° zones 13–23"


def build_sites(raw: RawSite, *, crs: Any = None, gk_zone: int | None = None, datum: str = "wgs84",
                swap_xy: bool | None = None,
                coverage: CoveredArea | tuple[float, float, float, float] | None) -> list[Site]:
    """Check and convert every plot of ``raw``; one ``Site`` per plot, all sharing the file's records."""
    log = Log(raw.source, list(raw.notices), list(raw.conversions))
    if datum not in DATUMS:
        raise FieldError("无法识别的大地基准 / unknown datum", field="datum", value=datum,
                         fix=f"使用以下之一 / use one of {', '.join(DATUMS)}")
    check_raw(raw)
    for plot in raw.plots:
        for part in plot.parts:
            part.rings = [clean_ring(ring, part.kind, log, raw.fields) for ring in part.rings]
    rings = [ring for plot in raw.plots for part in plot.parts for ring in part.rings]
    if swap_xy:
        _swap(rings)
        log.did("swap_xy", f"按要求交换了每个点的两个坐标值 / swapped the two values of every vertex as asked: "
                           f"{raw.fields[1]} read as east/longitude, {raw.fields[0]} as north/latitude")
        raw.fields = raw.fields[::-1]
    xy = np.array([c for ring in rings for c in ring.coords], dtype=float)
    rows = [r for ring in rings for r in ring.rows]
    src, origin, zone = _resolve(raw, xy, rows, rings, crs, gk_zone, swap_xy, coverage, log)
    xy = np.array([c for ring in rings for c in ring.coords], dtype=float)
    lonlat = _to_wgs84(src, xy, log)
    if DATUMS[datum] and not src.is_geographic:
        raise CRSError(f"{datum} 只适用于从网络地图抄录的经纬度，不适用于 {crs_label(src)} / {datum} applies to "
                       f"longitude/latitude copied from a web map, not to {crs_label(src)}",
                       field="datum", value=datum, fix="去掉 «datum»，或给出网络地图上的经纬度 / drop «datum», or give the web map's lon/lat")
    if zone:
        _check_zone_fit(zone, lonlat, rows, log)
    start = 0
    for ring in rings:
        ring.coords = [tuple(c) for c in lonlat[start : start + len(ring.coords)]]
        start += len(ring.coords)
    sites = []
    hints = coverage_hints(src, zone, crs, raw.crs_origin)
    label, epsg = crs_identity(src)
    for plot in raw.plots:
        plot_log = Log(raw.source)
        geoms = [g for part in plot.parts for g in assemble(part, plot_log)]
        geom = geoms[0] if len(geoms) == 1 else _collect(geoms, raw.source)
        if DATUMS[datum]:
            label, convert = DATUMS[datum]
            geom = convert(geom)
            plot_log.did(f"{datum}_to_wgs84", f"由 {label} 换算为 WGS 84（迭代反算，误差小于 1 毫米） / converted {label} to "
                                              "WGS 84 (iterative inverse, better than 1 mm)")
        geom = repair(geom, plot_log, plot.row)
        check_coverage(geom, coverage, plot_log, hints, plot.row if len(raw.plots) > 1 else None)
        geom = shapely.orient_polygons(geom, exterior_cw=False)
        source_crs = SourceCRS(label=label, epsg=epsg, origin=origin)
        area = geodesic_area_m2(geom) if geom.geom_type in ("Polygon", "MultiPolygon") else None
        check_area(area, plot_log, plot.row)
        _check_declared_area(plot, area, plot_log)
        attributes = {**raw.attributes, **plot.attributes}
        geometry = _geojson(geom)
        sites.append(Site(
            geometry=geometry, name=_site_name(raw, plot), source=raw.source,
            source_crs=source_crs, datum=datum, conversions=log.conversions + plot_log.conversions,
            notices=[n.to_dict() for n in log.notices + plot_log.notices], attributes=attributes,
            plots=[Plot(name=plot.name, row=plot.row, attributes=plot.attributes, geometry=geometry, area_m2=area)],
            area_m2=area,
        ))
    return sites


def _site_name(raw: RawSite, plot) -> str | None:
    """A one-plot input is named after the project (项目名称) first; a plot of many after the plot."""
    project = raw.attributes.get("name")
    return (project or plot.name) if len(raw.plots) == 1 else (plot.name or project)


def combine(sites: list[Site], raw_attributes: dict[str, Any]) -> Site:
    """One site from several plots: a multi-geometry keeping every plot, each plot listed in ``plots``."""
    if len(sites) == 1:
        return sites[0]
    first = sites[0]
    log = Log(first.source)
    geom = _collect([s.shape for s in sites], first.source)
    if not geom.is_valid:
        geom = shapely.union_all([s.shape for s in sites])
        log.note("plots_overlap", "各地块相互重叠；项目地块取其合并（重叠部分只计一次） / plots of this input overlap; "
                 "the site geometry is their union (overlaps counted once)", step="union_plots",
                 fix="如地块不应重叠，请检查其边界 / check the plots' boundaries if they should not overlap")
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    notices, conversions = [], []
    for site in sites:  # file-level records are shared, so keep each once, in order
        notices += [n for n in site.notices if n not in notices]
        conversions += [c for c in site.conversions if c not in conversions]
    area = geodesic_area_m2(geom) if geom.geom_type in ("Polygon", "MultiPolygon") else None
    return Site(
        geometry=_geojson(geom), name=raw_attributes.get("name") or first.source, source=first.source,
        source_crs=first.source_crs, datum=first.datum, conversions=conversions + log.conversions,
        notices=notices + [n.to_dict() for n in log.notices], attributes=raw_attributes,
        plots=[p for s in sites for p in s.plots], area_m2=area,
    )


def _collect(geoms: list[shapely.Geometry], source: str) -> shapely.Geometry:
    """One multi-geometry of the parts of ``geoms``; a site is points, lines or polygons, never a mix."""
    parts = [p for g in geoms for p in shapely.get_parts(g)]
    kinds = {p.geom_type for p in parts}
    if kinds == {"Polygon"}:
        return shapely.MultiPolygon(parts)
    if kinds == {"Point"}:
        return shapely.MultiPoint(parts)
    if kinds == {"LineString"}:
        return shapely.MultiLineString(parts)
    raise GeometryError(
        f"地块混合了点、线、面（{'、'.join(sorted(kinds))}） / the plots mix points, lines and polygons",
        source=source, field="geometry", value=sorted(kinds),
        fix="分别检查不同类型的地块 / check the points, lines and polygons separately",
    )


def _geojson(geom: shapely.Geometry) -> dict[str, Any]:
    return json.loads(shapely.to_geojson(geom))


def _swap(rings) -> None:
    for ring in rings:
        ring.coords = [(b, a) for a, b in ring.coords]


def user_crs(crs: Any) -> CRS:
    """The CRS given (an EPSG code, PROJ or WKT), or the error that names the field ``crs`` and the fix."""
    try:
        return CRS.from_user_input(crs)
    except ProjCRSError:
        raise CRSError("无法识别的坐标系 / unknown CRS", field="crs", value=crs,
                       fix="用 «crs» 给出 EPSG 代码（如 CGCS2000 3° 带第 29 带为 EPSG:4517）或 PROJ/WKT 定义 / give with "
                           "«crs» an EPSG code (e.g. EPSG:4517 for CGCS2000 3° zone 29) or a PROJ/WKT definition") from None


def _resolve(raw, xy, rows, rings, crs, gk_zone, swap_xy, coverage, log):
    """The source CRS, where it came from, and its Gauss-Krüger zone (if it is one); may fix the order."""
    if crs is not None and gk_zone is not None:
        raise CRSError("坐标系和高斯-克吕格带号只能给一个 / give either a CRS or a Gauss-Krüger zone, not both",
                       field="crs", value=crs, fix="去掉 «gk_zone» 或 «crs» / drop «gk_zone» or «crs»")
    if gk_zone is not None and gk.width_of_zone(gk_zone) is None:
        raise CRSError("不是中国的高斯-克吕格带号 / not a Chinese Gauss-Krüger zone number", field="gk_zone",
                       value=gk_zone, fix=_CHINA_ZONES)
    src, origin = None, ""
    if crs is not None:
        src, origin = user_crs(crs), "given (crs)"
        overridden = crs_overridden(raw.crs, raw.crs_origin, src)
        if overridden:
            log.note("crs_overridden", overridden, level="info", field="crs")
    elif raw.crs is not None and gk_zone is None:
        src, origin = raw.crs, raw.crs_origin
    degrees = bool(np.all(np.abs(xy) <= 180))
    if src is not None and src.is_geographic or src is None and gk_zone is None and degrees:
        if raw.gk is not None and degrees:
            log.note("degrees_in_projected_file",
                     f"文件声明为投影坐标（{raw.gk.origin}），但坐标值是度数：{raw.fields[1]} 按纬度、"
                     f"{raw.fields[0]} 按经度读取 / the {raw.gk.origin} declares projected coordinates but the values "
                     f"are degrees: read {raw.fields[1]} as latitude and {raw.fields[0]} as longitude", level="info",
                     fix="如文件并非经纬度格式，请改正文件头（如 计量单位） / correct the header (e.g. 计量单位) if this "
                         "is not the lat/lon variant")
        _check_degrees(raw, xy, rows, rings, swap_xy, coverage, log)
        if src is None:
            src, origin = STORE_CRS, "inferred: the values are degrees"
        return src, origin, None
    if degrees:
        what = crs_label(src) if src is not None else f"Gauss-Krüger zone {gk_zone}"
        raise CoordinateError(f"坐标值是度，而 {what} 的单位是米 / the values are degrees but {what} expects metres",
                              row=rows[0], value=tuple(map(float, xy[0])),
                              fix="经纬度输入请去掉 «crs» / «gk_zone» / drop «crs» / «gk_zone» for longitude/latitude input")
    zone = gk.describe(src) if src is not None else None
    if src is None or zone is not None:
        _check_gk_order(raw, xy, rows, rings, swap_xy, log)
        xy = np.array([c for ring in rings for c in ring.coords], dtype=float)
    if src is None:
        zone = _zone_from_values(raw, xy[:, 0], rows, gk_zone, log)
        src = gk.zone_crs(zone)
        origin = "given (gk_zone)" if gk_zone is not None else (raw.gk.origin if raw.gk and raw.gk.zone else "Y zone prefix")
    elif zone is not None:
        _check_prefix_fits(zone, src, xy[:, 0], rows, raw, log)
    return src, origin, zone


def crs_overridden(declared: CRS | None, origin: str, given: CRS) -> str | None:
    """What a site says when a GIS file's own CRS (``origin``: where it comes from) gives way to the crs given,
    so that the choice is on record; None when the file declares none, or the same."""
    if declared is None or origin not in FILE_CRS_ORIGINS or declared.equals(given):
        return None
    return (f"文件的坐标系（{crs_label(declared)}，来自{CRS_ORIGINS_ZH[origin]}）已由给出的坐标系（{crs_label(given)}）取代 / "
            f"the file's CRS ({crs_label(declared)}, from {origin}) is overridden by the CRS given ({crs_label(given)})")


def _fits(lon: np.ndarray, lat: np.ndarray, coverage) -> np.ndarray:
    """Which vertices are longitude/latitude, and inside the covered area when there is one (lon/lat cells,
    so it implies the first)."""
    coverage = covered(coverage)
    if coverage is None:
        return (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    return coverage.contains(lon, lat)


def _check_degrees(raw, xy, rows, rings, swap_xy, coverage, log) -> None:
    """Degrees: refuse metres, detect latitude/longitude given in the other order."""
    big = np.abs(xy).max(axis=1) > 180
    if big.any():
        i = int(np.argmax(big))
        raise CoordinateError(
            "坐标值超出度的范围，像是以米为单位的投影坐标 / a value is too large for degrees: these look like metres "
            "(projected coordinates) given as degrees",
            source=raw.source, row=rows[i], field=f"{raw.fields[0]}/{raw.fields[1]}", value=tuple(map(float, xy[i])),
            fix="如为高斯-克吕格 X/Y，请给出 «gk_zone»（或 «crs»）；否则请给出经纬度 / if they are Gauss-Krüger X/Y give "
                "«gk_zone» (or «crs»); otherwise give degrees",
        )
    _check_order(raw, rows, rings, swap_xy, log, _fits(xy[:, 0], xy[:, 1], coverage),
                 _fits(xy[:, 1], xy[:, 0], coverage), "longitude, latitude", "latitude and longitude",
                 f"将 {raw.fields[0]} 读作纬度、{raw.fields[1]} 读作经度：只有这样数值才落在覆盖范围内 / read "
                 f"{raw.fields[0]} as the latitude and {raw.fields[1]} as the longitude: only so do the values fall in "
                 "the covered area")
    lat = np.array([c[1] for ring in rings for c in ring.coords])
    if (np.abs(lat) > 90).any():
        i = int(np.argmax(np.abs(lat) > 90))
        raise CoordinateError("纬度超过 90° / a latitude beyond 90°", source=raw.source, row=rows[i], field=raw.fields[1],
                              value=float(lat[i]), fix="检查该值；如两个值颠倒，请使用 «swap_xy» / check the value, or use "
                                                      "«swap_xy» if the two are swapped")


def _check_gk_order(raw, xy, rows, rings, swap_xy, log) -> None:
    """Gauss-Krüger: a northing has 7 digits, an easting 6 (or 8 with the zone prefix)."""
    east_ok, north_ok = gk.looks_easting(xy[:, 0]), gk.looks_northing(xy[:, 1])
    east_rev, north_rev = gk.looks_easting(xy[:, 1]), gk.looks_northing(xy[:, 0])
    ok, rev = east_ok & north_ok, east_rev & north_rev
    neither = ~ok & ~rev
    if neither.any():
        i = int(np.argmax(neither))
        raise CoordinateError(
            "不是高斯-克吕格坐标：X（北）应为 7 位整数，Y（东）为 6 位，或带带号的 8 位 / not a Gauss-Krüger coordinate: "
            "X (north) needs 7 digits and Y (east) 6, or 8 with the zone number in front",
            source=raw.source, row=rows[i], field=f"{raw.fields[1]}/{raw.fields[0]}", value=(float(xy[i, 1]), float(xy[i, 0])),
            fix="检查是否多一位或少一位，或用 «crs» 给出坐标系 / check the value for a missing or extra digit, or give the "
                "CRS with «crs»",
        )
    _check_order(raw, rows, rings, swap_xy, log, ok, rev, "X (north), Y (east)", "X (north) and Y (east)",
                 f"将 {raw.fields[0]} 读作北坐标（X）、{raw.fields[1]} 读作东坐标（Y）：只有这样位数才相符 / read "
                 f"{raw.fields[0]} as the northing (X) and {raw.fields[1]} as the easting (Y): their digits fit only so")


def _check_order(raw, rows, rings, swap_xy, log, ok, rev, order_name, pair_name, inferred) -> None:
    """Shared rule: a declared order that the values contradict is an error; an unknown order is inferred."""
    swapped = ~ok & rev
    if not swapped.any():
        return
    i = int(np.argmax(swapped))
    if swapped.all() and raw.order == "unknown" and swap_xy is None:
        _swap(rings)
        log.note("order_inferred", inferred, step="swap_xy", level="info",
                 fix="给坐标列加上标注（经度/纬度、东坐标/北坐标、E/N）可免去推断 / label the values (E/N, 经度/纬度, "
                     "东坐标/北坐标) to avoid the guess")
        raw.fields = raw.fields[::-1]
        return
    if swapped.all():
        done = " after swapping them as asked" if swap_xy else ""
        error = CoordinateError(
            f"坐标顺序颠倒 / {pair_name} are swapped{done}: the values fit the area only in the other order",
            source=raw.source, row=rows[i], field=f"{raw.fields[0]}/{raw.fields[1]}", value=None,
            fix="去掉 «swap_xy» / drop «swap_xy»" if swap_xy else (
                f"按 {order_name} 的顺序给出，或使用 «swap_xy» / put the values in the order {order_name}, or use «swap_xy»"),
        )
        # the whole order is the other one: a reader that declared it (a register's column mapping) may say how
        error.swapped = not swap_xy
        raise error
    j = int(np.argmax(~swapped))
    raise CoordinateError(
        f"本行的坐标顺序与第 {rows[j]} 行相反 / {pair_name} are in the other order in this row than in row {rows[j]}",
        source=raw.source, row=rows[i], field=f"{raw.fields[0]}/{raw.fields[1]}", value=None,
        fix=f"每行都按 {order_name} 的顺序 / put every row in the order {order_name}",
    )


def _zone_from_values(raw, east, rows, gk_zone, log) -> gk.GKZone:
    """The Gauss-Krüger zone from the Y prefix, the zone given (``gk_zone``) or the file header; they must agree."""
    hint = raw.gk
    declared = gk_zone if gk_zone is not None else (hint.zone if hint else None)
    said = "the zone given (gk_zone)" if gk_zone is not None else (f"{hint.origin} (带号)" if hint else "")
    prefixes = [gk.zone_of_prefix(v) for v in east]
    has = [p is not None for p in prefixes]
    if any(has) and not all(has):
        i, j = has.index(True), has.index(False)
        raise CoordinateError(
            f"部分 Y 值带有带号（第 {rows[i]} 行），部分没有 / some Y values carry the zone number in front (row {rows[i]}) "
            "and some do not",
            source=raw.source, row=rows[j], field=raw.fields[0], value=float(east[j]),
            fix="所有 Y 值统一写法：都带或都不带带号 / write every Y the same way, with or without the zone number",
        )
    if all(has):
        zones = sorted(set(prefixes))
        if len(zones) > 1:
            i = prefixes.index(zones[1])
            raise CRSError(
                f"文件混用了多个高斯-克吕格带 / the file mixes Gauss-Krüger zones {', '.join(map(str, zones))}",
                source=raw.source, row=rows[i], field=raw.fields[0], value=float(east[i]),
                fix="按带拆分文件，或把所有点换算到同一带 / split the file by zone, or convert all points to one zone",
            )
        zone = zones[0]  # 13-45 by ``looks_easting``, so a Chinese zone
        if declared is not None and declared != zone:
            raise CRSError(
                f"横坐标 Y 值的带号为 {zone}，与给出的 {declared} 不符 / Y carries zone {zone} but {said} says zone {declared}",
                source=raw.source, row=rows[0], field=raw.fields[0], value=float(east[0]),
                fix="改正带号使两者一致 / correct the zone so both agree",
            )
    else:
        if declared is None:
            raise CRSError(
                "高斯-克吕格 Y 值没有带号，无法确定所在带 / a Gauss-Krüger Y without its zone: the zone cannot be known",
                source=raw.source, row=rows[0],
                field=raw.fields[0], value=float(east[0]),
                fix="在 Y 值前加带号（如 29548285），或给出 «gk_zone» / add the zone number in front of Y (e.g. 29548285) "
                    "or give «gk_zone»",
            )
        zone = declared
    width = gk.width_of_zone(zone)
    if hint and hint.width and hint.width != width:
        raise CRSError(
            f"第 {zone} 带是 {width}° 带，但 {hint.origin} 写的是 {hint.width}°（几度分带） / zone {zone} is a {width}° zone "
            f"but the {hint.origin} says {hint.width}° (几度分带)",
            source=raw.source, field="几度分带", value=hint.width, fix="改正几度分带或带号 / correct 几度分带 or the zone number",
        )
    datum = hint.datum if hint and hint.datum else None
    if datum is None:
        datum = "CGCS2000"
        log.note("datum_assumed", "未声明大地基准，按 CGCS2000 处理 / the datum is not declared: assumed CGCS2000",
                 level="info", fix="如为西安 80 或北京 54 坐标，请用 «crs» 给出 EPSG 代码 / give the EPSG code with «crs» "
                                   "if the coordinates are Xian 1980 or Beijing 1954")
    key = gk.GKZone(datum, width, zone, all(has))
    if gk.zone_crs(key) is None:
        raise CRSError(f"没有 {datum} {width}° 带第 {zone} 带的 EPSG 坐标系 / EPSG has no {datum} {width}° zone {zone}",
                       source=raw.source, value=zone, fix=f"检查带号 / check the zone; {_CHINA_ZONES}")
    if key.prefixed:
        log.did("zone_prefix", f"由 Y 值前的带号读出第 {zone} 带（{width}° 带，中央经线 {key.central_meridian}°E），"
                               f"EPSG:{gk.zone_epsg(key)} 的东偏移含带号 / read zone {zone} from the number in front of Y "
                               f"({width}° zone, central meridian {key.central_meridian}°E); EPSG:{gk.zone_epsg(key)} "
                               "keeps it in its false easting")
    return key


def _check_prefix_fits(zone: gk.GKZone, src: CRS, east, rows, raw, log) -> None:
    """A Gauss-Krüger CRS given as an option must match the Y values (prefix or not, and the same zone)."""
    prefixes = {gk.zone_of_prefix(v) for v in east}
    code = crs_identity(src)[1]
    if zone.prefixed and prefixes != {zone.zone}:
        central = gk.zone_epsg(gk.GKZone(zone.datum, zone.width, zone.zone, False))
        shown = sorted(map(str, prefixes))
        raise CRSError(
            f"坐标系 EPSG:{code} 要求 Y 值前带第 {zone.zone} 带的带号，Y 值所带的是 {shown} / EPSG:{code} expects Y with "
            f"zone {zone.zone} in front, the values are {shown}",
            source=raw.source, row=rows[0], field=raw.fields[0], value=float(east[0]),
            fix=f"若 Y 值不带带号，用中央子午线坐标系（EPSG:{central}），否则用 Y 值所带之带的坐标系 / use the "
                f"central-meridian CRS (EPSG:{central}) for Y without zone, or the CRS of the zone in the values",
        )
    if not zone.prefixed and prefixes != {None}:
        other = gk.zone_crs(gk.GKZone(zone.datum, zone.width, max(p or 0 for p in prefixes), True))
        raise CRSError(
            f"坐标系 EPSG:{code} 要求 Y 值不带带号，但 Y 值带有带号 / EPSG:{code} expects Y without the zone number, "
            "but Y carries one", source=raw.source, row=rows[0], field=raw.fields[0], value=float(east[0]),
            fix=f"改用 EPSG:{other.to_epsg()} / use EPSG:{other.to_epsg()}" if other
            else "改用该带的带号坐标系 / use the zone-numbered CRS of that zone",
        )


def _to_wgs84(src: CRS, xy: np.ndarray, log: Log) -> np.ndarray:
    """Transform to WGS 84 lon/lat with PROJ, recording the operation and warning when no datum shift is known."""
    if src.equals(STORE_CRS, ignore_axis_order=True):
        return xy
    transformer = transformer_to_wgs84(src)
    lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=True)
    datum = datum_name(src)
    shifted = not any(name in datum for name in _SAME_AS_WGS84)
    zh, en = f"（{transformer.description}）", f"({transformer.description})"
    if not shifted:
        zh = "（CGCS2000 与 WGS 84 相差仅数厘米，未作基准转换）"
        en = "(CGCS2000 and WGS 84 agree to a few centimetres; no datum shift applied)"
    log.did("proj_transform", f"用 PROJ 由 {crs_label(src)} 转换为 WGS 84 经纬度{zh} / transformed from {crs_label(src)} "
                              f"to WGS 84 longitude/latitude with PROJ {en}")
    if shifted and "Ballpark" in transformer.description:
        log.note("datum_shift_unknown",
                 f"缺少从 {datum} 到 WGS 84 的基准转换参数（PROJ 中没有）：位置可能偏差数十米 / PROJ knows no datum "
                 f"shift from {datum} to WGS 84: positions may be off by tens of metres",
                 fix="用官方参数转换到 CGCS2000，或用 «crs» 给出带 +towgs84 的 PROJ 定义 / convert to CGCS2000 with the "
                     "official parameters, or give with «crs» a PROJ string that has +towgs84")
    return np.column_stack([lon, lat])


def _check_declared_area(plot, area: float | None, log: Log) -> None:
    """A plot's declared area (国土 TXT 地块面积) far from the computed one hints at missing or wrong points."""
    if not plot.declared_area_m2 or area is None:
        return
    if abs(area - plot.declared_area_m2) > 0.01 * plot.declared_area_m2:
        declared, drawn = f"{plot.declared_area_m2 / 10_000:,.4f}", f"{area / 10_000:,.4f}"
        log.note("area_mismatch", f"申报面积 {declared} 公顷与按边界计算的面积 {drawn} 公顷不符 / the declared area "
                 f"{declared} ha differs from the area of the boundary, {drawn} ha", row=plot.row, field="地块面积",
                 value=plot.declared_area_m2 / 10_000,
                 fix="检查界址点和申报面积 / check the boundary points and the declared area")


def _check_zone_fit(zone: gk.GKZone, lonlat: np.ndarray, rows, log: Log) -> None:
    """Gauss-Krüger points far outside their zone's band mean a wrong zone or a wrong easting."""
    west, east = gk.zone_band(zone)
    outside = (lonlat[:, 0] < west - 0.5) | (lonlat[:, 0] > east + 0.5)
    if outside.any():
        i = int(np.argmax(outside))
        lon = lonlat[i, 0]
        raise CoordinateError(
            f"该点落在经度 {lon:.3f}°，远在第 {zone.zone} 带（{west:g}°–{east:g}°E）之外：带号或横坐标有误 / the point "
            f"falls at lon {lon:.3f}°, far outside zone {zone.zone} ({west:g}°–{east:g}°E): the zone or the easting is "
            "wrong", source=log.source, row=rows[i], value=round(float(lon), 4),
            fix=f"经度 {lon:.1f}° 的点属于 {zone.width}° 带第 {gk.expected_zone(lon, zone.width)} 带，请检查带号和 Y / a point "
                f"at lon {lon:.1f}° belongs to {zone.width}° zone {gk.expected_zone(lon, zone.width)}; check the zone "
                "and Y",
        )
    near = (lonlat[:, 0] < west) | (lonlat[:, 0] > east)
    if near.any():
        i = int(np.argmax(near))
        log.note("outside_zone_band", f"有一个点略微超出第 {zone.zone} 带（{west:g}°–{east:g}°E） / a point lies just "
                 f"outside zone {zone.zone} ({west:g}°–{east:g}°E)", row=rows[i], value=round(float(lonlat[i, 0]), 4),
                 fix="检查带号是否正确 / check that the zone is right")


def coverage_hints(src: CRS, zone: gk.GKZone | None, crs: Any, origin: str = "") -> list[str]:
    """What to check when a site lies outside the covered area, by where its CRS came from (``origin``: the
    ``RawSite.crs_origin``). A GIS file's features are never two columns to exchange: its CRS is what to check."""
    if zone is not None:
        return [f"检查带号：第 {zone.zone} 带中央经线 {zone.central_meridian}°E / check the zone: zone {zone.zone} has "
                f"central meridian {zone.central_meridian}°E."]
    if crs is not None:
        return [f"检查 «crs»（{crs_label(src)}） / check «crs» ({crs_label(src)})."]
    if origin in FILE_CRS_ORIGINS:
        return [f"检查文件的坐标系（{crs_label(src)}，来自{CRS_ORIGINS_ZH[origin]}）是否与要素坐标相符，要素是否本在覆盖范围以外 / check that "
                f"the file's CRS ({crs_label(src)}, from {origin}) fits its features, or whether they lie outside "
                "the covered area."]
    if src.is_geographic:
        return ["检查坐标；如经纬度两个值颠倒，请使用 «swap_xy» / check the coordinates; use «swap_xy» if the two "
                "values are swapped."]
    return [f"检查坐标系（{crs_label(src)}，来自 {origin or '输入'}） / check the CRS ({crs_label(src)}, from "
            f"{origin or 'the input'})."]
