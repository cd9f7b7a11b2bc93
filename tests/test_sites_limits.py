"""The readers' limits at their edges, and the inputs that used to crash read as what they are.

Each limit is tested on both sides of its boundary; areas are measured independently with pyproj's Geod,
GeoPackage contents with sqlite3 and geopandas, verdicts with ``gis.check.check_site``.
"""

from __future__ import annotations

import csv
import sqlite3

import geopandas as gpd
import pytest
import shapely

from gis.batch import screen_file
from gis.check import check_site
from gis.errors import CoordinateError, FormatError, GeometryError, LimitExceededError
from gis.rules.project import Project
from gis.sites import XINJIANG_BBOX, read_site
from gis.sites.limits import COVERAGE_MARGIN_DEG, MAX_NESTING, MAX_SITE_AREA_KM2, MAX_VERTICES
from tests.hostile_inputs import by_name, circle
from tests.sites_support import GEOD, PLACES

URUMQI = PLACES["Urumqi"]


def _wkt(ring) -> str:
    return "POLYGON ((" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in ring) + "))"


def _geod_area_km2(lon_min, lat_min, lon_max, lat_max) -> float:
    lons = [lon_min, lon_max, lon_max, lon_min]
    lats = [lat_min, lat_min, lat_max, lat_max]
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0]) / 1e6


def test_text_longer_than_a_file_name_is_read_as_text():
    text = by_name("wkt_parcel_with_hole_400_chars").data
    geom = shapely.from_wkt(text)
    expected = sum(abs(GEOD.polygon_area_perimeter(*zip(*ring.coords))[0]) * (1 if i == 0 else -1)
                   for i, ring in enumerate([geom.exterior, *geom.interiors]))
    site = read_site(text)
    assert len(text) > 255 and site.geometry["type"] == "Polygon" and len(site.geometry["coordinates"]) == 2
    assert site.area_m2 == pytest.approx(expected, rel=1e-6)


def test_a_file_with_a_long_name_is_still_a_file(tmp_path):
    path = tmp_path / ("项目" * 40 + ".wkt")  # 240 bytes in UTF-8: a legal name
    path.write_text("POINT (87.6168 43.8256)", encoding="utf-8")
    assert read_site(str(path)).source == path.name


@pytest.mark.parametrize("extra,refused", [(0, False), (1, True)])
def test_vertex_limit(extra, refused):
    ring = circle(MAX_VERTICES - 1 + extra)  # with the closing vertex: MAX_VERTICES (+ extra) coordinates
    if refused:
        with pytest.raises(LimitExceededError, match=f"at most {MAX_VERTICES:,}") as caught:
            read_site(_wkt(ring))
        assert caught.value.field == "site" and caught.value.value == MAX_VERTICES + 1
    else:
        assert len(read_site(_wkt(ring)).geometry["coordinates"][0]) == MAX_VERTICES


@pytest.mark.parametrize("levels,refused", [(MAX_NESTING - 1, False), (MAX_NESTING, True)])
def test_nesting_limit(levels, refused):
    text = "GEOMETRYCOLLECTION (" * levels + "POINT (87.6168 43.8256)" + ")" * levels  # POINT adds one level
    if refused:
        with pytest.raises(LimitExceededError, match=f"at most {MAX_NESTING} levels"):
            read_site(text)
    else:
        assert read_site(text).geometry == {"type": "Point", "coordinates": [87.6168, 43.8256]}


def test_area_limit_against_geod():
    small = (86.0, 43.0, 86.0 + 1.1, 43.8)
    large = (86.0, 43.0, 86.0 + 1.4, 43.8)
    assert _geod_area_km2(*small) < MAX_SITE_AREA_KM2 < _geod_area_km2(*large)
    assert read_site(shapely.box(*small).wkt).area_m2 / 1e6 == pytest.approx(_geod_area_km2(*small), rel=1e-3)
    with pytest.raises(GeometryError, match=f"{MAX_SITE_AREA_KM2:,} km² at most") as caught:
        read_site(shapely.box(*large).wkt)
    assert caught.value.field == "geometry"
    assert caught.value.value == pytest.approx(_geod_area_km2(*large), rel=1e-3)


def test_coverage_margin():
    east = XINJIANG_BBOX[2]
    near = read_site(shapely.box(east - 0.2, 42.0, east + COVERAGE_MARGIN_DEG / 2, 42.1).wkt, coverage=XINJIANG_BBOX)
    assert "partly_outside_coverage" in [n["code"] for n in near.notices]
    with pytest.raises(CoordinateError, match="beyond the area the layers cover") as caught:
        read_site(shapely.box(east - 0.2, 42.0, east + COVERAGE_MARGIN_DEG * 1.5, 42.1).wkt, coverage=XINJIANG_BBOX)
    assert caught.value.field == "geometry"
    assert read_site(shapely.box(east - 0.2, 42.0, east + 3, 42.1).wkt, coverage=None).area_m2 > 0


def test_invisible_characters_are_removed_and_recorded():
    site = read_site("\u200b87.6168,\u200b43.8256\u2060")
    assert site.geometry == {"type": "Point", "coordinates": [87.6168, 43.8256]}
    assert site.conversions[0].step == "remove_invisible" and "3 invisible" in site.conversions[0].description


def test_plots_of_different_kinds_are_refused_together_and_read_apart(tmp_path):
    path = tmp_path / "mixed.geojson"
    features = [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": list(URUMQI)}},
                {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shapely.box(87.6, 43.8, 87.61, 43.81))}]
    gpd.GeoDataFrame.from_features(features, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    with pytest.raises(GeometryError, match="mix points, lines and polygons"):
        read_site(path)
    from gis.sites import read_sites

    assert [s.geometry["type"] for s in read_sites(path)] == ["Point", "Polygon"]


def test_geopackage_reads_only_its_feature_tables(tmp_path):
    path = tmp_path / "sites.gpkg"
    frame = gpd.GeoDataFrame({"名称": ["甲", "乙"]}, geometry=[shapely.box(87.60, 43.80, 87.61, 43.81),
                                                         shapely.box(87.62, 43.80, 87.63, 43.81)], crs="EPSG:4326")
    frame.to_file(path, layer="parcels", driver="GPKG")
    import pandas as pd
    import pyogrio

    pyogrio.write_dataframe(pd.DataFrame({"f_table_name": ["parcels"], "styleQML": ["<qgis/>"]}), path,
                            layer="layer_styles", driver="GPKG")
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE VIEW forever AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                           "SELECT p.fid AS fid, p.geom AS geom FROM parcels AS p, n")
        connection.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                           "VALUES ('forever', 'features', 'forever', 4326)")
        connection.execute("INSERT INTO gpkg_geometry_columns VALUES ('forever', 'geom', 'POLYGON', 4326, 0, 0)")
        tables = {row[0]: row[1] for row in connection.execute("SELECT table_name, data_type FROM gpkg_contents")}
    assert tables == {"parcels": "features", "layer_styles": "attributes", "forever": "features"}
    site = read_site(path)
    expected = gpd.read_file(path, layer="parcels")
    assert [p.name for p in site.plots] == list(expected["名称"])
    assert shapely.equals(site.shape, shapely.union_all(expected.geometry.values))
    skipped = [n for n in site.notices if n["code"] == "gpkg_view_skipped"]
    assert [n["field"] for n in skipped] == ["forever"]


def test_declared_sheet_dimension_is_not_trusted(tmp_path):
    data = by_name("xlsx_dimension_bomb_in_notes").data
    path = tmp_path / "sites.xlsx"
    path.write_bytes(data["sites.xlsx"])
    site = read_site(path)
    assert site.geometry == {"type": "Point", "coordinates": list(URUMQI)}


def test_mixed_encodings_are_named_not_guessed(tmp_path):
    path = tmp_path / "site.txt"
    path.write_bytes(by_name("txt_mixed_encodings").data["site.txt"])
    with pytest.raises(FormatError, match="mixes UTF-8 and GBK") as caught:
        read_site(path)
    assert caught.value.row == 9 and caught.value.field == "encoding"


def test_register_cell_with_a_6000_vertex_parcel_is_screened_as_check_site_sees_it(tmp_path, store):
    ring = circle(6_000, center=URUMQI, radius=0.02)
    text = _wkt(ring)
    assert len(text) > 128 * 1024  # the csv module's default field limit
    source = tmp_path / "许可.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "拐点坐标", "行业"], ["大地块", text, "电力"], ["点", "POINT (87.6 43.8)", "电力"]])
    report = screen_file(source, tmp_path / "out.csv", store=store, as_of="2024-01-01")
    assert report.rows_in == report.rows_out == 2 and report.rows_failed == 0
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = check_site(read_site(text), Project(industry="电力"), store=store, as_of="2024-01-01")
    assert rows[0]["结论代码"] == expected.verdict.value


def test_register_row_with_more_cells_than_the_header_marks_that_row(tmp_path, store):
    source = tmp_path / "许可.csv"
    source.write_text("项目名称,经度,纬度\n甲,87.6168,43.8256\n乙,87.6168,43.8256,多余\n丙,86.0411,44.3059\n",
                      encoding="utf-8")
    out = tmp_path / "out.csv"
    report = screen_file(source, out, store=store, as_of="2024-01-01")
    assert report.rows_in == report.rows_out == 3 and report.rows_failed == 1
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert all(len(row) == len(rows[0]) for row in rows)
    failed = {row[0]: row[rows[0].index("读取错误")] for row in rows[1:] if row[rows[0].index("结论")] == "读取失败"}
    assert list(failed) == ["乙"] and "row 3" in failed["乙"] and "'多余'" in failed["乙"]


def test_geoparquet_row_with_unreadable_wkb_marks_that_row(tmp_path, store):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    good = shapely.to_wkb(shapely.Point(URUMQI))
    table = pa.table({"项目名称": ["甲", "乙", "丙"], "经度": [URUMQI[0]] * 3, "纬度": [URUMQI[1]] * 3,
                      "geometry": [good, b"\x01\x02 not wkb", good]})
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}}
    path = tmp_path / "sites.parquet"
    pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), path)
    report = screen_file(path, tmp_path / "out.csv", store=store, as_of="2024-01-01")
    assert report.rows_in == report.rows_out == 3 and report.rows_failed == 1
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        failed = [row for row in csv.DictReader(handle) if row["结论"] == "读取失败"]
    assert [row["项目名称"] for row in failed] == ["乙"]
    assert "row 2" in failed[0]["读取错误"] and "field 'geometry'" in failed[0]["读取错误"]
