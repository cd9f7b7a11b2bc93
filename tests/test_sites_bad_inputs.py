"""A corpus of bad inputs: each gets its specific error (or a specific notice), none crashes or slips through."""

from __future__ import annotations

import json
import re

import pytest

from gis.errors import (
    CoordinateError,
    CRSError,
    EcozoneError,
    FieldError,
    FormatError,
    GeometryError,
)
from gis.sites import XINJIANG_BBOX, read_site
from tests.sites_support import PLACES, gk_plot, square, to_projected, txt_file

URUMQI = PLACES["Urumqi"]
RING = square(*URUMQI)
GK29 = gk_plot(RING, 4517)  # (圈号, X, Y) with zone prefix 29
GK_CM = gk_plot(RING, 4538)  # no prefix
(E29, N29), = to_projected([URUMQI], 4517)
(E_CM, N_CM), = to_projected([URUMQI], 4538)


def pairs(ring):
    return "; ".join(f"{a}, {b}" for a, b in ring)


def txt(plot, **header):
    return lambda tmp: txt_file(tmp / "site.txt", [plot], header=header)


def raw_txt(body: str, encoding="gbk"):
    def make(tmp):
        path = tmp / "raw.txt"
        path.write_bytes(body.encode(encoding))
        return path
    return make


def csv(text: str, encoding="utf-8"):
    def make(tmp):
        path = tmp / "table.csv"
        path.write_bytes(text.encode(encoding))
        return path
    return make


def file(name: str, data: bytes):
    def make(tmp):
        path = tmp / name
        path.write_bytes(data)
        return path
    return make


HEADER = "[属性描述]\n坐标系=2000国家大地坐标系\n几度分带=3\n带号=29\n[地块坐标]\n"
COLLINEAR = [(87.60, 43.80), (87.61, 43.81), (87.62, 43.82), (87.60, 43.80)]
BOWTIE = [(87.60, 43.80), (87.61, 43.81), (87.61, 43.80), (87.60, 43.81)]

# (id, source (text or a function of tmp_path), options, expected exception, message pattern)
ERRORS = [
    ("empty text", "   ", {}, FormatError, "empty"),
    ("odd number of values", "87.6, 43.8, 87.7", {}, FormatError, "3 numbers: coordinates come in pairs"),
    ("a number past 1e308", "1e400, 44", {}, CoordinateError, "not a finite number"),
    ("words among numbers", "87.6, abc", {}, FormatError, "unexpected text"),
    ("two vertices", "87.6,43.8; 87.7,43.8", {}, GeometryError, "two vertices"),
    ("minutes 60 or more", "87°75'E 43°48'N", {}, CoordinateError, "below 60"),
    ("decimal degrees with minutes", "87.5°30'E 43°48'N", {}, CoordinateError, "only the last part"),
    ("some values labelled", "87.6E, 43.8", {}, FormatError, "hemisphere letter"),
    ("two longitudes", "87.6E 43.8E", {}, CoordinateError, "both values of the pair are longitudes"),
    ("metres given as degrees (GeoJSON)", json.dumps({"type": "Point", "coordinates": [E_CM, N_CM]}), {},
     CoordinateError, "look like metres"),
    ("lat/lon swapped in GeoJSON", json.dumps({"type": "Point", "coordinates": [URUMQI[1], URUMQI[0]]}), {},
     CoordinateError, "latitude and longitude are swapped.*swap_xy"),
    ("latitude beyond 90 without coverage", json.dumps({"type": "Point", "coordinates": [120.0, 143.8]}),
     {"coverage": None}, CoordinateError, "latitude beyond 90"),
    ("lat/lon swapped in 经度/纬度 columns", csv(f"名称,经度,纬度\nA,{URUMQI[1]},{URUMQI[0]}\n"), {},
     CoordinateError, "swapped"),
    ("rows in different orders", pairs([RING[0], RING[1][::-1], RING[2]]), {}, CoordinateError, "other order in this row"),
    ("site outside the covered area", "116.39, 39.91", {}, CoordinateError, "outside the area the layers cover"),
    ("GK Y without zone (text)", f"{N_CM}, {E_CM}", {}, CRSError, "without its zone.*gk_zone"),
    ("GK Y without zone (TXT without 带号)", txt(GK_CM), {}, CRSError, "without its zone.*gk_zone"),
    ("prefix and 带号 disagree", txt(GK29, 带号="30"), {}, CRSError, "Y carries zone 29 but TXT header"),
    ("prefix and --gk-zone disagree", f"{N29}, {E29}", {"gk_zone": 30}, CRSError, r"Y carries zone 29 but the zone given \(gk_zone\)"),
    ("zone width contradicts 几度分带", txt(GK29, 几度分带="6"), {}, CRSError, "3° zone but the TXT header.*says 6°"),
    ("X/Y swapped in a 拐点 TXT", txt([(r, y, x) for r, x, y in GK29]), {}, CoordinateError,
     r"X \(north\) and Y \(east\) are swapped.*swap_xy"),
    ("mixed zones in one file", txt(GK29[:2] + gk_plot(RING[2:], 4518)), {}, CRSError, "mixes Gauss-Krüger zones 29, 30"),
    ("prefix on some rows only", txt(GK29[:2] + GK_CM[2:]), {}, CoordinateError, "some Y values carry the zone number"),
    ("not a GK coordinate (extra digit)", f"{N29 * 10}, {E29}", {}, CoordinateError, "not a Gauss-Krüger coordinate"),
    ("local metres", "3000, 5000", {}, CoordinateError, "not a Gauss-Krüger coordinate"),
    ("easting far outside the zone", f"{N_CM}, {E_CM + 400_000}", {"gk_zone": 29}, CoordinateError,
     "far outside zone 29"),
    ("zone does not fit the place", f"{N_CM}, {E_CM}", {"gk_zone": 40, "coverage": XINJIANG_BBOX}, CoordinateError,
     "outside the area.*zone 40 has central meridian 120°E"),
    ("degrees with --gk-zone", "87.6, 43.8", {"gk_zone": 29}, CoordinateError, "values are degrees"),
    ("--crs without prefix, values with", f"{E29} {N29}", {"crs": "EPSG:4538"}, CRSError, "expects Y without the zone"),
    ("--crs with prefix, values without", f"{E_CM} {N_CM}", {"crs": "EPSG:4517"}, CRSError, "expects Y with zone 29"),
    ("unknown CRS", "87.6, 43.8", {"crs": "EPSG:99999"}, CRSError, "unknown CRS"),
    ("--crs and --gk-zone together", "87.6, 43.8", {"crs": "EPSG:4517", "gk_zone": 29}, CRSError, "not both"),
    ("zone number not Chinese", f"{N_CM}, {E_CM}", {"gk_zone": 7}, CRSError, "not a Chinese Gauss-Krüger zone"),
    ("GCJ-02 on projected input", txt(GK29), {"datum": "gcj02"}, CRSError, "gcj02 applies to longitude/latitude"),
    ("unknown datum", "87.6, 43.8", {"datum": "wgs72"}, FieldError, "unknown datum"),
    ("collinear polygon", pairs(COLLINEAR), {}, GeometryError, "no area"),
    ("too few distinct vertices", txt([GK29[0], GK29[1], GK29[0]]), {}, GeometryError, "at least 3 distinct"),
    ("empty FeatureCollection", json.dumps({"type": "FeatureCollection", "features": []}), {}, GeometryError, "no features"),
    ("feature without geometry", json.dumps({"type": "Feature", "geometry": None, "properties": {}}), {},
     GeometryError, "no geometry"),
    ("unknown GeoJSON type", json.dumps({"type": "Circle", "coordinates": [87.6, 43.8]}), {}, FormatError,
     "unknown GeoJSON geometry type"),
    ("position with a string", json.dumps({"type": "Point", "coordinates": ["87.6", 43.8]}), {}, CoordinateError,
     "two numbers"),
    ("broken JSON", '{"type": "Point", "coordinates": [87.6, 43.8}', {}, FormatError, "invalid JSON"),
    ("broken WKT", "POLYGON((87.6 43.8, 87.7 43.8", {}, FormatError, "invalid WKT"),
    ("non-numeric X in TXT", raw_txt(HEADER + "4,,1,A,面,,,,@\nJ1,1,48517x5.1,29548285.2\n"), {}, FieldError,
     r"not a number \(file raw.txt, row 7, field 'X'"),
    ("point line before plot line", raw_txt(HEADER + "J1,1,4851775.1,29548285.2\n"), {}, FormatError,
     "before any plot line"),
    ("plot without points", raw_txt(HEADER + "4,,1,A,面,,,,@\n"), {}, FormatError, "has no points"),
    ("short point line", raw_txt(HEADER + "4,,1,A,面,,,,@\nJ1,4851775.1,29548285.2\n"), {}, FormatError,
     "点号,圈号,X,Y"),
    ("non-numeric cell in CSV", csv("点号,X,Y\n1,4851775.1,29548285.2\n2,四八五,29548285.2\n"), {}, FieldError,
     r"not a number \(file table.csv, row 3, field 'X'"),
    ("empty cell in CSV", csv("名称,经度,纬度\nA,87.6,\n"), {}, FieldError, r"empty \(file table.csv, row 2, field '纬度'"),
    ("CSV without coordinate columns", csv("名称,地址\nA,乌鲁木齐\n"), {}, FieldError, "no header with coordinate columns"),
    ("mixed zones in a 带号 column", csv("点号,X,Y,带号\n1,4851775,548285,29\n2,4851775,548385,30\n"), {}, CRSError,
     "带号 column mixes zones"),
    ("wrong --encoding", raw_txt(HEADER + "4,,1,地块,面,,,,@\n"), {"encoding": "utf-8"}, FormatError, "not valid utf-8"),
    ("unknown --encoding", raw_txt(HEADER), {"encoding": "klingon"}, FormatError, "unknown text encoding"),
    ("unsupported suffix", file("site.doc", b"x"), {}, FormatError, "does not read .doc"),
    ("old Excel", file("site.xls", b"x"), {}, FormatError, "save it as .xlsx"),
    ("not really xlsx", file("site.xlsx", b"not a zip"), {}, FormatError, "not a readable .xlsx"),
    ("not really KMZ", file("site.kmz", b"not a zip"), {}, FormatError, "not a readable KMZ"),
    ("missing file", "nowhere/site.txt", {}, FormatError, "file not found"),
]

NOTICES = [
    ("unclosed ring", txt(GK29[:-1]), {}, "ring_closed", "not closed"),
    ("self-intersection", pairs(BOWTIE + [BOWTIE[0]]), {}, "geometry_repaired", "Self-intersection.*after repair"),
    ("duplicate vertices", txt(GK29[:2] + GK29[1:]), {}, "duplicate_vertex", "removed 1 vertex"),
    ("point count mismatch", raw_txt(HEADER + "9,,1,A,面,,,,@\n" + "".join(
        f"J{i},1,{x},{y}\n" for i, (_, x, y) in enumerate(GK29))), {}, "point_count_mismatch", "declares 9 points, 5 follow"),
    ("转换参数 not applied", txt(GK29, 转换参数="10,20,30,0,0,0,0"), {}, "transformation_parameters_ignored", "not applied"),
    ("datum not declared", f"{N29}, {E29}", {}, "datum_assumed", "assumed CGCS2000"),
    ("Xian 1980 without shift parameters", txt(gk_plot(RING, 2353), 坐标系="1980西安坐标系"), {}, "datum_shift_unknown",
     "no datum shift"),
    ("lat/lon order guessed", "43.8256, 87.6168", {}, "order_inferred", "as the latitude"),
    # (the covered area is made of 0.05° cells: a site must reach a few cells beyond its edge)
    ("partly outside coverage", pairs(square(97.0, 42.0, 0.2)), {"coverage": XINJIANG_BBOX}, "partly_outside_coverage",
     "outside the area"),
]


def _source(source, tmp_path):
    return source(tmp_path) if callable(source) else source


@pytest.mark.parametrize("source,options,error,pattern", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_raises_its_error(tmp_path, source, options, error, pattern):
    with pytest.raises(error, match=pattern) as caught:
        read_site(_source(source, tmp_path), **options)
    assert caught.value.fix, "every error says how to fix it"


@pytest.mark.parametrize("source,options,code,pattern", [n[1:] for n in NOTICES], ids=[n[0] for n in NOTICES])
def test_bad_input_gives_its_notice(tmp_path, source, options, code, pattern):
    site = read_site(_source(source, tmp_path), **options)
    notice = next((n for n in site.notices if n["code"] == code), None)
    assert notice is not None, [n["code"] for n in site.notices]
    assert re.search(pattern, notice["message"])
    assert notice["fix"]
    if notice["level"] == "warning" and code not in ("partly_outside_coverage", "datum_shift_unknown",
                                                      "transformation_parameters_ignored", "point_count_mismatch"):
        assert any(c.step for c in site.conversions), "a repair is recorded as a conversion"


def test_corpus_size():
    assert len(ERRORS) + len(NOTICES) >= 30


@pytest.mark.parametrize("text", ["", "{", "[1,2]", "POINT", "°", "N", "1e5 2e5", "87.6 43.8 " * 3, "\x00\x01",
                                  '{"type": "Polygon", "coordinates": 5}', '{"type": "Polygon", "coordinates": [[5]]}',
                                  "POLYGON EMPTY", "MULTIPOINT((87 43), EMPTY)", "87.6,,43.8", "--87.6 43.8"])
def test_garbage_never_crashes(text):
    try:
        read_site(text)
    except EcozoneError as error:
        assert error.fix


def test_a_folder_given_as_the_site_is_said_to_be_one(tmp_path):
    with pytest.raises(FormatError, match="folder, not a file") as info:
        read_site(str(tmp_path))
    assert info.value.field == "site" and info.value.value == str(tmp_path)


@pytest.mark.parametrize("text", ["8.76e1, 4.4e1", "87.6E44N", "87.6E44.0N", "87.6E, 44N", "8760e-2 44"])
def test_a_number_with_an_exponent_is_that_number_and_a_hemisphere_letter_stays_one(text):
    """8.76e1 is 87.6 (as Python's float reads it); the E of 87.6E44N is east, not an exponent."""
    site = read_site(text)
    lon, lat = site.shape.x, site.shape.y
    expected = {"8.76e1, 4.4e1": (float("8.76e1"), float("4.4e1")), "8760e-2 44": (float("8760e-2"), 44.0)}
    assert (lon, lat) == pytest.approx(expected.get(text, (87.6, 44.0)), abs=1e-12)
