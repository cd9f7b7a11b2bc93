"""Every input format of the site reader, checked against pyproj computed independently in the test."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from openpyxl import Workbook
from pyproj import Transformer

from gis.crs import wgs84_to_bd09, wgs84_to_gcj02
from gis.sites import read_site, read_sites
from tests.sites_support import GEOD, PLACES, gk_plot, max_distance_m, share_formulas, square, to_projected, txt_file

URUMQI = PLACES["Urumqi"]
CM = 0.01  # metres


def exterior(site, index=0):
    geom = site.shape
    polygon = geom.geoms[index] if hasattr(geom, "geoms") else geom
    return list(polygon.exterior.coords)


# --- 国土 TXT ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,newline", [("gbk", "\r\n"), ("utf-8", "\n"), ("utf-8-sig", "\r\n")])
def test_txt_with_zone_prefix_matches_pyproj(tmp_path, encoding, newline):
    ring = square(*URUMQI)
    path = txt_file(tmp_path / "site.txt", [gk_plot(ring, 4517)], header={"带号": "29"},
                    encoding=encoding, newline=newline)
    site = read_site(path)
    assert site.source == "site.txt"
    assert site.source_crs.epsg == 4517
    assert max_distance_m(exterior(site), ring) < CM
    steps = [c.step for c in site.conversions]
    assert steps == ["decode", "zone_prefix", "proj_transform"]
    assert site.attributes["数据产生单位"] == "昌吉州自然资源局"
    assert site.plots[0].name == "地块1" and site.plots[0].attributes["地块用途"] == "工业用地"


def test_txt_without_prefix_uses_header_zone(tmp_path):
    ring = square(*PLACES["Korla"])
    path = txt_file(tmp_path / "korla.txt", [gk_plot(ring, 4538)], header={"带号": "29"})
    site = read_site(path)
    assert site.source_crs.epsg == 4538
    assert site.source_crs.origin == "TXT header [属性描述]"
    assert max_distance_m(exterior(site), ring) < CM


def test_txt_six_degree_zone(tmp_path):
    ring = square(*PLACES["Kashgar"])  # 6° zone 13 (72°-78°E)
    path = txt_file(tmp_path / "k.txt", [gk_plot(ring, 4491)], header={"几度分带": "6", "带号": "13"})
    site = read_site(path)
    assert site.source_crs.epsg == 4491
    assert max_distance_m(exterior(site), ring) < CM


def test_txt_several_plots_and_a_hole(tmp_path):
    lon, lat = PLACES["Shihezi"]
    outer, hole = square(lon, lat, 0.01), square(lon, lat, 0.002)[::-1]
    other = square(lon + 0.05, lat)
    plot1 = gk_plot(outer, 4517) + gk_plot(hole, 4517, ring=2)
    path = txt_file(tmp_path / "two.txt", [plot1, gk_plot(other, 4517)], names=["一号地", "二号地"])
    sites = read_sites(path)
    assert [s.name for s in sites] == ["一号地", "二号地"]
    first = sites[0].shape
    assert len(first.interiors) == 1
    assert max_distance_m(list(first.interiors[0].coords)[::-1], hole) < CM or \
        max_distance_m(list(first.interiors[0].coords), hole) < CM
    expected = abs(GEOD.geometry_area_perimeter(shapely.Polygon(outer, [hole]))[0])
    assert sites[0].area_m2 == pytest.approx(expected, rel=1e-6)
    combined = read_site(path)
    assert combined.geometry["type"] == "MultiPolygon"
    assert [p.name for p in combined.plots] == ["一号地", "二号地"]
    assert combined.area_m2 == pytest.approx(sites[0].area_m2 + sites[1].area_m2, rel=1e-9)


def test_txt_declared_area_is_compared(tmp_path):
    ring = square(*URUMQI)
    path = txt_file(tmp_path / "a.txt", [gk_plot(ring, 4517)])
    text = path.read_bytes().decode("gbk").replace("5,,1,地块1", "5,99.0,1,地块1")
    path.write_bytes(text.encode("gbk"))
    site = read_site(path)
    assert any(n["code"] == "area_mismatch" for n in site.notices)


def test_txt_xian80_declared(tmp_path):
    ring = square(*URUMQI)
    projected = to_projected(ring, 2353)  # Xian 1980 3° zone 29
    plot = [(1, n, e) for e, n in projected]
    path = txt_file(tmp_path / "x80.txt", [plot], header={"坐标系": "1980西安坐标系"})
    site = read_site(path)
    assert site.source_crs.epsg == 2353
    expected = [Transformer.from_crs(2353, 4326, always_xy=True).transform(e, n) for e, n in projected]
    assert max_distance_m(exterior(site), expected) < CM
    assert any(n["code"] == "datum_shift_unknown" for n in site.notices)


def test_txt_beijing54_declared(tmp_path):
    ring = square(*PLACES["Hami"])
    projected = to_projected(ring, 2407)  # Beijing 1954 3° zone 31
    path = txt_file(tmp_path / "bj54.txt", [[(1, n, e) for e, n in projected]], header={"坐标系": "北京54"})
    site = read_site(path)
    assert site.source_crs.epsg == 2407
    expected = [Transformer.from_crs(2407, 4326, always_xy=True).transform(e, n) for e, n in projected]
    assert max_distance_m(exterior(site), expected) < CM


def test_txt_swapped_xy_read_with_option(tmp_path):
    ring = square(*URUMQI)
    plot = [(1, e, n) for e, n in to_projected(ring, 4517)]  # Y written where X belongs
    path = txt_file(tmp_path / "sw.txt", [plot])
    site = read_site(path, swap_xy=True)
    assert max_distance_m(exterior(site), ring) < CM
    assert site.conversions[1].step == "swap_xy"


def test_txt_lat_lon_variant(tmp_path):
    ring = square(*URUMQI)
    path = txt_file(tmp_path / "deg.txt", [[(1, lat, lon) for lon, lat in ring]], header={"计量单位": "度"})
    site = read_site(path)
    assert max_distance_m(exterior(site), ring) < 1e-6
    assert any(n["code"] == "degrees_in_projected_file" for n in site.notices)


# --- text --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "87.6168, 43.8256",
    "43.8256 87.6168",
    "87.6168E 43.8256N",
    "N43.8256, E87.6168",
    "东经87.6168 北纬43.8256",
    "经度:87.6168 纬度:43.8256",
    "lat=43.8256 lon=87.6168",
])
def test_decimal_degree_pairs(text):
    site = read_site(text)
    assert site.geometry == {"type": "Point", "coordinates": [87.6168, 43.8256]}
    assert site.source == "text" and site.source_crs.epsg == 4326


@pytest.mark.parametrize("text", [
    "87°36'12.5\"E 43°48'0\"N",
    "87°36′12.5″E, 43°48′00″N",
    "东经87度36分12.5秒 北纬43度48分",
    "87:36:12.5, 43:48:00",
    "43:48:00 87:36:12.5",
])
def test_dms_spellings(text):
    lon, lat = read_site(text).geometry["coordinates"]
    assert lon == pytest.approx(87 + 36 / 60 + 12.5 / 3600, abs=1e-12)
    assert lat == pytest.approx(43.8, abs=1e-12)


def test_polygon_from_pairs_closed_with_notice():
    ring = square(*URUMQI)[:-1]
    site = read_site("; ".join(f"{lon},{lat}" for lon, lat in ring))
    assert site.geometry["type"] == "Polygon"
    assert [n["code"] for n in site.notices] == ["ring_closed"]
    assert site.area_m2 == pytest.approx(abs(GEOD.geometry_area_perimeter(shapely.Polygon(ring))[0]), rel=1e-9)


def test_wkt_and_rfc7946_orientation():
    clockwise = square(*URUMQI)[::-1]
    wkt = "POLYGON((" + ", ".join(f"{lon} {lat}" for lon, lat in clockwise) + "))"
    site = read_site(wkt)
    assert shapely.Polygon(site.geometry["coordinates"][0]).exterior.is_ccw
    assert site.source_crs.epsg == 4326


def test_wkt_with_srid_in_gauss_kruger():
    ring = square(*URUMQI)
    wkt = "SRID=4538;POLYGON((" + ", ".join(f"{e} {n}" for e, n in to_projected(ring, 4538)) + "))"
    site = read_site(wkt)
    assert site.source_crs.epsg == 4538
    assert max_distance_m(exterior(site), ring) < CM


@pytest.mark.parametrize("wrap", ["geometry", "feature", "collection"])
def test_geojson_text(wrap):
    ring = square(*URUMQI)
    geometry = {"type": "Polygon", "coordinates": [ring]}
    feature = {"type": "Feature", "geometry": geometry, "properties": {"项目名称": "热电项目"}}
    data = {"geometry": geometry, "feature": feature,
            "collection": {"type": "FeatureCollection", "features": [feature]}}[wrap]
    site = read_site(json.dumps(data, ensure_ascii=False))
    assert max_distance_m(exterior(site), ring) < 1e-6
    if wrap != "geometry":
        assert site.name == "热电项目"


# --- Gauss-Krüger as text, with the zone given separately ---------------------------------------------------

@pytest.mark.parametrize("place,zone,prefixed_epsg,cm_epsg", [
    ("Urumqi", 29, 4517, 4538), ("Kashgar", 25, 4513, 4534), ("Hami", 31, 4519, 4540), ("Altay", 29, 4517, 4538),
])
def test_gk_pair_prefix_zone_option_and_crs_option(place, zone, prefixed_epsg, cm_epsg):
    lonlat = PLACES[place]
    (e, n), = to_projected([lonlat], prefixed_epsg)
    assert max_distance_m(read_site(f"{n:.4f}, {e:.4f}").shape.coords, [lonlat]) < CM
    (e0, n0), = to_projected([lonlat], cm_epsg)
    by_zone = read_site(f"{n0:.4f} {e0:.4f}", gk_zone=zone)
    assert by_zone.source_crs.epsg == cm_epsg
    assert max_distance_m(by_zone.shape.coords, [lonlat]) < CM
    by_crs = read_site(f"{e0:.4f} {n0:.4f}", crs=f"EPSG:{cm_epsg}")
    assert max_distance_m(by_crs.shape.coords, [lonlat]) < CM


# --- tables ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_csv_point_table(tmp_path, encoding):
    rows = ["项目名称,经度,纬度,行业"] + [f"项目{i},{lon},{lat},C4411" for i, (lon, lat) in enumerate(PLACES.values())]
    path = tmp_path / "points.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
    sites = read_sites(path)
    assert [s.name for s in sites] == [f"项目{i}" for i in range(len(PLACES))]
    assert [tuple(s.geometry["coordinates"]) for s in sites] == list(PLACES.values())
    assert sites[0].attributes["行业"] == "C4411"
    assert sites[0].plots[0].row == 2
    assert read_site(path).geometry["type"] == "MultiPoint"


def test_csv_dms_cells(tmp_path):
    path = tmp_path / "dms.csv"
    path.write_text("名称,经度,纬度\nA,87°36'12.5\",43°48'0\"\n", encoding="utf-8")
    lon, lat = read_site(path).geometry["coordinates"]
    assert (lon, lat) == pytest.approx((87 + 36 / 60 + 12.5 / 3600, 43.8))


def test_csv_vertex_table_gk(tmp_path):
    ring = square(*URUMQI)
    lines = ["拐点号,圈号,X,Y"] + [f"J{i + 1},1,{n:.4f},{e:.4f}" for i, (e, n) in enumerate(to_projected(ring, 4517))]
    path = tmp_path / "vertices.csv"
    path.write_bytes("\n".join(lines).encode("gbk"))
    site = read_site(path)
    assert site.source_crs.epsg == 4517
    assert max_distance_m(exterior(site), ring) < CM


def test_csv_gis_order_xy_is_inferred(tmp_path):
    ring = square(*URUMQI)
    lines = ["点号,X,Y"] + [f"{i + 1},{e:.4f},{n:.4f}" for i, (e, n) in enumerate(to_projected(ring, 4517))]
    path = tmp_path / "gis.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    site = read_site(path)
    assert max_distance_m(exterior(site), ring) < CM
    assert any(n["code"] == "order_inferred" for n in site.notices)


def test_xlsx_with_title_row_zone_column_and_plots(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["某某项目拐点坐标表（CGCS2000）"])
    sheet.append(["地块编号", "界址点号", "北坐标(米)", "东坐标(米)", "带号"])
    rings = {"A": square(*URUMQI), "B": square(URUMQI[0] + 0.05, URUMQI[1])}
    for key, ring in rings.items():
        for i, (e, n) in enumerate(to_projected(ring, 4538)):
            sheet.append([key, f"J{i + 1}", n, e, 29])
    path = tmp_path / "table.xlsx"
    book.save(path)
    sites = read_sites(path)
    assert [s.name for s in sites] == ["A", "B"]
    assert sites[0].plots[0].row == 3
    for site, ring in zip(sites, rings.values()):
        assert site.source_crs.epsg == 4538
        assert max_distance_m(exterior(site), ring) < CM


def test_xlsx_lon_lat(tmp_path):
    book = Workbook()
    book.active.append(["名称", "经度", "纬度"])
    book.active.append(["乌鲁木齐", *URUMQI])
    path = tmp_path / "p.xlsx"
    book.save(path)
    assert read_site(path).geometry["coordinates"] == list(URUMQI)


def _formula_table(path, rows: int) -> list[tuple[float, float]]:
    """A vertex table whose 东坐标 are formulas (=D+偏移) written by openpyxl, which saves no results."""
    ring = to_projected(square(*URUMQI), 4538)
    book = Workbook()
    sheet = book.active
    sheet.title = "界址点"
    sheet.append(["界址点号", "北坐标(米)", "东坐标(米)", "东坐标基准", "带号"])
    for i, (e, n) in enumerate(ring[:rows]):
        sheet.append([f"J{i + 1}", n, f"=D{i + 2}+0.5", e - 0.5, 29])
    book.save(path)
    return ring


@pytest.mark.parametrize("shared", [False, True])
def test_xlsx_coordinates_from_formulas_without_results_name_the_cell(tmp_path, shared):
    """东坐标 computed by formulas a script wrote without their results: not "empty", but the cell, its formula,
    the sheet and the fix. As openpyxl writes them, the first (C2) is named; filled down as a shared formula
    whose master C2 has a result, the first follower (C3), as it reads in its own cell. openpyxl reading the
    formulas is the oracle."""
    from openpyxl import load_workbook

    from gis.errors import FieldError

    path = tmp_path / "拐点.xlsx"
    ring = _formula_table(path, 5)
    if shared:
        share_formulas(path, "C", results={2: repr(ring[0][0])})
    row = 3 if shared else 2
    cell = f"C{row}"
    formula = load_workbook(path).active[cell].value
    assert formula == f"=D{row}+0.5" and load_workbook(path, data_only=True).active[cell].value is None
    with pytest.raises(FieldError) as raised:
        read_site(path)
    error = raised.value
    assert error.row == row and error.field == "东坐标(米)" and error.value == formula
    assert f"工作表「界址点」{cell} 单元格" in error.message and f"cell {cell} of sheet '界址点'" in error.message
    assert formula in error.message and "没有保存" in error.message
    assert "Excel 或 WPS" in error.fix and "paste them as values" in error.fix
    assert error.message.index("工作表") < error.message.index(" / ")  # Chinese first


def test_xlsx_coordinates_from_formulas_with_results_read_as_their_values(tmp_path):
    """The control: the same table saved with each formula's result (XlsxWriter told the values, as Excel and
    WPS save them) reads as the values."""
    import xlsxwriter

    ring = to_projected(square(*URUMQI), 4538)
    path = tmp_path / "拐点.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("界址点")
    sheet.write_row(0, 0, ["界址点号", "北坐标(米)", "东坐标(米)", "东坐标基准", "带号"])
    for i, (e, n) in enumerate(ring):
        sheet.write_row(i + 1, 0, [f"J{i + 1}", n])
        sheet.write_formula(i + 1, 2, f"=D{i + 2}+0.5", None, e)
        sheet.write_row(i + 1, 3, [e - 0.5, 29])
    book.close()
    site = read_site(path)
    assert site.source_crs.epsg == 4538
    assert max_distance_m(exterior(site), square(*URUMQI)) < CM


# --- vector files ------------------------------------------------------------------------------------------

def _frame(ring, crs, name="热电厂"):
    return gpd.GeoDataFrame({"项目名称": [name], "用途": ["工业"]}, geometry=[shapely.Polygon(ring)], crs=crs)


@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_shapefile_without_cpg_in_gauss_kruger(tmp_path, encoding):
    ring = square(*URUMQI)
    path = tmp_path / "site.shp"
    _frame(to_projected(ring, 4517), "EPSG:4517").rename(columns={"项目名称": "名称"}).to_file(path, encoding=encoding)
    path.with_suffix(".cpg").unlink()
    site = read_site(path)
    assert site.name == "热电厂" and site.plots[0].attributes["用途"] == "工业"
    assert site.source_crs.epsg == 4517
    assert max_distance_m(exterior(site), ring) < CM
    assert site.conversions[0].step == "decode"


def test_shapefile_without_prj_infers_the_zone(tmp_path):
    ring = square(*URUMQI)
    path = tmp_path / "noprj.shp"
    _frame(to_projected(ring, 4517), "EPSG:4517").rename(columns={"项目名称": "名称"}).to_file(path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    site = read_site(path)
    assert site.source_crs.epsg == 4517
    assert max_distance_m(exterior(site), ring) < CM
    assert {"no_prj", "datum_assumed"} <= {n["code"] for n in site.notices}


def test_geopackage_and_geojson_file(tmp_path):
    ring = square(*PLACES["Korla"])
    gpkg = tmp_path / "site.gpkg"
    _frame(to_projected(ring, 4538), "EPSG:4538").to_file(gpkg, layer="site")
    site = read_site(gpkg)
    assert site.source_crs.epsg == 4538
    assert max_distance_m(exterior(site), ring) < CM
    geojson = tmp_path / "site.geojson"
    _frame(ring, "EPSG:4326").to_file(geojson)
    site = read_site(geojson)
    assert site.name == "热电厂"
    assert max_distance_m(exterior(site), ring) < 1e-6


def test_kml_and_kmz(tmp_path):
    ring = square(*PLACES["Hami"])
    kml = tmp_path / "site.kml"
    frame = _frame(ring, "EPSG:4326").rename(columns={"项目名称": "Name"})
    frame.to_file(kml, driver="KML")
    site = read_site(kml)
    assert site.name == "热电厂"
    assert max_distance_m(exterior(site), ring) < 1e-6
    kmz = tmp_path / "site.kmz"
    with zipfile.ZipFile(kmz, "w") as archive:
        archive.write(kml, "doc.kml")
    assert max_distance_m(exterior(read_site(kmz)), ring) < 1e-6


# --- GCJ-02 and BD-09 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("datum,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_web_map_datums_round_trip(place, datum, forward):
    lonlat = PLACES[place]
    shifted = forward(shapely.Point(lonlat))
    assert max_distance_m([shifted.coords[0]], [lonlat]) > 100  # the offset is real
    site = read_site(f"{shifted.x!r}, {shifted.y!r}", datum=datum)
    assert max_distance_m(site.shape.coords, [lonlat]) < 0.5
    assert site.datum == datum and site.conversions[-1].step == f"{datum}_to_wgs84"


def test_gcj02_polygon(tmp_path):
    ring = square(*PLACES["Korla"])
    shifted = wgs84_to_gcj02(shapely.Polygon(ring))
    site = read_site(shifted.wkt, datum="gcj02")
    assert max_distance_m(exterior(site), ring) < 0.5


# --- repairs are reported ---------------------------------------------------------------------------------

def test_self_intersection_repaired_and_reported():
    lon, lat = URUMQI
    bowtie = [(lon, lat), (lon + 0.01, lat + 0.01), (lon + 0.01, lat), (lon, lat + 0.01), (lon, lat)]
    site = read_site(";".join(f"{a},{b}" for a, b in bowtie))
    notice = next(n for n in site.notices if n["code"] == "geometry_repaired")
    assert "Self-intersection" in notice["message"] and "after repair" in notice["message"]
    assert site.geometry["type"] == "MultiPolygon" and shapely.is_valid(site.shape)
    assert site.conversions[-1].step == "make_valid"


def test_duplicate_vertices_removed_and_reported(tmp_path):
    ring = square(*URUMQI)
    plot = gk_plot(ring, 4517)
    plot.insert(2, plot[1])
    site = read_site(txt_file(tmp_path / "dup.txt", [plot]))
    notice = next(n for n in site.notices if n["code"] == "duplicate_vertex")
    assert notice["row"] == 14  # the repeated J2 line, counted as the user sees the file
    assert max_distance_m(exterior(site), ring) < CM


def test_ring_outside_outer_becomes_a_part(tmp_path):
    lon, lat = URUMQI
    plot = gk_plot(square(lon, lat), 4517) + gk_plot(square(lon + 0.05, lat), 4517, ring=2)
    site = read_site(txt_file(tmp_path / "parts.txt", [plot]))
    assert site.geometry["type"] == "MultiPolygon"
    assert any(n["code"] == "ring_outside_outer" for n in site.notices)


def test_partly_outside_coverage_warns():
    # The covered area errs outwards by at most one 0.05° cell: this parcel reaches 0.2° beyond the box.
    site = read_site("96.9,42; 97.2,42; 97.2,42.01; 96.9,42.01", coverage=(73.0, 34.0, 97.0, 50.0))
    assert any(n["code"] == "partly_outside_coverage" for n in site.notices)


def test_coverage_is_a_parameter():
    beijing = read_site("116.39, 39.91", coverage=(115.0, 39.0, 118.0, 41.0))
    assert beijing.geometry["coordinates"] == [116.39, 39.91]
    assert read_site("116.39, 39.91", coverage=None).source_crs.epsg == 4326


def test_site_json_round_trip():
    site = read_site("87.6, 43.8")
    data = json.loads(site.model_dump_json())
    assert data["geometry"] == {"type": "Point", "coordinates": [87.6, 43.8]}
    assert np.allclose(type(site).model_validate(data).shape.coords, [(87.6, 43.8)])



def test_txt_ending_in_a_dos_end_of_file_mark_is_read_as_without_it(tmp_path):
    """Old DOS editors end a file with Ctrl-Z (0x1A): the file is the same plot with or without it."""
    ring = square(*URUMQI)
    plain = txt_file(tmp_path / "plain.txt", [gk_plot(ring, 4517)], header={"带号": "29"})
    marked = tmp_path / "marked.txt"
    marked.write_bytes(plain.read_bytes() + b"\x1a")
    site = read_site(marked)
    assert site.geometry == read_site(plain).geometry
    assert max_distance_m(exterior(site), ring) < CM
