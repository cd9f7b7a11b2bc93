"""Sites typed or pasted as text: coordinate pairs (decimal or DMS, any order), WKT, GeoJSON.

Every reader returns a ``RawSite``; the order of the two numbers is "declared" when the text says it
(hemisphere letters, 经度/纬度 labels, WKT and GeoJSON's x = east) and "unknown" for bare pairs, whose
order ``build`` infers from where Xinjiang is and records.
"""

from __future__ import annotations

import json
import re
from typing import Any

import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.crs import STORE_CRS
from gis.errors import CoordinateError, CRSError, FormatError, GeometryError, Notice
from gis.sites.model import Conversion, RawPart, RawPlot, RawRing, RawSite

__all__ = ["parse_text", "parse_value", "read_geojson", "parts_from_shapely", "plot_name"]

_NUM = r"[+-]?\d+(?:\.\d+)?"
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
_WKT = re.compile(r"^\s*(SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\b", re.I)
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
    match = _TOKEN.fullmatch(text.strip())
    if not match:
        raise CoordinateError(
            "not a coordinate", source=source, row=row, field=field, value=text,
            fix="write decimal degrees (87.6033), degrees-minutes-seconds (87°36'12.5\"E) or metres",
        )
    return _token_value(match, source=source, row=row, field=field)


def _token_value(match: re.Match, *, source: str, row: Any, field: str | None) -> tuple[float, str | None]:
    raw = match["v1"] or match["v2"]
    label = (match["pre"] or match["suf"] or "").lower()
    axis, sign = _AXIS.get(label, (None, 1))
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", raw)]
    negative = raw.lstrip().startswith("-")
    degrees, minutes, seconds = (numbers + [0.0, 0.0])[:3]
    if len(numbers) > 1:
        if minutes >= 60 or seconds >= 60:
            raise CoordinateError(
                "minutes and seconds must be below 60", source=source, row=row, field=field, value=raw,
                fix="check the degrees-minutes-seconds value",
            )
        if degrees != int(degrees) or (len(numbers) == 3 and minutes != int(minutes)):
            raise CoordinateError(
                "only the last part of a degrees-minutes-seconds value may have decimals",
                source=source, row=row, field=field, value=raw, fix="write e.g. 87°36'12.5\" or 87.6035",
            )
    value = degrees + minutes / 60 + seconds / 3600
    if negative and sign < 0:
        raise CoordinateError(
            "a minus sign and a S/W hemisphere together", source=source, row=row, field=field,
            value=match[0], fix="use one of the two",
        )
    return (-value if negative or sign < 0 else value), axis


def parse_text(text: str, *, source: str = "text") -> RawSite:
    """Parse a coordinate string, WKT or GeoJSON text into a ``RawSite``."""
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise FormatError("the site is empty", source=source, fix="give coordinates, WKT, GeoJSON or a file path")
    if stripped[0] in "{[" and not re.match(r"^\[?\s*[+-]?\d", stripped):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise FormatError(
                f"invalid JSON: {err.msg}", source=source, row=err.lineno, value=stripped[err.pos : err.pos + 20],
                fix="check the GeoJSON text (brackets, commas, quotes)",
            ) from None
        return read_geojson(data, source=source)
    if _WKT.match(stripped):
        return _read_wkt(stripped, source)
    return _read_pairs(stripped, source)


def _read_pairs(text: str, source: str) -> RawSite:
    tokens = []
    position = 0
    for match in _TOKEN.finditer(text):
        gap = text[position : match.start()]
        if not _SEPARATORS.fullmatch(gap):
            raise FormatError(
                "unexpected text among the coordinates", source=source, value=gap.strip(),
                fix="give numbers only, e.g. '87.6033, 43.8011' or '43°48′4″N 87°36′12″E'",
            )
        tokens.append(match)
        position = match.end()
    if not _SEPARATORS.fullmatch(text[position:]):
        raise FormatError(
            "unexpected text after the coordinates", source=source, value=text[position:].strip(),
            fix="give numbers only, e.g. '87.6033, 43.8011'",
        )
    if len(tokens) % 2:
        raise FormatError(
            f"{len(tokens)} numbers: coordinates come in pairs", source=source, value=text if len(text) < 60 else None,
            fix="give one longitude and one latitude (or X and Y) per vertex",
        )
    values = [_token_value(t, source=source, row=i // 2 + 1, field=None) for i, t in enumerate(tokens)]
    labelled = [axis is not None for _, axis in values]
    if any(labelled) and not all(labelled):
        raise FormatError(
            "some coordinates carry a hemisphere letter or label and some do not", source=source,
            fix="label every value (E/N, 经度/纬度) or none",
        )
    coords = []
    for index in range(0, len(values), 2):
        (a, axis_a), (b, axis_b) = values[index], values[index + 1]
        row = index // 2 + 1
        if axis_a and axis_a == axis_b:
            kind = "longitudes" if axis_a == "lon" else "latitudes"
            raise CoordinateError(
                f"both values of the pair are {kind}", source=source, row=row,
                value=f"{tokens[index][0]} {tokens[index + 1][0]}", fix="give one longitude (E) and one latitude (N)",
            )
        coords.append((b, a) if axis_a == "lat" else (a, b))
    rows = list(range(1, len(coords) + 1))
    if len(coords) == 1:
        part = RawPart("point", [RawRing(coords, rows)])
    elif len(coords) == 2:
        raise GeometryError(
            "two vertices make neither a point nor an area", source=source, value=text if len(text) < 60 else None,
            fix="give one point, at least three vertices of the boundary, or a WKT LINESTRING for a line",
        )
    else:
        part = RawPart("polygon", [RawRing(coords, rows)])
    order = "declared" if all(labelled) else "unknown"
    return RawSite(source=source, plots=[RawPlot([part])], order=order,
                   fields=("first value", "second value"))


def _read_wkt(text: str, source: str) -> RawSite:
    notices = []
    srid = re.match(r"^\s*SRID=(\d+);\s*", text, re.I)
    body = text[srid.end() :] if srid else text
    try:
        geom = shapely.from_wkt(body)
    except shapely.errors.GEOSException as err:
        if "closed" not in str(err):
            raise FormatError(f"invalid WKT: {err}", source=source, fix="check the WKT syntax") from None
        geom = shapely.from_wkt(body, on_invalid="fix")
        if geom is None:
            raise GeometryError("a WKT ring is unclosed and too short to close", source=source,
                                fix="give at least three distinct vertices per ring") from None
        notices.append(Notice(
            "ring_closed", "a polygon ring was not closed; closed it by repeating its first vertex",
            source=source, fix="repeat the first vertex at the end of each ring",
        ))
    crs = None
    if srid:
        crs = _crs(f"EPSG:{srid[1]}", source)
    return RawSite(
        source=source, plots=[RawPlot(parts_from_shapely(geom, source=source, row=1))],
        crs=crs, crs_origin="WKT SRID" if srid else "", order="declared", fields=("x", "y"), notices=notices,
        conversions=[Conversion(step="ring_closed", description="closed an unclosed WKT ring")] if notices else [],
    )


def _crs(text: str, source: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except ProjCRSError:
        raise CRSError("unknown CRS", source=source, value=text, fix="give an EPSG code such as EPSG:4517") from None


def parts_from_shapely(geom: shapely.Geometry, *, source: str, row: Any) -> list[RawPart]:
    """Split a shapely geometry into raw parts (2D), every vertex tagged with ``row``."""
    if geom is None or geom.is_empty:
        raise GeometryError("the geometry is empty", source=source, row=row, fix="give a geometry with coordinates")
    if isinstance(geom, shapely.Point):
        return [RawPart("point", [_ring(geom.coords, row)])]
    if isinstance(geom, shapely.LineString):
        return [RawPart("line", [_ring(geom.coords, row)])]
    if isinstance(geom, shapely.Polygon):
        return [RawPart("polygon", [_ring(geom.exterior.coords, row)] + [_ring(r.coords, row) for r in geom.interiors])]
    return [part for sub in geom.geoms if not sub.is_empty for part in parts_from_shapely(sub, source=source, row=row)]


def _ring(coords, row) -> RawRing:
    values = [(float(c[0]), float(c[1])) for c in coords]
    return RawRing(values, [row] * len(values))


def read_geojson(data: Any, *, source: str) -> RawSite:
    """A GeoJSON geometry, Feature or FeatureCollection; each feature becomes a plot (row = feature number)."""
    if not isinstance(data, dict) or "type" not in data:
        raise FormatError("not a GeoJSON object (no 'type')", source=source, fix="give a GeoJSON geometry, Feature or FeatureCollection")
    kind = data["type"]
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise GeometryError("the FeatureCollection has no features", source=source, field="features",
                                fix="add at least one Feature")
    elif kind == "Feature":
        features = [data]
    else:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    plots = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise FormatError("not a GeoJSON Feature", source=source, row=number, field="type",
                              value=feature.get("type") if isinstance(feature, dict) else feature,
                              fix="each member of 'features' must be {\"type\": \"Feature\", ...}")
        geometry = feature.get("geometry")
        if not geometry:
            raise GeometryError("the feature has no geometry", source=source, row=number, field="geometry",
                                fix="give the feature a geometry or remove it")
        attributes = dict(feature.get("properties") or {})
        parts = _geojson_parts(geometry, source=source, row=number)
        plots.append(RawPlot(parts, name=plot_name(attributes), row=number, attributes=attributes))
    crs = None
    legacy = data.get("crs")
    if isinstance(legacy, dict):
        name = (legacy.get("properties") or {}).get("name", "")
        crs = _crs(name, source)
    # RFC 7946: GeoJSON without the legacy 'crs' member is WGS 84 longitude/latitude.
    return RawSite(source=source, plots=plots, crs=crs or STORE_CRS,
                   crs_origin="GeoJSON 'crs' member" if crs else "GeoJSON (RFC 7946: WGS 84)",
                   order="declared", fields=("x", "y"))


_GEOJSON_KINDS = {"Point": "point", "MultiPoint": "point", "LineString": "line",
                  "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}


def _geojson_parts(geometry: Any, *, source: str, row: int) -> list[RawPart]:
    if not isinstance(geometry, dict):
        raise FormatError("the geometry is not a JSON object", source=source, row=row, field="geometry",
                          fix="give a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries") or [] for p in _geojson_parts(g, source=source, row=row)]
    if kind not in _GEOJSON_KINDS:
        raise FormatError("unknown GeoJSON geometry type", source=source, row=row, field="type", value=kind,
                          fix=f"use one of {', '.join(_GEOJSON_KINDS)}")
    part_kind = _GEOJSON_KINDS[kind]
    coords = geometry.get("coordinates")
    if coords is None or coords == []:
        raise GeometryError(f"the {kind} has no coordinates", source=source, row=row, field="coordinates",
                            fix="give the geometry its coordinates")
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
    return [
        RawPart(part_kind, [_position_ring(ring, source, row) for ring in _list(rings, source, row)])
        for rings in _list(parts, source, row)
    ]


def _list(value: Any, source: str, row: int) -> list:
    if not isinstance(value, list):
        raise CoordinateError("coordinates are not nested as the geometry type requires", source=source, row=row,
                              field="coordinates", value=value, fix="check the GeoJSON coordinate arrays")
    return value


def _position_ring(positions: Any, source: str, row: int) -> RawRing:
    values = []
    for position in _list(positions, source, row):
        if (not isinstance(position, list) or len(position) < 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position[:2])):
            raise CoordinateError("a position must be [x, y] with two numbers", source=source, row=row,
                                  field="coordinates", value=position, fix="write positions as [longitude, latitude]")
        values.append((float(position[0]), float(position[1])))
    return RawRing(values, [row] * len(values))
