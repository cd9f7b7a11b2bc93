"""Sites typed or pasted as text: coordinate pairs (decimal or DMS, any order), WKT, GeoJSON.

Every reader returns a ``RawSite``; the order of the two numbers is "declared" when the text says it
(hemisphere letters, 经度/纬度 labels, WKT and GeoJSON's x = east) and "unknown" for bare pairs, whose
order ``build`` infers from where Xinjiang is and records.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.crs import STORE_CRS
from gis.errors import CoordinateError, CRSError, FormatError, GeometryError, Notice
from gis.sites.limits import (
    MAX_FEATURES,
    MAX_NESTING,
    MAX_PARTS,
    MAX_VERTICES,
    VertexBudget,
    check_nesting,
    check_text_size,
    nesting_error,
    too_many,
    too_many_vertices,
)
from gis.sites.model import Conversion, RawPart, RawPlot, RawRing, RawSite

__all__ = ["load_json", "parse_text", "parse_value", "parts_from_shapely", "plot_name", "read_geojson"]

# A number, with an exponent (8.76e1) unless the letter is a hemisphere before more of a coordinate (87.6E44N)
_NUM = r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+(?![\d.°º度:′'分]|\s*[NSns北南]))?"
_DMS = (
    rf"{_NUM}\s*(?:°|º|度)\s*(?:{_NUM}\s*(?:'|′|’|分)\s*(?:{_NUM}\s*(?:\"|″|”|''|′′|秒)?)?)?"
    rf"|[+-]?\d+:\d+(?::\d+(?:\.\d+)?|\.\d+)?"
)
_VALUE = rf"(?:{_DMS}|{_NUM})"
_LABEL = r"北纬|南纬|东经|西经|经度|纬度|longitude|latitude|lon|lng|lat|[NSEWnsew]"
_TOKEN = re.compile(
    rf"(?:(?P<pre>{_LABEL})\s*[:：=]?\s*(?P<v1>{_VALUE})|(?P<v2>{_VALUE})(?:\s*(?P<suf>[NSEWnsew])(?![A-Za-z]))?)"
)
_SEPARATORS = re.compile(r"[\s,，;；/|()（）\[\]]*")
# Which axis a label names, and the sign it gives.
_AXIS = {
    "n": ("lat", 1), "s": ("lat", -1), "e": ("lon", 1), "w": ("lon", -1),
    "北纬": ("lat", 1), "南纬": ("lat", -1), "东经": ("lon", 1), "西经": ("lon", -1),
    "经度": ("lon", 1), "纬度": ("lat", 1), "longitude": ("lon", 1), "latitude": ("lat", 1),
    "lon": ("lon", 1), "lng": ("lon", 1), "lat": ("lat", 1),
}
_WKT = re.compile(r"^\s*(SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\b",
                  re.IGNORECASE)
#: Characters that come along when coordinates are copied from web pages and chat tools and carry nothing:
#: zero-width spaces and joiners, word joiners, byte-order marks.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
#: Control characters (tab, line feed and carriage return are separators and allowed).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Full-width digits and signs, as a Chinese input method in full-width mode types them (８７．２５): the same
#: numbers, read as their ASCII forms.
_HALF_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "－": "-", "＋": "+",
                             "：": ":", "＇": "'", "＂": '"'})
_NAME_KEYS = ("name", "名称", "项目名称", "地块名称", "NAME", "Name", "xmmc", "XMMC", "DKMC")


def plot_name(attributes: dict[str, Any]) -> str | None:
    """The name of a plot from its attributes (name, 名称, 项目名称, 地块名称 ...), if any."""
    for key in _NAME_KEYS:
        value = attributes.get(key)
        if value not in (None, "") and str(value).strip():
            return str(value).strip()
    return None


def parse_value(text: str, *, source: str, row: Any = None, field: str | None = None) -> tuple[float, str | None]:
    """One coordinate as a number, and the axis ('lon'/'lat') its label or hemisphere letter names.

    Accepts 87.6033, 87°36'12.5"E, 87度36分12.5秒, 87:36:12.5, N43.8, 东经87.6 ... Minutes and
    seconds of 60 or more are refused rather than carried over.
    """
    match = _TOKEN.fullmatch(text.strip().translate(_HALF_WIDTH))
    if not match:
        raise CoordinateError(
            "不是坐标值 / not a coordinate", source=source, row=row, field=field, value=text,
            fix="写成十进制度（87.6033）、度分秒（87°36'12.5\"E）或米 / write decimal degrees (87.6033), "
                "degrees-minutes-seconds (87°36'12.5\"E) or metres",
        )
    return _token_value(match, source=source, row=row, field=field)


def _token_value(match: re.Match, *, source: str, row: Any, field: str | None) -> tuple[float, str | None]:
    raw = match["v1"] or match["v2"]
    label = (match["pre"] or match["suf"] or "").lower()
    axis, sign = _AXIS.get(label, (None, 1))
    negative = raw.lstrip().startswith("-")
    # a plain number (8.76e1 too: infinite past 1e308, which the checks refuse), or degrees, minutes and seconds
    numbers = [abs(float(raw))] if re.fullmatch(_NUM, raw.strip()) else \
        [float(n) for n in re.findall(r"\d+(?:\.\d+)?", raw)]
    degrees, minutes, seconds = (numbers + [0.0, 0.0])[:3]
    if len(numbers) > 1:
        if minutes >= 60 or seconds >= 60:
            raise CoordinateError(
                "分和秒应小于 60 / minutes and seconds must be below 60", source=source, row=row, field=field, value=raw,
                fix="检查度分秒数值 / check the degrees-minutes-seconds value",
            )
        if degrees != int(degrees) or (len(numbers) == 3 and minutes != int(minutes)):
            raise CoordinateError(
                "度分秒中只有最后一部分可以带小数 / only the last part of a degrees-minutes-seconds value may have decimals",
                source=source, row=row, field=field, value=raw, fix="例如写成 87°36'12.5\" 或 87.6035 / write e.g. "
                                                                    "87°36'12.5\" or 87.6035",
            )
    value = degrees + minutes / 60 + seconds / 3600
    if negative and sign < 0:
        raise CoordinateError(
            "负号与南纬/西经标记同时出现 / a minus sign and a S/W hemisphere together", source=source, row=row,
            field=field, value=match[0], fix="二者只用其一 / use one of the two",
        )
    return (-value if negative or sign < 0 else value), axis


def parse_text(text: str, *, source: str = "text", field: str = "site") -> RawSite:
    """Parse a coordinate string, WKT or GeoJSON text into a ``RawSite``.

    ``field`` names what holds the text (the request field, a table column) in errors about the text as a
    whole; its size and nesting are bounded before a parser sees it.
    """
    check_text_size(len(text), source=source, field=field)
    cleaned, invisible = _INVISIBLE.subn("", text)
    stripped = cleaned.strip()
    if not stripped:
        raise FormatError("项目位置为空 / the site is empty", source=source, field=field,
                          fix="给出坐标、WKT、GeoJSON 或文件路径 / give coordinates, WKT, GeoJSON or a file path")
    control = _CONTROL.search(stripped)
    if control:
        raise FormatError("文本中有控制字符 / the text holds a control character", source=source, field=field,
                          value=control.group(), fix="删除不可见的控制字符后重新粘贴 / remove the control characters")
    if stripped[0] in "{[" and not re.match(r"^\[?\s*[+-]?\d", stripped):
        raw = read_geojson(load_json(stripped, source=source, field=field), source=source)
    elif _WKT.match(stripped):
        raw = _read_wkt(stripped, source, field)
    else:  # coordinates alone: no name or property of the site is in the text to keep as typed
        raw = _read_pairs(stripped.translate(_HALF_WIDTH), source, field)
    if invisible:
        raw.conversions.insert(0, Conversion(
            step="remove_invisible", description=f"removed {invisible} invisible character(s) (zero-width space, BOM)"))
    return raw


def load_json(text: str, *, source: str, field: str = "site") -> Any:
    """JSON text as Python data, its nesting bounded before ``json`` sees it.

    Integers of more than 100 digits become floats (infinite past 1e308, which the coordinate checks
    refuse): Python refuses to convert integers of more than 4,300 digits at all.
    """
    check_nesting(text, brackets="[]{}", source=source, field=field)
    try:
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as err:
        raise FormatError(
            f"文本不是有效的 JSON / invalid JSON: {err.msg}", source=source, row=err.lineno, field=field,
            value=text[err.pos : err.pos + 20], fix="检查 GeoJSON 文本（括号、逗号、引号） / check the GeoJSON text "
                                                 "(brackets, commas, quotes)",
        ) from None
    except RecursionError:
        raise nesting_error(None, source=source, field=field) from None


def _json_int(text: str) -> int | float:
    return int(text) if len(text) <= 100 else float(text)


def _read_pairs(text: str, source: str, field: str) -> RawSite:
    tokens = []
    position = 0
    for match in _TOKEN.finditer(text):
        gap = text[position : match.start()]
        if not _SEPARATORS.fullmatch(gap):
            raise FormatError(
                "坐标之间有多余的文字 / unexpected text among the coordinates", source=source, field=field,
                value=gap.strip(), fix="只填写数字，如 '87.6033, 43.8011' 或 '43°48′4″N 87°36′12″E' / give numbers only, "
                                       "e.g. '87.6033, 43.8011' or '43°48′4″N 87°36′12″E'",
            )
        tokens.append(match)
        if len(tokens) > 2 * MAX_VERTICES:
            raise too_many_vertices((len(tokens) + 1) // 2, source=source, field=field)
        position = match.end()
    if not _SEPARATORS.fullmatch(text[position:]):
        raise FormatError(
            "坐标后有多余的文字 / unexpected text after the coordinates", source=source, field=field,
            value=text[position:].strip(), fix="只填写数字，如 '87.6033, 43.8011' / give numbers only, e.g. "
                                               "'87.6033, 43.8011'",
        )
    if len(tokens) % 2:
        raise FormatError(
            f"共 {len(tokens)} 个数，坐标应成对出现 / {len(tokens)} numbers: coordinates come in pairs", source=source,
            field=field, value=text if len(text) < 60 else None,
            fix="每个点给出一个经度和一个纬度（或 X 和 Y） / give one longitude and one latitude (or X and Y) per vertex",
        )
    values = [_token_value(t, source=source, row=i // 2 + 1, field=None) for i, t in enumerate(tokens)]
    labelled = [axis is not None for _, axis in values]
    if any(labelled) and not all(labelled):
        raise FormatError(
            "部分坐标带有东经/北纬标记，部分没有 / some coordinates carry a hemisphere letter or label and some do not",
            source=source, field=field, fix="全部标注（E/N、经度/纬度）或全部不标 / label every value (E/N, 经度/纬度) or none",
        )
    coords = []
    for index in range(0, len(values), 2):
        (a, axis_a), (b, axis_b) = values[index], values[index + 1]
        row = index // 2 + 1
        if axis_a and axis_a == axis_b:
            kind = "longitudes" if axis_a == "lon" else "latitudes"
            raise CoordinateError(
                f"一对坐标的两个值都是{'经度' if axis_a == 'lon' else '纬度'} / both values of the pair are {kind}", source=source,
                row=row, value=f"{tokens[index][0]} {tokens[index + 1][0]}",
                fix="给出一个经度（E）和一个纬度（N） / give one longitude (E) and one latitude (N)",
            )
        coords.append((b, a) if axis_a == "lat" else (a, b))
    rows = list(range(1, len(coords) + 1))
    if len(coords) == 1:
        part = RawPart("point", [RawRing(coords, rows)])
    elif len(coords) == 2:
        raise GeometryError(
            "两个点既不是点位也不构成面 / two vertices make neither a point nor an area", source=source, field=field,
            value=text if len(text) < 60 else None,
            fix="给出一个点、至少三个边界拐点，或线状工程用 WKT LINESTRING / give one point, at least three vertices of "
                "the boundary, or a WKT LINESTRING for a line",
        )
    else:
        part = RawPart("polygon", [RawRing(coords, rows)])
    order = "declared" if all(labelled) else "unknown"
    return RawSite(source=source, plots=[RawPlot([part])], order=order,
                   fields=("first value", "second value"))


def _read_wkt(text: str, source: str, field: str) -> RawSite:
    notices = []
    srid = re.match(r"^\s*SRID=(\d+);\s*", text, re.IGNORECASE)
    body = text[srid.end() :] if srid else text
    check_nesting(body, brackets="()", source=source, field=field)  # GEOS's WKT reader has no depth guard
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # values out of range are refused by ``check_raw``
            geom = shapely.from_wkt(body)
    except shapely.errors.GEOSException as err:
        if "closed" not in str(err):
            raise FormatError(f"不是有效的 WKT / invalid WKT: {err}", source=source, field=field,
                              fix="检查 WKT 语法 / check the WKT syntax") from None
        geom = shapely.from_wkt(body, on_invalid="fix")
        if geom is None:
            raise GeometryError("有一个 WKT 环未闭合，且顶点太少，无法闭合 / a WKT ring is unclosed and too short to "
                                "close", source=source, field=field,
                                fix="每个环至少给出三个不同的顶点 / give at least three distinct vertices per ring") from None
        notices.append(Notice(
            "ring_closed", "面的一个环未闭合，已重复其第一个顶点使其闭合 / a polygon ring was not closed; closed it "
            "by repeating its first vertex",
            source=source, fix="在每个环的末尾重复第一个顶点 / repeat the first vertex at the end of each ring",
        ))
    crs = None
    if srid:
        crs = _crs(f"EPSG:{srid[1]}", source)
    return RawSite(
        source=source, plots=[RawPlot(parts_from_shapely(geom, source=source, row=1, field=field))],
        crs=crs, crs_origin="WKT SRID" if srid else "", order="declared", fields=("x", "y"), notices=notices,
        conversions=[Conversion(step="ring_closed", description="闭合了 WKT 中未闭合的环 / closed an unclosed WKT ring")] if notices else [],
    )


def _crs(text: Any, source: str) -> CRS:
    try:
        if not isinstance(text, str) or not text:
            raise ProjCRSError("not a name")
        return CRS.from_user_input(text)
    except ProjCRSError:
        raise CRSError("无法识别的坐标系 / unknown CRS", source=source, field="crs", value=text,
                       fix="给出 EPSG 代码，如 EPSG:4517 / give an EPSG code such as EPSG:4517") from None


def parts_from_shapely(geom: shapely.Geometry, *, source: str, row: Any, field: str = "site") -> list[RawPart]:
    """Split a shapely geometry into raw parts (2D), every vertex tagged with ``row``; at most
    ``MAX_VERTICES`` vertices and ``MAX_PARTS`` parts, counted before any is copied."""
    if geom is None or geom.is_empty:
        raise GeometryError("几何为空 / the geometry is empty", source=source, row=row, field="geometry",
                            fix="给出有坐标的几何 / give a geometry with coordinates")
    vertices = int(shapely.get_num_coordinates(geom))
    if vertices > MAX_VERTICES:
        raise too_many_vertices(vertices, source=source, field=field)
    return _parts(geom, source, row)


def _parts(geom: shapely.Geometry, source: str, row: Any) -> list[RawPart]:
    if isinstance(geom, shapely.Point):
        return [RawPart("point", [_ring(geom.coords, row)])]
    if isinstance(geom, shapely.LineString):
        return [RawPart("line", [_ring(geom.coords, row)])]
    if isinstance(geom, shapely.Polygon):
        return [RawPart("polygon", [_ring(geom.exterior.coords, row)] + [_ring(r.coords, row) for r in geom.interiors])]
    count = int(shapely.get_num_geometries(geom))
    if count > MAX_PARTS:
        raise too_many("部分数", "parts", count, MAX_PARTS, source=source, row=row, field="geometry",
                       fix="合并或简化地块 / merge or simplify the parts")
    return [part for sub in geom.geoms if not sub.is_empty for part in _parts(sub, source, row)]


def _ring(coords, row) -> RawRing:
    values = [(float(c[0]), float(c[1])) for c in coords]
    return RawRing(values, [row] * len(values))


def read_geojson(data: Any, *, source: str) -> RawSite:
    """A GeoJSON geometry, Feature or FeatureCollection; each feature becomes a plot (row = feature number).

    ``data`` may come from ``load_json`` or from a JSON body parsed elsewhere: the counts of features and
    vertices and the nesting of collections are bounded here.
    """
    if not isinstance(data, dict) or "type" not in data:
        raise FormatError("不是 GeoJSON 对象（没有 type） / not a GeoJSON object (no 'type')", source=source,
                          field="type", fix="给出 GeoJSON 的几何、Feature 或 FeatureCollection / give a GeoJSON "
                                            "geometry, Feature or FeatureCollection")
    kind = data["type"]
    if not isinstance(kind, str):
        raise FormatError("所给 GeoJSON 的 type 必须是文字 / the GeoJSON 'type' must be a string", source=source,
                          field="type", value=kind, fix="如 \"type\": \"Polygon\" / e.g. \"type\": \"Polygon\"")
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise GeometryError("要素集合（FeatureCollection）中没有要素 / the FeatureCollection has no features",
                                source=source, field="features", fix="至少加入一个 Feature / add at least one Feature")
        if len(features) > MAX_FEATURES:
            raise too_many("要素数", "features", len(features), MAX_FEATURES, source=source, field="features",
                           fix="分批检查，每次一个项目 / check one project at a time")
    elif kind == "Feature":
        features = [data]
    else:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    plots = []
    budget = VertexBudget(source=source)
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FormatError("不是 GeoJSON Feature / not a GeoJSON Feature", source=source, row=number, field="type",
                              value=feature.get("type") if isinstance(feature, dict) else feature,
                              fix="「features」中的每一项都必须是 {\"type\": \"Feature\", ...} / each member of "
                                  "'features' must be {\"type\": \"Feature\", ...}")
        geometry = feature.get("geometry")
        if not geometry:
            raise GeometryError("该要素没有几何 / the feature has no geometry", source=source, row=number,
                                field="geometry",
                                fix="给该要素加上几何，或删除该要素 / give the feature a geometry or remove it")
        properties = feature.get("properties")
        attributes = dict(properties) if isinstance(properties, dict) else {}
        parts = _geojson_parts(geometry, source=source, row=number, budget=budget)
        plots.append(RawPlot(parts, name=plot_name(attributes), row=number, attributes=attributes))
    crs = None
    legacy = data.get("crs")
    if legacy is not None:
        properties = legacy.get("properties") if isinstance(legacy, dict) else None
        crs = _crs(properties.get("name") if isinstance(properties, dict) else None, source)
    # RFC 7946: GeoJSON without the legacy 'crs' member is WGS 84 longitude/latitude.
    return RawSite(source=source, plots=plots, crs=crs or STORE_CRS,
                   crs_origin="GeoJSON 'crs' member" if crs else "GeoJSON (RFC 7946: WGS 84)",
                   order="declared", fields=("x", "y"))


_GEOJSON_KINDS = {"Point": "point", "MultiPoint": "point", "LineString": "line",
                  "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}


def _geojson_parts(geometry: Any, *, source: str, row: int, budget: VertexBudget, depth: int = 0) -> list[RawPart]:
    if not isinstance(geometry, dict):
        raise FormatError("几何不是 JSON 对象 / the geometry is not a JSON object", source=source, row=row,
                          field="geometry", fix="给出 GeoJSON 几何对象 / give a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if depth >= MAX_NESTING:
            raise nesting_error(None, source=source, field="geometries")
        if not isinstance(members, list) or not members:
            raise GeometryError("几何集合（GeometryCollection）为空 / the GeometryCollection has no geometries", source=source,
                                row=row, field="geometries", value=members if not isinstance(members, list) else None,
                                fix="给出至少一个几何 / give it at least one geometry")
        if len(members) > MAX_PARTS:
            raise too_many("部分数", "parts", len(members), MAX_PARTS, source=source, row=row, field="geometries",
                           fix="合并或简化地块 / merge or simplify the parts")
        return [p for g in members for p in _geojson_parts(g, source=source, row=row, budget=budget, depth=depth + 1)]
    if not isinstance(kind, str) or kind not in _GEOJSON_KINDS:
        raise FormatError("无法识别的 GeoJSON 几何类型 / unknown GeoJSON geometry type", source=source, row=row,
                          field="type", value=kind,
                          fix=f"使用以下类型之一 / use one of {', '.join(_GEOJSON_KINDS)}")
    part_kind = _GEOJSON_KINDS[kind]
    coords = geometry.get("coordinates")
    if coords is None or coords == []:
        raise GeometryError(f"该 {kind} 没有坐标 / the {kind} has no coordinates", source=source, row=row,
                            field="coordinates", fix="给出该几何的坐标 / give the geometry its coordinates")
    # Normalise every type to a list of parts, each a list of rings, each a list of positions.
    if kind == "Point":
        parts = [[[coords]]]
    elif kind == "MultiPoint":
        parts = [[[p]] for p in _list(coords, source, row)]
    elif kind == "LineString":
        parts = [[coords]]
    elif kind == "MultiLineString":
        parts = [[line] for line in _list(coords, source, row)]
    elif kind == "Polygon":
        parts = [coords]
    else:
        parts = coords
    if len(_list(parts, source, row)) > MAX_PARTS:
        raise too_many("部分数", "parts", len(parts), MAX_PARTS, source=source, row=row, field="coordinates",
                       fix="合并或简化地块 / merge or simplify the parts")
    result = []
    for rings in parts:
        if not _list(rings, source, row):
            raise GeometryError(f"该 {kind} 有一个部分没有环 / the {kind} has a part without rings", source=source,
                                row=row, field="coordinates",
                                fix="删除空的部分，或给出其坐标 / remove the empty part or give its coordinates")
        result.append(RawPart(part_kind, [_position_ring(ring, source, row, budget) for ring in rings]))
    return result


def _list(value: Any, source: str, row: int) -> list:
    if not isinstance(value, list):
        raise CoordinateError("坐标数组的嵌套层次与几何类型不符 / coordinates are not nested as the geometry type "
                              "requires", source=source, row=row, field="coordinates", value=value,
                              fix="检查 GeoJSON 的坐标数组 / check the GeoJSON coordinate arrays")
    return value


def _position_ring(positions: Any, source: str, row: int, budget: VertexBudget) -> RawRing:
    positions = _list(positions, source, row)
    if not positions:
        raise GeometryError("环没有顶点 / a ring has no positions", source=source, row=row, field="coordinates",
                            fix="删除空环，或给出其坐标，如 [[87.6, 43.8], ...] / remove the empty ring or give its "
                                "positions, e.g. [[87.6, 43.8], ...]")
    budget.take(len(positions))
    values = []
    for position in positions:
        if (not isinstance(position, list) or len(position) < 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position[:2])):
            raise CoordinateError("坐标位置必须是两个数 [x, y] / a position must be [x, y] with two numbers",
                                  source=source, row=row, field="coordinates", value=position,
                                  fix="坐标位置写作 [经度, 纬度] / write positions as [longitude, latitude]")
        values.append((_float(position[0]), _float(position[1])))
    return RawRing(values, [row] * len(values))


def _float(value: float) -> float:
    """A JSON number as a float; an integer too large for one becomes infinite (and is refused as such)."""
    try:
        return float(value)
    except OverflowError:
        return math.copysign(math.inf, value)
