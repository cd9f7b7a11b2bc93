"""A corpus of hostile and malformed site inputs, generated here, for every interface that reads sites.

Each ``Case`` is data, so that any interface can replay it (the readers, the command line, the HTTP API):

``name``
    A unique identifier (usable as a test id and a file stem).
``kind``
    ``"text"``: ``case.data`` is a ``str``, a site as typed or pasted (coordinates, WKT, GeoJSON text).
    ``"json"``: ``case.data`` is a ``str`` holding the JSON text of a site value (a GeoJSON object, or
    anything else). It is kept as text so that what ``json.dumps`` cannot write (NaN, 50,000 levels of
    nesting) stays exact; over HTTP the body is ``'{"site": ' + case.data + '}'``.
    ``"file"``: ``case.data`` is a ``dict`` of file name to bytes; the first file is the one to read, the
    others are its sidecars (the .shx, .dbf and .prj of a shapefile).
``expect``
    Target -> the field the error must name, or None when the input is valid and must be read (these are
    inputs that used to crash). Targets: ``"site"`` (``gis.sites.read_site``, ``ecozone check``,
    ``POST /check``) and ``"batch"`` (``gis.batch.screen_file``, ``ecozone screen``, ``POST /screen``). A
    case applies only to the targets it lists. The field is a substring of the error's ``field``
    (``EcozoneError.field``, the ``field`` of a problem+json body, ``field '...'`` in the message). For
    text and JSON cases, ``"site"`` means the input as a whole. In a batch, a text or JSON case is the
    cell of a register's 拐点坐标 column in a row whose 经度 and 纬度 are blank: ``"site"`` then means that
    column, another field is named after it (``field '拐点坐标: coordinates'``), and a blank cell leaves the
    row without location (named by 经度).
``note``
    What makes the input hostile.

``CASES`` lists every case; ``case.data`` builds its data on first use (some are megabytes: a 1 GB zip
bomb is 1 MB). ``by_name(name)`` finds one.

Over HTTP a text case is the JSON body ``json.dumps({"site": case.data})`` (or the form field ``site``), a
JSON case the body above, a file case the ``file`` parts of ``POST /check`` or the upload of ``POST /screen``;
a server may answer a case before any reader sees it (413 over its body limit, 400 from its JSON parser), in
which case the field it names is its own.
"""

from __future__ import annotations

import io
import json
import math
import re
import sqlite3
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import shapely

__all__ = ["CASES", "URUMQI", "Case", "by_name", "circle"]

#: A place inside the covered area: every valid site of the corpus is near it.
URUMQI = (87.6168, 43.8256)


@dataclass(frozen=True)
class Case:
    """One hostile input: see the module docstring."""

    name: str
    kind: str
    expect: dict[str, str | None]
    build: Callable[[], str | dict[str, bytes]]
    note: str = ""

    @cached_property
    def data(self) -> str | dict[str, bytes]:
        """The text, JSON text or files of the case, built on first use."""
        return self.build()

    @property
    def targets(self) -> tuple[str, ...]:
        """The interfaces the case applies to."""
        return tuple(self.expect)


# -- geometry ------------------------------------------------------------------------------------------------------
def circle(vertices: int, *, center: tuple[float, float] = URUMQI, radius: float = 0.01) -> list[tuple[float, float]]:
    """A closed ring of ``vertices`` distinct vertices (plus the closing one) around ``center``."""
    ring = [(center[0] + radius * math.cos(2 * math.pi * i / vertices),
             center[1] + radius * math.sin(2 * math.pi * i / vertices)) for i in range(vertices)]
    return ring + ring[:1]


def _wkt_ring(ring) -> str:
    return "(" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in ring) + ")"


def _square(center=URUMQI, half: float = 0.005) -> list[tuple[float, float]]:
    x, y = center
    return [(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half), (x - half, y - half)]


def _parcel_with_hole() -> str:
    """About 400 characters of WKT: a parcel of a few vertices and a hole, longer than a file name may be."""
    outer = [(87.6012345, 43.8012345), (87.6212345, 43.8012345), (87.6262345, 43.8112345), (87.6212345, 43.8212345),
             (87.6112345, 43.8262345), (87.6012345, 43.8212345), (87.5962345, 43.8112345), (87.6012345, 43.8012345)]
    hole = [(87.6082345, 43.8082345), (87.6082345, 43.8142345), (87.6142345, 43.8142345), (87.6142345, 43.8082345),
            (87.6082345, 43.8082345)]
    return f"POLYGON ({_wkt_ring(outer)}, {_wkt_ring(hole)})"


def _point(x=URUMQI[0], y=URUMQI[1]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def _gc_text(depth: int, inner: str) -> str:
    return '{"type":"GeometryCollection","geometries":[' * depth + inner + "]}" * depth


# -- files -------------------------------------------------------------------------------------------------------
def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written byte by byte from (name, deflated data, CRC-32, inflated size): the sizes are whatever the
    caller declares, which ``zipfile`` cannot be made to write."""
    body, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, 0, 0, crc, len(data), size, len(encoded), 0)
        body += encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, 8, 0, 0, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    return bytes(body + central + end)


def _member(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    return name, _deflated(data), zlib.crc32(data), len(data)


def _bomb(name: str, head: bytes, tail: bytes, megabytes: int) -> tuple[str, bytes, int, int]:
    """A member inflating to ``head``, ``megabytes`` MiB of spaces and ``tail``, deflated to about 1 KB a MiB.

    Each MiB of spaces is deflated once and its blocks repeated: after a full flush a deflate stream
    refers to nothing before it, so the copies concatenate into a valid stream.
    """
    filler = b" " * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(filler) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(filler, crc)
    crc = zlib.crc32(tail, crc)
    return name, start + block * megabytes + _deflated(tail), crc, len(head) + len(filler) * megabytes + len(tail)


_KML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
_KML_TAIL = b"</Document></kml>"


def _placemark(ring) -> bytes:
    coordinates = " ".join(f"{x:.7f},{y:.7f}" for x, y in ring)
    return (f"<Placemark><name>地块</name><Polygon><outerBoundaryIs><LinearRing><coordinates>{coordinates}"
            "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>").encode()


def _kml(body: bytes = b"") -> bytes:
    return _KML_HEAD + (body or _placemark(_square())) + _KML_TAIL


def _kmz(members: list[tuple[str, bytes]]) -> bytes:
    return _raw_zip([_member(name, data) for name, data in members])


def _xlsx(rows: list[list[Any]], edit: Callable[[dict[str, bytes]], None] | None = None,
          notes: list[list[Any]] | None = None) -> dict[str, bytes]:
    """An .xlsx of ``rows`` (and a second sheet 说明 of ``notes``) written by openpyxl, its parts then changed
    by ``edit`` (a dict of name -> bytes)."""
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    if notes is not None:
        sheet = book.create_sheet("说明")
        for row in notes:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    if edit:
        edit(parts)
    return {"sites.xlsx": _raw_zip([_member(name, data) for name, data in parts.items()])}


_LOCATED = [["名称", "经度", "纬度"], ["项目A", URUMQI[0], URUMQI[1]]]


def _sheet_edit(change: Callable[[bytes], bytes], name: str = "xl/worksheets/sheet1.xml"):
    def edit(parts: dict[str, bytes]) -> None:
        parts[name] = change(parts[name])
    return edit


def _declare_dimension(sheet: bytes, last_row: int, value: bool) -> bytes:
    """The sheet claims ``A1:XFD1048576`` and has one more row at ``last_row`` (with a value or empty)."""
    sheet = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', sheet)
    far = (f'<row r="{last_row}"><c r="A{last_row}" t="inlineStr"><is><t>far</t></is></c></row>' if value
           else f'<row r="{last_row}"/>').encode()
    return sheet.replace(b"</sheetData>", far + b"</sheetData>")


_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.replace("&lol1;", "&lol;").encode()
                      for i in range(2, 10)) + b"]>")


def _entity_bomb(part: bytes) -> bytes:
    return _LAUGHS + part.replace(b"<t>", b"<t>&lol9;", 1)


def _external_entity(part: bytes) -> bytes:
    return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + part


def _xlsx_bomb(megabytes: int) -> bytes:
    """An .xlsx whose shared strings inflate to ``megabytes`` MiB (about a thousandth of it on disk)."""
    with zipfile.ZipFile(io.BytesIO(_xlsx(_LOCATED)["sites.xlsx"])) as archive:
        members = [_member(name, archive.read(name)) for name in archive.namelist()]
    head = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    return _raw_zip(members + [_bomb("xl/sharedStrings.xml", head, b"<si><t>x</t></si></sst>", megabytes)])


def _in_folder(write: Callable[[Path], Path]) -> dict[str, bytes]:
    """The files ``write(folder)`` creates, the one it returns first."""
    with tempfile.TemporaryDirectory(prefix="ecozone-hostile-") as folder:
        main = write(Path(folder))
        files = {main.name: main.read_bytes()}
        for path in sorted(Path(folder).iterdir()):
            if path != main and path.suffix.lower() in (".shx", ".dbf", ".prj", ".cpg"):
                files[path.name] = path.read_bytes()
        return files


def _frame(geometries, **columns):
    import geopandas as gpd

    return gpd.GeoDataFrame({"名称": [f"地块{i + 1}" for i in range(len(geometries))], **columns},
                            geometry=list(geometries), crs="EPSG:4326")


def _located_frame(geometries):
    centers = [shapely.Point(g.centroid) for g in geometries]
    return _frame(geometries, 经度=[c.x for c in centers], 纬度=[c.y for c in centers])


def _gpkg(make: Callable[[Path], None]) -> dict[str, bytes]:
    def write(folder: Path) -> Path:
        path = folder / "sites.gpkg"
        make(path)
        return path
    return _in_folder(write)


def _parcels(path: Path, count: int = 1, layer: str = "parcels") -> None:
    cells = [shapely.Polygon(_square((URUMQI[0] + 0.02 * (i % 100), URUMQI[1] + 0.02 * (i // 100)), 0.004))
             for i in range(count)]
    _located_frame(cells).to_file(path, layer=layer, driver="GPKG")


def _with_sql(*statements: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _parcels(path)
        with sqlite3.connect(path) as connection:
            for statement in statements:
                connection.execute(statement)
    return make


_RECURSIVE_VIEW = ("CREATE VIEW forever AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                   "SELECT p.fid AS fid, p.geom AS geom, n.i AS 名称 FROM parcels AS p, n")
_REGISTER_VIEW = (("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                   "VALUES ('forever', 'features', 'forever', 4326)"),
                  "INSERT INTO gpkg_geometry_columns VALUES ('forever', 'geom', 'POLYGON', 4326, 0, 0)")


def _view_only(path: Path) -> None:
    _with_sql(_RECURSIVE_VIEW, *_REGISTER_VIEW, "DELETE FROM gpkg_contents WHERE table_name = 'parcels'",
              "DELETE FROM gpkg_geometry_columns WHERE table_name = 'parcels'")(path)


def _layer_styles(path: Path) -> None:
    import pandas as pd
    import pyogrio

    _parcels(path)
    pyogrio.write_dataframe(pd.DataFrame({"f_table_name": ["parcels"], "styleName": ["默认"], "styleQML": ["<qgis/>"]}),
                            path, layer="layer_styles", driver="GPKG")


def _big_polygon_gpkg(path: Path) -> None:
    _located_frame([shapely.Polygon(circle(300_000))]).to_file(path, layer="parcels", driver="GPKG")


def _recursive_contents(path: Path) -> None:
    """gpkg_contents itself replaced by a view that never ends."""
    _with_sql("ALTER TABLE gpkg_contents RENAME TO contents_table",
              "CREATE VIEW gpkg_contents AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
              "SELECT c.table_name, c.data_type, c.identifier FROM contents_table AS c, n")(path)


def _shapefile(geometries=None, *, edit: Callable[[Path], None] | None = None) -> dict[str, bytes]:
    def write(folder: Path) -> Path:
        path = folder / "parcels.shp"
        _located_frame(geometries or [shapely.Polygon(_square())]).to_file(path, encoding="UTF-8")
        if edit:
            edit(path)
        return path
    return _in_folder(write)


def _rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    path.write_bytes(change(path.read_bytes()))


def _delete(path: Path) -> None:
    path.unlink()


def _csv(text: str, encoding: str = "utf-8") -> dict[str, bytes]:
    return {"sites.csv": text.encode(encoding)}


_TXT_HEADER = ("[属性描述]\n格式版本号=1.01\n坐标系=2000国家大地坐标系\n几度分带=3\n带号=29\n投影类型=高斯克吕格\n"
               "计量单位=米\n[地块坐标]\n")
_TXT_POINTS = ("J1,1,4853489.81,29549952.08\nJ2,1,4853490.21,29550755.47\nJ3,1,4852379.89,29550756.05\n"
               "J4,1,4852379.48,29549952.12\nJ5,1,4853489.81,29549952.08\n")


def _txt(text: str, encoding: str = "gbk") -> dict[str, bytes]:
    return {"site.txt": text.encode(encoding)}


def _txt_many_points(count: int) -> str:
    angles = [2 * math.pi * i / count for i in range(count)]
    lines = [f"J{i + 1},1,{4853000 + 300 * math.sin(a):.3f},{29550300 + 300 * math.cos(a):.3f}" for i, a in enumerate(angles)]
    return _TXT_HEADER + f"{count},,1,地块,面,,,,@\n" + "\n".join(lines) + "\n"


def _mixed_encodings() -> bytes:
    return (_TXT_HEADER + "5,,1,").encode("utf-8") + "地块,面,,,,@\n".encode("gbk") + _TXT_POINTS.encode()


# -- the corpus -------------------------------------------------------------------------------------------------
def _text(name: str, field: str | None, build: Callable[[], str], note: str, *, batch: str | None | bool = True) -> Case:
    expect = {"site": field, "batch": field if batch is True else batch}
    return Case(name, "text", expect, build, note)


def _json(name: str, field: str | None, build: Callable[[], str], note: str) -> Case:
    return Case(name, "json", {"site": field, "batch": field}, build, note)


def _file(name: str, expect: dict[str, str | None], build: Callable[[], dict[str, bytes]], note: str) -> Case:
    return Case(name, "file", expect, build, note)


_NESTED = "GEOMETRYCOLLECTION(" * 50_000 + "POINT (87.6 43.8)" + ")" * 50_000
_WORLD = "POLYGON ((-180 -90, 180 -90, 180 90, -180 90, -180 -90))"
_GOOD_POLYGON = _wkt_ring(_square())

CASES: list[Case] = [
    # text: WKT and coordinates as typed, pasted, or found in a register cell
    _text("wkt_nested_collections", "site", lambda: _NESTED,
          "GEOMETRYCOLLECTION( x 50,000, about 1 MB: GEOS's WKT reader overflowed the stack"),
    _text("wkt_parcel_with_hole_400_chars", None, _parcel_with_hole,
          "valid; longer than a file name may be: was tried as a path (OSError: File name too long)"),
    _text("wkt_400_digit_number", "x", lambda: "POINT (" + "1" * 400 + " 43.8)", "a number GEOS reads as infinity"),
    _text("wkt_nan", "x", lambda: "POINT (nan 43.8)", "NaN as a coordinate"),
    _text("wkt_infinite_latitude", "y", lambda: "POINT (87.6 -inf)", "infinity as a coordinate"),
    _text("wkt_huge_coordinates", "x", lambda: "POINT (1e300 1e300)", "finite but larger than any coordinate"),
    _text("wkt_empty_collection", "geometry", lambda: "GEOMETRYCOLLECTION EMPTY", "no coordinates at all"),
    _text("wkt_mixed_collection", "geometry",
          lambda: f"GEOMETRYCOLLECTION (POINT (87.6 43.8), POLYGON ({_GOOD_POLYGON}))", "a point and a polygon in one site"),
    _text("wkt_whole_world", "geometry", lambda: _WORLD, "a polygon around the world: hours of overlap work"),
    _text("wkt_all_of_xinjiang", "geometry", lambda: "POLYGON ((73 34, 97 34, 97 50, 73 50, 73 34))",
          "inside the covered area, but larger than any project site"),
    _text("wkt_100001_vertices", "site", lambda: f"POLYGON ({_wkt_ring(circle(100_001))})",
          "one vertex more than a site may have (about 2.4 MB)"),
    _text("wkt_20001_parts", "geometry",
          lambda: "MULTIPOINT (" + ", ".join(f"({87.6 + i * 1e-5:.5f} 43.8)" for i in range(20_001)) + ")",
          "few vertices, but a loop per part"),
    _text("wkt_empty_parts", "geometry",
          lambda: "GEOMETRYCOLLECTION (" + "POINT EMPTY, " * 20_000 + "POINT (87.6 43.8))", "20,000 empty parts"),
    _text("wkt_truncated", "site", lambda: "POLYGON ((87.6 43.8, 87.7 43.8, 87.7", "cut off in the middle"),
    _text("pairs_100001_vertices", "site",
          lambda: "; ".join(f"{x:.6f}, {y:.6f}" for x, y in circle(100_001)[:-1]),
          "coordinate pairs, one vertex more than a site may have"),
    _text("pairs_nan", "site", lambda: "nan, 43.8", "NaN typed as a coordinate"),
    _text("pairs_5000_digits", "first value", lambda: "1" * 5000 + ", 43.8",
          "a number of 5,000 digits (float() makes it infinite)"),
    _text("dms_400_digit_degrees", "first value", lambda: "1" * 400 + "°E 43°48'N", "infinite degrees"),
    _text("control_characters", "site", lambda: "87.6\x00, 43.8\x07", "NUL and BEL among the numbers"),
    _text("zero_width_spaces", None, lambda: "\u200b87.6168,\u200b43.8256\u2060", "valid once invisible characters go"),
    _text("bom_before_wkt", None, lambda: "\ufeffPOINT (87.6168 43.8256)", "valid; a byte-order mark from a file"),
    _text("empty", "site", lambda: "", "nothing (in a register: a row without location)", batch="经度"),
    _text("whitespace_only", "site", lambda: " \t\r\n ", "nothing but blanks", batch="经度"),
    _text("very_long_line", "site", lambda: "x" * 200_000, "200,000 characters of garbage on one line"),
    _text("over_20_mib", "site", lambda: "87.6 43.8 " * 2_200_000,
          "22 MB of text: more than any site (in a register cell: over the CSV field limit)", batch="row"),
    _text("missing_file_path", "site", lambda: "nowhere/site.txt", "a path to a file that does not exist"),
    # json: GeoJSON bodies
    _json("json_nested_collections", "site", lambda: _gc_text(50_000, json.dumps(_point())),
          "GeometryCollection nested 50,000 deep: json and our walker recursed"),
    _json("json_nested_arrays", "site", lambda: "[" * 100_000 + "]" * 100_000, "100,000 levels of arrays"),
    _json("json_deep_properties", "site",
          lambda: json.dumps({"type": "Feature", "geometry": _point()})[:-1] + ', "properties": '
          + '{"a":' * 200 + "1" + "}" * 200 + "}", "a Feature whose properties nest 200 deep"),
    _json("json_nesting_hidden_by_a_string", "geometries",
          lambda: '{"type":"Feature","properties":{"note":"' + "]" * 1000 + '"},"geometry":'
          + _gc_text(200, json.dumps(_point())) + "}",
          "closing brackets in a string hide 400 levels from the bracket count"),
    _json("json_nan_coordinate", "x", lambda: '{"type": "Point", "coordinates": [NaN, 43.8]}', "NaN (not JSON)"),
    _json("json_infinite_coordinate", "y", lambda: '{"type": "Point", "coordinates": [87.6, Infinity]}',
          "Infinity (not JSON)"),
    _json("json_400_digit_integer", "x", lambda: '{"type": "Point", "coordinates": [' + "1" * 400 + ", 43.8]}",
          "an integer too large for a float (OverflowError)"),
    _json("json_5000_digit_integer", "x", lambda: '{"type": "Point", "coordinates": [' + "1" * 5000 + ", 43.8]}",
          "an integer longer than Python converts (ValueError)"),
    _json("json_huge_coordinates", "x", lambda: '{"type": "Point", "coordinates": [1e300, 43.8]}',
          "finite but larger than any coordinate"),
    _json("json_type_list", "type", lambda: '{"type": [], "coordinates": [87.6, 43.8]}', '"type": [] (unhashable)'),
    _json("json_type_object", "type", lambda: '{"type": {"a": 1}, "coordinates": [87.6, 43.8]}', "type is an object"),
    _json("json_polygon_empty_ring", "coordinates", lambda: '{"type": "Polygon", "coordinates": [[]]}',
          "Polygon [[]]: a ring without positions (IndexError)"),
    _json("json_multipolygon_empty_part", "coordinates", lambda: '{"type": "MultiPolygon", "coordinates": [[]]}',
          "a part without rings"),
    _json("json_empty_collection", "geometries", lambda: '{"type": "GeometryCollection", "geometries": []}',
          "an empty GeometryCollection (numpy AxisError)"),
    _json("json_collection_not_a_list", "geometries", lambda: '{"type": "GeometryCollection", "geometries": {}}',
          "geometries is an object"),
    _json("json_mixed_collection", "geometry", lambda: json.dumps({"type": "GeometryCollection", "geometries": [
        _point(), {"type": "Polygon", "coordinates": [_square()]}]}), "a point and a polygon in one site"),
    _json("json_whole_world", "geometry",
          lambda: json.dumps({"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90],
                                                                   [-180, -90]]]}), "the whole world"),
    _json("json_10001_features", "features", lambda: json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": _point(87.6 + i * 1e-5)} for i in range(10_001)]}),
        "one feature more than an input may have"),
    _json("json_features_not_a_list", "features", lambda: '{"type": "FeatureCollection", "features": {}}',
          "features is an object"),
    _json("json_position_strings", "coordinates", lambda: '{"type": "Point", "coordinates": ["87.6", "43.8"]}',
          "numbers as strings"),
    _json("json_position_booleans", "coordinates", lambda: '{"type": "Point", "coordinates": [true, false]}',
          "booleans as numbers"),
    _json("json_unknown_crs", "crs", lambda: json.dumps({**_point(), "crs": {"type": "name", "properties": {
        "name": "EPSG:99999"}}}), "a legacy crs member naming no CRS"),
    _json("json_malformed_crs", "crs", lambda: json.dumps({**_point(), "crs": {"properties": "EPSG:4326"}}),
          "crs.properties is a string (AttributeError)"),
    _json("json_array_of_objects", "type", lambda: json.dumps([_point()]), "a list, not a GeoJSON object"),
    _json("json_null", "site", lambda: "null", "null"),
    _json("json_truncated", "site", lambda: '{"type": "Point", "coordinates": [87.6', "cut off in the middle"),
    _json("json_duplicate_type", "coordinates",
          lambda: '{"type": "Point", "type": "Polygon", "coordinates": [87.6, 43.8]}', "a repeated key"),
    # files: 国土 TXT
    _file("txt_infinite_point_count", {"site": "界址点数"},
          lambda: _txt(_TXT_HEADER + "inf,,1,地块,面,,,,@\n" + _TXT_POINTS), "界址点数 inf (OverflowError)"),
    _file("txt_nan_coordinate", {"site": "X"},
          lambda: _txt(_TXT_HEADER + "5,,1,地块,面,,,,@\n" + _TXT_POINTS.replace("4852379.89", "nan")), "X nan"),
    _file("txt_huge_ring_number", {"site": "圈号"},
          lambda: _txt(_TXT_HEADER + "5,,1,地块,面,,,,@\n" + _TXT_POINTS.replace("J3,1,", "J3,1e400,")), "圈号 1e400"),
    _file("txt_100001_points", {"site": "site"}, lambda: _txt(_txt_many_points(100_001)), "100,001 拐点"),
    _file("txt_mixed_encodings", {"site": "encoding"}, lambda: {"site.txt": _mixed_encodings()},
          "UTF-8 with one GBK line"),
    _file("txt_bom_only", {"site": "site"}, lambda: {"site.txt": b"\xef\xbb\xbf"}, "a byte-order mark, nothing else"),
    _file("txt_empty", {"site": "site"}, lambda: {"site.txt": b""}, "0 bytes"),
    _file("txt_truncated", {"site": "地块坐标"},
          lambda: _txt(_TXT_HEADER + "5,,1,地块,面,,,,@\nJ1,1,48534"), "cut off in the first point line"),
    # files: CSV tables and registers
    _file("csv_infinite_longitude", {"site": "经度", "batch": "经度"}, lambda: _csv("名称,经度,纬度\nA,inf,43.8\n"),
          "inf in a coordinate cell"),
    _file("csv_formula_cell", {"site": "经度", "batch": "经度"},
          lambda: _csv('名称,经度,纬度\nA,"=HYPERLINK(""http://x"",""87.6"")",43.8\n'), "a spreadsheet formula"),
    _file("csv_duplicate_headers", {"site": "经度", "batch": "经度"},
          lambda: _csv("名称,经度,纬度,经度\nA,87.6,43.8,88.1\n"), "two 经度 columns"),
    _file("csv_nul_byte", {"site": "经度", "batch": "经度"}, lambda: _csv("名称,经度,纬度\nA,87.6\x00,43.8\n"),
          "a NUL inside a number"),
    _file("csv_mixed_encodings", {"site": "encoding", "batch": "encoding"},
          lambda: {"sites.csv": "名称,经度,纬度\n甲,87.6,43.8\n".encode() + "乙,87.7,43.9\n".encode("gbk")},
          "UTF-8 rows, then a GBK row"),
    _file("csv_empty", {"site": "header", "batch": "header"}, lambda: {"sites.csv": b""}, "0 bytes"),
    _file("csv_bom_only", {"site": "header", "batch": "header"}, lambda: {"sites.csv": b"\xef\xbb\xbf"}, "a BOM only"),
    _file("csv_truncated_quote", {"site": "经度", "batch": "经度"}, lambda: _csv('名称,经度,纬度\nA,"87.6,43.8\n'),
          "an unclosed quote swallows the rest of the file into one cell"),
    _file("csv_very_long_cell", {"site": "经度", "batch": "经度"},
          lambda: _csv("名称,经度,纬度\nA," + "9" * 50 + "x" * 1_000_000 + ",43.8\nB,87.6,43.8\n"), "1 MB in a cell"),
    _file("csv_6000_vertex_parcel", {"batch": None},
          lambda: _csv("名称,拐点坐标\n大地块,\"POLYGON (" + _wkt_ring(circle(6_000)) + ")\"\n小地块,\"POINT (87.6 43.8)\"\n"),
          "valid: 6,000 vertices (about 180 KB) in one cell, over the csv module's 128 KiB field limit"),
    _file("csv_cell_over_20_mib", {"batch": "row"},
          lambda: _csv('名称,拐点坐标\n大,"' + "87.6 43.8 " * 2_200_000 + '"\n小,"POINT (87.6 43.8)"\n'),
          "a 22 MB cell: that row is refused, the next one read"),
    _file("csv_100001_vertices", {"site": "site"},
          lambda: _csv("点号,经度,纬度\n" + "".join(f"{i + 1},{x:.7f},{y:.7f}\n" for i, (x, y) in enumerate(
              circle(100_001)[:-1]))), "100,001 拐点 rows"),
    # files: Excel
    _file("xlsx_dimension_bomb", {"site": "Sheet", "batch": None},
          lambda: _xlsx(_LOCATED, _sheet_edit(lambda s: _declare_dimension(s, 1_048_576, True))),
          "declares A1:XFD1048576 and has a row at 1,048,576: rows padded to 16,384 cells (MemoryError at 6 GB)"),
    _file("xlsx_dimension_bomb_in_notes", {"site": None, "batch": None},
          lambda: _xlsx(_LOCATED, _sheet_edit(lambda s: _declare_dimension(s, 1_048_576, True), "xl/worksheets/sheet2.xml"),
                        notes=[["说明", "数据为虚构"], ["第二行", None, None]]),
          "valid data; the second sheet, copied into an .xlsx output, declares A1:XFD1048576"),
    _file("xlsx_row_beyond_excel", {"site": "Sheet", "batch": "Sheet"},
          lambda: _xlsx(_LOCATED, _sheet_edit(lambda s: _declare_dimension(s, 5_000_000, False))),
          "a row numbered 5,000,000, past the last row Excel has"),
    _file("xlsx_entity_bomb", {"site": "xl/worksheets/sheet1.xml", "batch": "xl/worksheets/sheet1.xml"},
          lambda: _xlsx(_LOCATED, _sheet_edit(_entity_bomb)), "billion laughs in the sheet (a DTD)"),
    _file("xlsx_external_entity", {"site": "xl/workbook.xml", "batch": "xl/workbook.xml"},
          lambda: _xlsx(_LOCATED, _sheet_edit(_external_entity, "xl/workbook.xml")), "XXE: SYSTEM file:///etc/passwd"),
    _file("xlsx_shared_strings_bomb", {"site": "xl/sharedStrings.xml", "batch": "xl/sharedStrings.xml"},
          lambda: {"sites.xlsx": _xlsx_bomb(1100)}, "1 MB inflating to 1.1 GB of shared strings"),
    _file("xlsx_truncated", {"site": "site", "batch": "site"}, lambda: {"sites.xlsx": _xlsx(_LOCATED)["sites.xlsx"][:900]},
          "cut off"),
    _file("xlsx_unsafe_member_name", {"site": "../../evil.xml", "batch": "../../evil.xml"},
          lambda: _xlsx(_LOCATED, lambda parts: parts.update({"../../evil.xml": b"<x/>"})), "zip slip"),
    _file("xlsx_formula_without_value", {"site": "经度", "batch": "经度"},
          lambda: _xlsx([["名称", "经度", "纬度"], ["A", "=1/0", 43.8]]), "a formula with no cached value"),
    _file("xlsx_duplicate_headers", {"site": "经度", "batch": "经度"},
          lambda: _xlsx([["名称", "经度", "纬度", "经度"], ["A", 87.6, 43.8, 88.1]]), "two 经度 columns"),
    _file("xlsx_2000_columns", {"site": "Sheet", "batch": "Sheet"},
          lambda: _xlsx([["经度", "纬度"] + [f"列{i}" for i in range(2000)], [87.6, 43.8]]), "2,002 columns"),
    # files: KML and KMZ
    _file("kmz_bomb", {"site": "doc.kml"}, lambda: {"site.kmz": _raw_zip([_bomb("doc.kml", _KML_HEAD, _KML_TAIL, 1024)])},
          "1 MB inflating to 1 GB"),
    _file("kmz_size_that_lies", {"site": "doc.kml"}, lambda: {"site.kmz": _raw_zip([
        (name, data, crc, 1024) for name, data, crc, _ in [_bomb("doc.kml", _KML_HEAD, _KML_TAIL, 50)]])},
        "declares 1 KB, inflates to 50 MB"),
    _file("kmz_zip_slip", {"site": "../../etc/doc.kml"}, lambda: {"site.kmz": _kmz([("../../etc/doc.kml", _kml())])},
          "a member climbing out of the folder"),
    _file("kmz_absolute_name", {"site": "/tmp/doc.kml"}, lambda: {"site.kmz": _kmz([("/tmp/doc.kml", _kml())])},
          "an absolute member name"),
    _file("kmz_truncated", {"site": "site"}, lambda: {"site.kmz": _kmz([("doc.kml", _kml())])[:100]}, "cut off"),
    _file("kmz_without_kml", {"site": "site"}, lambda: {"site.kmz": _kmz([("image.png", b"\x89PNG")])}, "no .kml"),
    _file("kmz_10001_members", {"site": "entries"},
          lambda: {"site.kmz": _kmz([("doc.kml", _kml())] + [(f"files/{i}.png", b"") for i in range(10_001)])},
          "more members than a zip may have"),
    _file("kml_entity_bomb", {"site": "site"}, lambda: {"site.kml": _LAUGHS + _kml().split(b"\n", 1)[1]},
          "billion laughs (a DTD)"),
    _file("kml_deep_folders", {"site": "site"},
          lambda: {"site.kml": _kml(b"<Folder>" * 50_000 + _placemark(_square()) + b"</Folder>" * 50_000)},
          "folders nested 50,000 deep"),
    _file("kml_100001_vertices", {"site": "site"}, lambda: {"site.kml": _kml(_placemark(circle(100_001)))},
          "one vertex more than a site may have"),
    # files: GeoJSON
    _file("geojson_nested_file", {"site": "site", "batch": "file"},
          lambda: {"site.geojson": _gc_text(50_000, json.dumps(_point())).encode()}, "nested 50,000 deep, as a file"),
    _file("geojson_with_bom", {"site": None, "batch": None},
          lambda: {"site.geojson": b"\xef\xbb\xbf" + json.dumps(_point()).encode()},
          "valid: a GIS file is screened by each feature's geometry"),
    # files: GeoPackage
    _file("gpkg_recursive_view_only", {"site": "gpkg_contents", "batch": "gpkg_contents"}, lambda: _gpkg(_view_only),
          "the only feature 'table' is a recursive view: reading never finished"),
    _file("gpkg_recursive_view_beside_table", {"site": None, "batch": None},
          lambda: _gpkg(_with_sql(_RECURSIVE_VIEW, *_REGISTER_VIEW)), "valid table; the view must not be read"),
    _file("gpkg_layer_styles", {"site": None, "batch": None}, lambda: _gpkg(_layer_styles),
          "valid; QGIS's non-spatial layer_styles table"),
    _file("gpkg_recursive_contents", {"site": "gpkg_contents", "batch": "gpkg_contents"},
          lambda: _gpkg(_recursive_contents), "gpkg_contents itself a view that never ends"),
    _file("gpkg_10001_features", {"site": "parcels"}, lambda: _gpkg(lambda path: _parcels(path, 10_001)),
          "one feature more than an input may have"),
    _file("gpkg_300000_vertices", {"site": "parcels", "batch": "site"}, lambda: _gpkg(_big_polygon_gpkg),
          "one polygon of 300,000 vertices"),
    _file("gpkg_not_sqlite", {"site": "gpkg_contents", "batch": "gpkg_contents"},
          lambda: {"sites.gpkg": b"not a database" * 100}, "random bytes"),
    _file("gpkg_empty_file", {"site": "gpkg_contents", "batch": "gpkg_contents"}, lambda: {"sites.gpkg": b""},
          "0 bytes"),
    _file("gpkg_plain_sqlite", {"site": "gpkg_contents", "batch": "gpkg_contents"},
          lambda: _gpkg(lambda path: sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()),
          "an SQLite database without GeoPackage tables"),
    # files: shapefiles
    _file("shp_broken_shx", {"site": "site", "batch": "file"},
          lambda: _shapefile(edit=lambda p: _rewrite(p.with_suffix(".shx"), lambda b: b[:100] + b"\xff" * (len(b) - 100))),
          "an .shx of garbage offsets"),
    _file("shp_missing_shx", {"site": "site", "batch": "file"},
          lambda: _shapefile(edit=lambda p: _delete(p.with_suffix(".shx"))), "no .shx"),
    _file("shp_dbf_claims_2_billion_records", {"site": ".dbf", "batch": None},
          lambda: _shapefile(edit=lambda p: _rewrite(p.with_suffix(".dbf"),
                                                     lambda b: b[:4] + (2**31 - 1).to_bytes(4, "little") + b[8:])),
          "a .dbf header declaring 2,147,483,647 records"),
    _file("shp_truncated_shp", {"site": "parcels", "batch": "file"},
          lambda: _shapefile(edit=lambda p: _rewrite(p, lambda b: b[:120])), "the .shp cut inside its first record"),
    _file("shp_100001_vertices", {"site": "site", "batch": "site"},
          lambda: _shapefile([shapely.Polygon(circle(100_001))]), "one vertex more than a site may have"),
]


def by_name(name: str) -> Case:
    """The case called ``name``."""
    return next(case for case in CASES if case.name == name)
