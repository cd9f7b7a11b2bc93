"""Importing official layer files: encodings, Gauss-Krüger CRSs, refusals, and the CLI around it."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer
from typer.testing import CliRunner

from api.cli import app
from gis.errors import CRSError, FieldError, FormatError, InputError
from gis.layer_files import read_layer_file
from gis.store import create_store, open_store

runner = CliRunner()
GEOD = Geod(ellps="WGS84")

# Places in Xinjiang (lon, lat) used as reference corners: Shihezi, Wujiaqu.
SHIHEZI = (86.0411, 44.3058)
WUJIAQU = (87.5430, 44.1672)


def _reserve_frame() -> gpd.GeoDataFrame:
    """Three functional zones of a reserve, with Chinese column names and values, in lon/lat."""
    x, y = SHIHEZI
    return gpd.GeoDataFrame(
        {
            "BHQMC": ["玛纳斯河湿地核心区", "玛纳斯河湿地缓冲区", "玛纳斯河湿地实验区"],
            "编号": ["MNS-1", "MNS-2", "MNS-3"],
            "功能区": ["核心区", "缓冲区", "实验区"],
            "reserve_na": ["玛纳斯河流域中上游湿地省级（兵团）自然保护区"] * 3,
            "level": ["省级（兵团）"] * 3,
            "备注": ["划定于2018年", "界碑40块", "含旅游设施"],
        },
        geometry=[shapely.box(x, y, x + 0.05, y + 0.05), shapely.box(x + 0.05, y, x + 0.1, y + 0.05),
                  shapely.box(x + 0.1, y, x + 0.15, y + 0.05)],
        crs="EPSG:4490",
    )


def _import_red_line(path, store_path):
    """``ecozone layers import PATH --kind ecological_redline`` into a store made first where there is none."""
    if not store_path.exists():
        create_store(store_path).close()
    return runner.invoke(app, ["layers", "import", str(path), "--kind", "ecological_redline", "--store",
                               str(store_path)], env={"ECOZONE_AUDIT": "0"})


def _write_gbk_shapefile(path, frame: gpd.GeoDataFrame, *, keep_cpg: bool) -> None:
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    cpg = path.with_suffix(".cpg")
    if not keep_cpg and cpg.exists():
        cpg.unlink()


@pytest.mark.parametrize("keep_cpg", [False, True])
def test_gbk_shapefile_with_chinese_attributes(tmp_path, keep_cpg):
    path = tmp_path / "保护区[2024版].shp"  # brackets are glob patterns: the .dbf and .cpg are found all the same
    frame = _reserve_frame()
    _write_gbk_shapefile(path, frame, keep_cpg=keep_cpg)
    raw = (tmp_path / "保护区[2024版].dbf").read_bytes()
    assert "核心区".encode("gbk") in raw  # the file really is GBK, not UTF-8

    zones, notices = read_layer_file(path, "nature_reserve")
    assert zones["name"].tolist() == frame["BHQMC"].tolist()
    assert zones["zone_id"].tolist() == ["MNS-1", "MNS-2", "MNS-3"]
    assert zones["subtype"].tolist() == ["core", "buffer", "experimental"]  # mapped from the Chinese labels
    assert [a["备注"] for a in zones["attributes"]] == frame["备注"].tolist()
    codes = {n.code for n in notices}
    assert ("encoding_detected" in codes) is (not keep_cpg)


def test_gbk_shapefile_imports_through_the_cli(tmp_path):
    path = tmp_path / "reserve.shp"
    frame = _reserve_frame().rename(columns={"reserve_na": "reserve_name"})
    _write_gbk_shapefile(path, frame, keep_cpg=False)
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()

    result = runner.invoke(app, ["layers", "import", str(path), "--kind", "nature_reserve", "--store",
                                 str(store_path), "--effective-from", "2019-01-01"])
    assert result.exit_code == 0, result.output
    assert "3 features as nature_reserve version 1" in result.output
    assert "column 'reserve_na' read as 'reserve_name'" in result.output
    stored = open_store(store_path).read("nature_reserve")
    assert stored["name"].tolist() == frame["BHQMC"].tolist()
    assert stored["attributes"].iloc[0]["reserve_name"] == "玛纳斯河流域中上游湿地省级（兵团）自然保护区"

    listing = runner.invoke(app, ["layers", "--store", str(store_path), "--format", "json"])
    rows = {r["kind"]: r for r in json.loads(listing.stdout)["layers"]}
    assert rows["nature_reserve"]["features"] == 3 and rows["nature_reserve"]["version"] == 1
    assert rows["water_body"]["features"] == 0


@pytest.mark.parametrize(
    ("epsg", "prefixed"),
    [(4517, True), (4538, False), (4493, True)],  # CGCS2000 3° zone 29, 3° CM 87E, 6° zone 15
)
def test_gauss_kruger_file_is_reprojected_exactly(tmp_path, epsg, prefixed):
    corners = [SHIHEZI, (SHIHEZI[0] + 0.3, SHIHEZI[1]), (SHIHEZI[0] + 0.3, SHIHEZI[1] + 0.2)]
    # Independent oracle: PROJ gives the projected coordinates of known lon/lat corners.
    to_gk = Transformer.from_crs("EPSG:4490", f"EPSG:{epsg}", always_xy=True)
    projected = [to_gk.transform(lon, lat) for lon, lat in corners]
    if prefixed:
        assert all(x > 1e7 for x, _ in projected)  # the zone number stands in front of the easting
    path = tmp_path / f"gk{epsg}.gpkg"
    gpd.GeoDataFrame({"name": ["地块"], "zone_id": ["p1"]}, geometry=[shapely.Polygon(projected)],
                     crs=f"EPSG:{epsg}").to_file(path)

    zones, notices = read_layer_file(path, "livestock_ban_zone")
    assert any(n.code == "reprojected" and f"EPSG:{epsg}" in n.message for n in notices)
    got = np.asarray(zones.geometry.iloc[0].exterior.coords)[:3]
    for (lon, lat), (glon, glat) in zip(corners, got):
        _, _, distance = GEOD.inv(lon, lat, glon, glat)
        assert distance < 0.01  # under 1 cm


def test_file_without_crs_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "nocrs.shp"
    frame = _reserve_frame()
    frame.set_crs(None, allow_override=True).to_file(path, encoding="UTF-8")
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(CRSError, match="declares no coordinate reference system") as info:
        read_layer_file(path, "nature_reserve")
    assert info.value.field == "crs" and "EPSG:4490" in info.value.fix
    # The command line names its own option for that field.
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    result = runner.invoke(app, ["layers", "import", str(path), "--kind", "nature_reserve", "--store", str(store_path)])
    assert result.exit_code == 2 and "--crs" in result.output and "EPSG:4490" in result.output
    # With the CRS given, it is read, and the assumption is reported.
    zones, notices = read_layer_file(path, "nature_reserve", crs="EPSG:4490")
    assert len(zones) == 3 and any(n.code == "crs_declared" for n in notices)


def test_a_crs_that_does_not_fit_the_coordinates_is_refused(tmp_path):
    # Eastings without the zone prefix, but the file claims the prefixed CRS (a common mistake).
    to_cm = Transformer.from_crs("EPSG:4490", "EPSG:4538", always_xy=True)
    x, y = to_cm.transform(*SHIHEZI)
    path = tmp_path / "wrong.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(x, y, x + 100, y + 100)], crs="EPSG:4517").to_file(path)
    with pytest.raises(CRSError, match="outside China") as info:
        read_layer_file(path, "livestock_ban_zone")
    assert "zone number in front" in info.value.fix


def test_unreadable_and_unsupported_inputs(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        read_layer_file(tmp_path / "missing.shp", "water_body")
    (tmp_path / "table.xlsx").write_bytes(b"PK")
    with pytest.raises(FormatError, match="'.xlsx' files cannot be imported"):
        read_layer_file(tmp_path / "table.xlsx", "water_body")
    path = tmp_path / "noname.geojson"
    gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.box(86, 44, 86.1, 44.1)], crs=4326).to_file(path)
    with pytest.raises(FieldError, match="2 problems found") as info:  # the rows are read all the same
        read_layer_file(path, "water_body")
    missing, no_subtype = info.value.problems
    assert "no column holds the zone names" in missing.message and missing.row is None
    assert missing.field == "name" and "code" in missing.fix
    assert no_subtype.field == "subtype" and no_subtype.row == "1 (a)"  # a column "code" holds the ids
    with pytest.raises(FieldError, match="'水塘' is not a subtype of kind 'water_body'") as info:
        read_layer_file(path, "water_body", fields={"name": "code"}, subtype="水塘")
    assert info.value.field == "subtype" and "reservoir (水库)" in info.value.fix


def test_a_geojson_of_geopandas_takes_its_ids_from_the_code_column_not_the_feature_ids(tmp_path):
    """geopandas writes each feature's position as its GeoJSON "id", which GDAL reads as a column "id": the
    zones keep the codes of their 编号 column, as the file's properties (read with json) hold them."""
    path = tmp_path / "reserves.geojson"
    frame = gpd.GeoDataFrame({"编号": ["NR-01", "NR-02"], "名称": ["甲", "乙"], "功能区": ["核心区", "缓冲区"]},
                             geometry=[shapely.box(86, 44, 86.1, 44.1), shapely.box(87, 44, 87.1, 44.1)], crs=4326)
    path.write_text(frame.to_json(), encoding="utf-8")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert [f["id"] for f in features] == ["0", "1"] and "id" in pyogrio.read_dataframe(path).columns
    zones, _ = read_layer_file(path, "nature_reserve")
    assert zones["zone_id"].tolist() == [f["properties"]["编号"] for f in features]


def test_repeated_names_without_ids_are_refused(tmp_path):
    path = tmp_path / "dup.geojson"
    gpd.GeoDataFrame({"名称": ["禁养区", "禁养区"]}, geometry=[shapely.box(86, 44, 86.1, 44.1),
                     shapely.box(87, 44, 87.1, 44.1)], crs=4326).to_file(path)
    with pytest.raises(FieldError, match="names in '名称' repeat"):
        read_layer_file(path, "livestock_ban_zone")


def test_cli_refuses_import_into_the_embedded_dataset(tmp_path):
    path = tmp_path / "a.geojson"
    gpd.GeoDataFrame({"名称": ["禁养区"]}, geometry=[shapely.box(86, 44, 86.1, 44.1)], crs=4326).to_file(path)
    result = runner.invoke(app, ["layers", "import", str(path), "--kind", "livestock_ban_zone"])
    assert result.exit_code == 2
    assert "read-only" in result.output and "ecozone layers init" in result.output


def test_cli_init_makes_a_writable_copy_and_keeps_history(tmp_path):
    target = tmp_path / "mine.gpkg"
    result = runner.invoke(app, ["layers", "init", str(target)])
    assert result.exit_code == 0, result.output
    default, copy = open_store(), open_store(target)
    assert [v.to_dict() for v in copy.versions()] == [v.to_dict() for v in default.versions()]
    assert not copy.read_only
    again = runner.invoke(app, ["layers", "init", str(target)])
    assert again.exit_code == 2 and "never overwrites" in again.output
    verify = runner.invoke(app, ["layers", "verify", "--store", str(target)])
    assert verify.exit_code == 0 and "intact" in verify.output



def test_geopackage_with_a_style_table_and_an_endless_view_imports_its_one_layer(tmp_path):
    """What QGIS leaves in a GeoPackage (a layer_styles table) and a feature view that never ends are not
    layers: the one feature table is read, the view is named in a notice and never run."""
    import sqlite3

    path = tmp_path / "禁养区.gpkg"
    zones = [shapely.box(86 + i / 10, 44, 86.05 + i / 10, 44.05) for i in range(3)]
    gpd.GeoDataFrame({"名称": ["甲", "乙", "丙"]}, geometry=zones, crs=4326).to_file(path, layer="禁养区")
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE layer_styles (id INTEGER PRIMARY KEY, styleQML TEXT)")
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles')")
        con.execute("CREATE VIEW endless AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                    "SELECT i AS fid, NULL AS geom FROM n")
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('endless', 'features', 'e')")
        con.execute("INSERT INTO gpkg_geometry_columns VALUES ('endless', 'geom', 'POLYGON', 4326, 0, 0)")
    zones, notices = read_layer_file(path, "livestock_ban_zone")
    expected = pyogrio.read_dataframe(path, layer="禁养区")
    assert sorted(zones["name"]) == sorted(expected["名称"])
    assert any("endless" in notice.message for notice in notices)


@pytest.mark.parametrize("cpg", ["1252", "ANSI 1252", "UTF-8"])
def test_a_cpg_the_gbk_text_does_not_bear_out_is_not_trusted(tmp_path, cpg):
    """A .cpg written by a Western system (1252) or a wrong one (UTF-8) beside a GBK .dbf: the names are read
    as GBK, as without a .cpg, and a warning names the .cpg's claim; a .cpg that fits (936) is followed."""
    path = tmp_path / "保护区.shp"
    frame = _reserve_frame()
    _write_gbk_shapefile(path, frame, keep_cpg=False)
    path.with_suffix(".cpg").write_text(cpg)
    zones, notices = read_layer_file(path, "nature_reserve")
    assert zones["name"].tolist() == frame["BHQMC"].tolist()
    warned = [n for n in notices if n.code == "encoding_detected"]
    assert warned and warned[0].level == "warning" and warned[0].value == cpg
    path.with_suffix(".cpg").write_text("ANSI 936")
    zones, notices = read_layer_file(path, "nature_reserve")
    assert zones["name"].tolist() == frame["BHQMC"].tolist()
    assert not [n for n in notices if n.code == "encoding_detected"]


@pytest.mark.parametrize("suffix", ["gpkg", "geojson"])
def test_a_feature_with_an_empty_jurisdiction_verifies_intact_after_import(tmp_path, suffix):
    """One 行政区 cell empty: the version's digests taken at the import are those of what the store holds."""
    path = tmp_path / f"hx.{suffix}"
    gpd.GeoDataFrame({"编号": ["HX-0001", "HX-0002"], "名称": ["石河子红线1号", "石河子红线2号"],
                      "行政区": ["兵团第八师石河子市", None]},
                     geometry=[shapely.box(86.00, 44.30, 86.04, 44.33), shapely.box(86.10, 44.30, 86.14, 44.33)],
                     crs="EPSG:4490").to_file(path)
    store_path = tmp_path / "store.gpkg"
    imported = _import_red_line(path, store_path)
    assert imported.exit_code == 0, imported.output
    assert open_store(store_path).read("ecological_redline")["jurisdiction"].tolist() == ["兵团第八师石河子市", None]
    verify = runner.invoke(app, ["layers", "verify", "--store", str(store_path)])
    assert verify.exit_code == 0 and "完好" in verify.output, verify.output


def _geojson_with(ring: str) -> str:
    return ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"编号":"HX-1","名称":"红线1号"},'
            '"geometry":{"type":"Polygon","coordinates":[[[86.10,44.30],[86.15,44.30],[86.15,44.34],[86.10,44.34],'
            '[86.10,44.30]]]}},{"type":"Feature","properties":{"编号":"HX-2","名称":"红线2号"},'
            f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}')


def test_a_geojson_ring_left_open_is_closed_with_a_notice_naming_the_feature(tmp_path):
    path = tmp_path / "open.geojson"
    path.write_text(_geojson_with("[[86.00,44.30],[86.05,44.30],[86.05,44.34],[86.00,44.34]]"), encoding="utf-8")
    zones, notices = read_layer_file(path, "ecological_redline")
    closed = shapely.Polygon([(86.00, 44.30), (86.05, 44.30), (86.05, 44.34), (86.00, 44.34)])
    assert zones.geometry.iloc[1].equals(closed) and zones.geometry.iloc[0].equals(shapely.box(86.10, 44.30, 86.15, 44.34))
    said = [n for n in notices if n.code == "rings_closed"]
    assert said and said[0].value == 1 and "第 2 个要素" in said[0].message


def test_a_nan_coordinate_is_refused_naming_the_feature(tmp_path, recwarn):
    """The feature is named in the error; shapely's warning of the same value does not reach the officer."""
    path = tmp_path / "nan.geojson"
    path.write_text(_geojson_with("[[86.00,44.30],[NaN,44.30],[86.05,44.34],[86.00,44.34],[86.00,44.30]]"),
                    encoding="utf-8")
    result = _import_red_line(path, tmp_path / "store.gpkg")
    assert result.exit_code == 2, result.output
    assert "row 2 (HX-2)" in result.output and "NaN" in result.output
    assert not [w for w in recwarn if "invalid value" in str(w.message)]


def test_text_in_another_encoding_is_an_error_naming_the_option(tmp_path):
    """A GeoPackage whose text an old tool wrote in GBK: refused naming the encoding until it is given; an
    encoding that is not one for text is refused as such."""
    path = tmp_path / "gbk.gpkg"
    frame = gpd.GeoDataFrame({"编号": ["HX-1"], "名称": ["石河子红线1号"]}, geometry=[shapely.box(86.0, 44.3, 86.05, 44.34)],
                             crs="EPSG:4490")
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    with pytest.raises(FieldError, match="not UTF-8") as info:
        read_layer_file(path, "ecological_redline")
    assert info.value.field == "encoding" and "GBK" in info.value.fix
    zones, _ = read_layer_file(path, "ecological_redline", encoding="gbk")
    assert zones["name"].tolist() == ["石河子红线1号"]
    for wrong in ("klingon", "hex"):
        with pytest.raises(FieldError, match="is not a text encoding"):
            read_layer_file(path, "ecological_redline", encoding=wrong)


def test_a_prj_of_the_neighbouring_zone_is_refused_naming_both_zones(tmp_path):
    """Eastings with zone 29 in front under a .prj of zone 30 would land 3° west, in Kazakhstan."""
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4517", always_xy=True)
    x, y = to_gk.transform(*SHIHEZI)
    assert 29_000_000 < x < 30_000_000  # PROJ writes zone 29 in front
    path = tmp_path / "hx.gpkg"
    gpd.GeoDataFrame({"name": ["红线"], "zone_id": ["HX-1"]}, geometry=[shapely.box(x, y, x + 500, y + 500)],
                     crs="EPSG:4518").to_file(path)
    with pytest.raises(CRSError, match="zone 29 in front, but the CRS is zone 30") as info:
        read_layer_file(path, "ecological_redline")
    assert info.value.field == "crs" and "zone 29" in info.value.fix


def test_features_outside_every_administrative_unit_are_named_in_a_warning(tmp_path):
    """One patch in 石河子 and one near 兰州 (Gansu, outside both regions of the store): imported, with a warning
    naming the second."""
    path = tmp_path / "hx.geojson"
    gpd.GeoDataFrame({"名称": ["石河子红线", "兰州红线"], "编号": ["HX-1", "HX-2"]},
                     geometry=[shapely.box(*SHIHEZI, SHIHEZI[0] + 0.02, SHIHEZI[1] + 0.02),
                               shapely.box(103.80, 36.05, 103.82, 36.07)], crs="EPSG:4490").to_file(path)
    store_path = tmp_path / "store.gpkg"
    made = runner.invoke(app, ["layers", "init", str(store_path)])
    assert made.exit_code == 0, made.output
    imported = _import_red_line(path, store_path)
    assert imported.exit_code == 0, imported.output
    warning = next(n for n in open_store(store_path).versions("ecological_redline")[-1].notices
                   if n["code"] == "outside_coverage")
    assert warning["value"] == 1 and "第 2 行（编号 HX-2）" in warning["message"]
    assert "第 2 行" in imported.output and "--coverage" in imported.output


def test_a_xinjiang_delivery_leaves_inner_mongolia_not_checked(tmp_path):
    """By default a layer is complete over the provinces its features lie in: a red line delivered for Xinjiang
    says nothing of 呼和浩特, which stays 未核查 for the red line (it read as checked and clear before)."""
    from gis.check import check_site
    from gis.sites import read_site

    path = tmp_path / "新疆红线.geojson"
    gpd.GeoDataFrame({"名称": ["石河子红线"], "编号": ["HX-1"]},
                     geometry=[shapely.box(*SHIHEZI, SHIHEZI[0] + 0.02, SHIHEZI[1] + 0.02)], crs="EPSG:4490").to_file(path)
    store_path = tmp_path / "store.gpkg"
    assert runner.invoke(app, ["layers", "init", str(store_path)]).exit_code == 0
    imported = _import_red_line(path, store_path)
    assert imported.exit_code == 0 and "新疆维吾尔自治区" in imported.output, imported.output
    with open_store(store_path) as store:
        hohhot = check_site(read_site("111.67,40.82"), {}, store=store)
        shihezi = check_site(read_site(f"{SHIHEZI[0] + 0.01},{SHIHEZI[1] + 0.01}"), {}, store=store)
    assert hohhot.overlap.layer("ecological_redline").status == "not_checked"
    assert shihezi.overlap.layer("ecological_redline").status == "checked"


def test_a_layer_wholly_outside_the_store_is_refused_unless_its_coverage_is_given(tmp_path):
    """Three squares in Beijing (a wrong CRS puts a delivery elsewhere) would clear every site of the kind: refused,
    naming the CRS; imported with --coverage all when that is meant."""
    path = tmp_path / "红线.geojson"
    gpd.GeoDataFrame({"名称": ["甲", "乙", "丙"], "编号": ["A", "B", "C"]},
                     geometry=[shapely.box(116.3 + i / 10, 39.9, 116.32 + i / 10, 39.92) for i in range(3)],
                     crs="EPSG:4490").to_file(path)
    store_path = tmp_path / "store.gpkg"
    assert runner.invoke(app, ["layers", "init", str(store_path)]).exit_code == 0
    before = len(open_store(store_path).versions("ecological_redline"))
    refused = _import_red_line(path, store_path)
    assert refused.exit_code == 2 and "--crs" in refused.output and "--coverage" in refused.output, refused.output
    assert len(open_store(store_path).versions("ecological_redline")) == before
    forced = runner.invoke(app, ["layers", "import", str(path), "--kind", "ecological_redline", "--store",
                                 str(store_path), "--coverage", "all"], env={"ECOZONE_AUDIT": "0"})
    assert forced.exit_code == 0, forced.output


def test_a_damaged_coverage_file_is_an_error_naming_the_option(tmp_path):
    path = tmp_path / "红线.geojson"
    gpd.GeoDataFrame({"名称": ["甲"], "编号": ["A"]}, geometry=[shapely.box(*SHIHEZI, SHIHEZI[0] + 0.02, SHIHEZI[1] + 0.02)],
                     crs="EPSG:4490").to_file(path)
    damaged = tmp_path / "范围.geojson"
    damaged.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat')
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    result = runner.invoke(app, ["layers", "import", str(path), "--kind", "ecological_redline", "--store",
                                 str(store_path), "--coverage", str(damaged)], env={"ECOZONE_AUDIT": "0"})
    assert result.exit_code == 2 and "覆盖范围" in result.output and "--coverage" in result.output, result.output


def test_swapped_gauss_kruger_coordinates_are_refused_saying_so(tmp_path):
    """Northings first: PROJ gives no finite lon/lat, and the refusal says X and Y may be swapped."""
    path = tmp_path / "swapped.gpkg"
    frame = gpd.GeoDataFrame({"编号": ["HX-1"], "名称": ["红线"]}, geometry=[shapely.box(*SHIHEZI, SHIHEZI[0] + 0.05,
                                                                                       SHIHEZI[1] + 0.04)],
                             crs="EPSG:4490").to_crs("EPSG:4517")
    frame["geometry"] = shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1])
    frame.to_file(path)
    x, _ = Transformer.from_crs("EPSG:4517", "EPSG:4490", always_xy=True).transform(*frame.geometry[0].exterior.coords[0])
    assert not np.isfinite(x)
    with pytest.raises(CRSError, match="not finite") as info:
        read_layer_file(path, "ecological_redline")
    assert "swapped" in info.value.fix


def test_every_row_of_a_delivery_with_problems_is_named_at_once(tmp_path):
    """Three features without a name and one without an id among 40: the refusal names the first and counts and
    lists the others, so that the delivery is mended in one go."""
    names = [f"红线{i}" for i in range(40)]
    ids = [f"HX-{i:02d}" for i in range(40)]
    for i in (5, 17, 33):
        names[i] = ""
    ids[21] = ""
    path = tmp_path / "hx.geojson"
    gpd.GeoDataFrame({"名称": names, "编号": ids},
                     geometry=[shapely.box(86 + i * 0.01, 44.3, 86.005 + i * 0.01, 44.305) for i in range(40)],
                     crs="EPSG:4490").to_file(path)
    result = _import_red_line(path, tmp_path / "store.gpkg")
    assert result.exit_code == 2, result.output
    assert "发现 4 个问题（4 行" in result.output, result.output
    for row in ("第 6 行（编号 HX-05）", "第 18 行（编号 HX-17）", "第 22 行：", "第 34 行（编号 HX-33）"):
        assert row in result.output, result.output


def test_the_date_a_version_comes_into_force_is_read_as_officers_write_it(tmp_path):
    path = tmp_path / "红线.geojson"
    gpd.GeoDataFrame({"名称": ["甲"], "编号": ["A"]}, geometry=[shapely.box(*SHIHEZI, SHIHEZI[0] + 0.02, SHIHEZI[1] + 0.02)],
                     crs="EPSG:4490").to_file(path)
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()

    def imported(day: str):
        return runner.invoke(app, ["layers", "import", str(path), "--kind", "ecological_redline", "--store",
                                   str(store_path), "--effective-from", day], env={"ECOZONE_AUDIT": "0"})

    assert imported("2024/07/01").exit_code == 0
    assert open_store(store_path).versions("ecological_redline")[-1].effective_from == "2024-07-01"
    wrong = imported("2024/13/01")
    assert wrong.exit_code == 2 and "--effective-from" in wrong.output and "as_of" not in wrong.output, wrong.output


def test_heights_of_a_delivery_are_dropped_saying_so(tmp_path):
    """A 3D shapefile (heights from a survey): stored in 2D, as the store's table declares, with a notice."""
    path = tmp_path / "红线.shp"
    x, y = SHIHEZI
    ring = [(x, y, 450.0), (x + 0.02, y, 451.0), (x + 0.02, y + 0.02, 452.5), (x, y + 0.02, 449.0), (x, y, 450.0)]
    gpd.GeoDataFrame({"名称": ["甲"], "编号": ["A"]}, geometry=[shapely.Polygon(ring)], crs="EPSG:4490").to_file(path)
    zones, notices = read_layer_file(path, "ecological_redline")
    assert not shapely.has_z(zones.geometry.values).any()
    assert shapely.equals(zones.geometry.iloc[0], shapely.force_2d(shapely.Polygon(ring)))
    assert any(n.code == "heights_dropped" and n.value == 1 for n in notices)


def test_lon_lat_shipped_with_a_gauss_kruger_prj_is_named_and_the_crs_given_reads_it(tmp_path):
    """Degrees under a zone-29 .prj: the refusal says the coordinates are degrees (it blamed swapped X/Y and the
    zone before), and the lon/lat CRS given reads the file with a warning instead of refusing the conflict."""
    path = tmp_path / "红线.shp"
    x, y = SHIHEZI
    gpd.GeoDataFrame({"名称": ["甲"], "编号": ["A"]}, geometry=[shapely.box(x, y, x + 0.02, y + 0.02)],
                     crs="EPSG:4490").to_file(path)
    path.with_suffix(".prj").write_text(Transformer.from_crs(4490, 4517).target_crs.to_wkt("WKT1_ESRI"))
    with pytest.raises(CRSError, match="经纬度") as info:
        read_layer_file(path, "ecological_redline")
    assert info.value.field == "crs" and "EPSG:4490" in info.value.fix
    zones, notices = read_layer_file(path, "ecological_redline", crs="EPSG:4490")
    assert shapely.equals(zones.geometry.iloc[0], shapely.box(x, y, x + 0.02, y + 0.02))
    assert any(n.code == "crs_overridden" for n in notices)


def _redline_delivery(path):
    """A small red-line delivery as 自然资源 ships it: a shapefile with Chinese columns, three polygons."""
    x, y = SHIHEZI
    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(
        {"名称": ["甲", "乙", "丙"], "编号": ["HX-1", "HX-2", "HX-3"], "备注": ["水源涵养", "防风固沙", "水土保持"]},
        geometry=[shapely.Polygon([(x + i * 0.03, y), (x + i * 0.03 + 0.02, y), (x + i * 0.03 + 0.02, y + 0.02),
                                   (x + i * 0.03, y + 0.02)]) for i in range(3)],
        crs="EPSG:4490",
    ).to_file(path, encoding="UTF-8")
    return path


def _changed_copy(path, folder, change):
    """The delivery read back with GDAL (pyogrio, not ecozone's reader), changed by ``change`` and written under
    the same file name in ``folder``: only the content differs, never the source's name."""
    frame = pyogrio.read_dataframe(path)
    change(frame)
    target = folder / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, target, encoding="UTF-8")
    return target


def _redline_versions(store_path) -> list[dict]:
    listing = runner.invoke(app, ["layers", "versions", "ecological_redline", "--store", str(store_path),
                                  "--format", "json"])
    assert listing.exit_code == 0, listing.output
    return json.loads(listing.stdout)


def test_a_file_imported_again_unchanged_makes_no_version_and_says_so(tmp_path):
    """The same delivery again (the same file, or GDAL's re-write of it): no version, exit 0, the message and the
    JSON say which version it is identical to. One attribute or one vertex changed is a new version; the same
    zones from a later date are a re-issue, a new version."""
    from gis.store import init_store

    store_path = tmp_path / "store.gpkg"
    init_store(store_path).close()  # with administrative units: the default coverage is worked out each time
    path = _redline_delivery(tmp_path / "2025" / "红线.shp")

    def imported(file, day="2025-01-01", *extra):
        return runner.invoke(app, ["layers", "import", str(file), "--kind", "ecological_redline", "--store",
                                   str(store_path), "--effective-from", day, *extra], env={"ECOZONE_AUDIT": "0"})

    first = imported(path)
    assert first.exit_code == 0 and "已导入" in first.output, first.output
    history = _redline_versions(store_path)
    n = history[-1]["version"]
    assert history[-1]["effective_from"] == "2025-01-01" and history[-1]["feature_count"] == 3

    unchanged = f"与现行第 {n} 版内容相同，未新建版本 / identical to version {n} in force; no new version"
    again = imported(path)
    assert again.exit_code == 0 and unchanged in again.stdout and "已导入" not in again.stdout, again.output
    rewritten = _changed_copy(path, tmp_path / "gdal", lambda frame: None)
    as_json = imported(rewritten, "2025-01-01", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.stdout)
    assert (answer["created"], answer["version"], answer["message"]) == (False, n, unchanged)
    assert answer["content_sha256"] == history[-1]["content_sha256"] and answer["store"] == str(store_path)
    assert _redline_versions(store_path) == history
    assert [v.to_dict() for v in open_store(store_path).versions("ecological_redline")] == history

    def new_remark(frame):
        frame.loc[1, "备注"] = "界线调整"

    def moved_vertex(frame):
        ring = np.array(frame.geometry.iloc[2].exterior.coords)
        ring[1] += (0.0005, 0.0003)
        frame.loc[2, "geometry"] = shapely.Polygon(ring)

    attribute = _changed_copy(path, tmp_path / "attribute", new_remark)
    vertex = _changed_copy(attribute, tmp_path / "vertex", moved_vertex)
    for number, (file, day) in enumerate([(attribute, "2025-01-01"), (vertex, "2025-01-01"), (vertex, "2025-07-01")],
                                         start=n + 1):
        made = imported(file, day, "--format", "json")
        assert made.exit_code == 0, made.output
        answer = json.loads(made.stdout)
        assert (answer["created"], answer["version"], answer["effective_from"]) == (True, number, day)
        assert answer["message"].startswith(f"已新建第 {number} 版")
    history = _redline_versions(store_path)
    assert [v["version"] for v in history[-4:]] == [n, n + 1, n + 2, n + 3]
    assert len({v["content_sha256"] for v in history[-4:]}) == 3  # the re-issue keeps the zones of the one before
    assert [x["value"] for x in history[-1]["notices"] if x["code"] == "same_content"] == [n + 2]
    stored = open_store(store_path).read("ecological_redline", n + 1)
    assert stored.set_index("zone_id").loc["HX-2", "attributes"]["备注"] == "界线调整"

    # The re-issue is what is in force now: the file again, with its date or without one, makes nothing.
    for extra in (("2025-07-01",), ()):
        repeated = runner.invoke(app, ["layers", "import", str(vertex), "--kind", "ecological_redline", "--store",
                                       str(store_path), *(("--effective-from", *extra) if extra else ())],
                                 env={"ECOZONE_AUDIT": "0"})
        assert repeated.exit_code == 0 and f"现行第 {n + 3} 版内容相同" in repeated.stdout, repeated.output
    assert _redline_versions(store_path) == history


def test_an_identical_import_over_http_answers_200_saying_no_version_was_made(tmp_path, tmp_path_factory):
    """``POST /layers/{kind}/versions`` of the same file: 201 ``created`` true, then 200 ``created`` false with the
    version kept and the message; the versions listed stay as they were. A later date is 201 again."""
    from tests.api_support import WRITE_KEY, start_server

    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    path = _redline_delivery(tmp_path / "红线.geojson")
    server = start_server(tmp_path_factory, "reimports", store=str(store_path), write_keys=WRITE_KEY)
    try:
        with server.client(headers={"X-API-Key": WRITE_KEY}) as http:
            def post(day):
                return http.post("/layers/ecological_redline/versions", data={"coverage": "all", "effective_from": day},
                                 files={"file": (path.name, path.read_bytes(), "application/geo+json")})

            first = post("2025-01-01")
            assert first.status_code == 201 and first.json()["created"] is True, first.text
            before = http.get("/layers/ecological_redline/versions").json()
            again = post("2025-01-01")
            assert again.status_code == 200, again.text
            body = again.json()
            assert body["created"] is False and body["version"] == 1
            assert body["message"] == "与现行第 1 版内容相同，未新建版本 / identical to version 1 in force; no new version"
            assert {k: v for k, v in body.items() if k not in ("created", "message")} == before[0]
            assert http.get("/layers/ecological_redline/versions").json() == before
            later = post("2025-07-01")
            assert later.status_code == 201 and (later.json()["created"], later.json()["version"]) == (True, 2)
    finally:
        server.stop()


def test_a_backdated_import_says_until_when_it_is_in_force(tmp_path):
    """A version dated before one already kept is in force only until that one takes effect: the import says
    so, and the store's choice on each date (``in_force``) is what it says."""
    x, y = SHIHEZI
    store_path = tmp_path / "store.gpkg"
    for name, size in (("新.geojson", 0.02), ("补.geojson", 0.03)):
        gpd.GeoDataFrame({"名称": ["甲"], "编号": ["A"]}, geometry=[shapely.box(x, y, x + size, y + size)],
                         crs="EPSG:4490").to_file(tmp_path / name)
    create_store(store_path).close()
    command = ["layers", "import", "--kind", "ecological_redline", "--store", str(store_path)]
    first = runner.invoke(app, [*command, str(tmp_path / "新.geojson"), "--effective-from", "2024-07-01"],
                          env={"ECOZONE_AUDIT": "0"})
    assert first.exit_code == 0 and "只在此前现行" not in first.output, first.output
    backdated = runner.invoke(app, [*command, str(tmp_path / "补.geojson"), "--effective-from", "2024-05-01"],
                              env={"ECOZONE_AUDIT": "0"})
    assert backdated.exit_code == 0 and "2024-07-01" in backdated.output and "只在此前现行" in backdated.output
    store = open_store(store_path)
    july, may = store.versions("ecological_redline")  # in the order imported
    assert store.in_force("2024-06-30")["ecological_redline"].version == may.version
    assert store.in_force("2024-07-01")["ecological_redline"].version == july.version
    assert [n["code"] for n in may.notices if n["code"] == "in_force_until_later"] == ["in_force_until_later"]


# --- every problem of a delivery at once ---------------------------------------------------------------------
#: The rows (1-based, as GDAL numbers a GeoPackage's features) of ``_faulty_reserve`` made bad, and how.
FAULTS = {2: "valid_from", 3: "subtype", 5: "geometry", 7: "geometry", 8: "subtype", 10: "geometry", 11: "name",
          12: "geometry"}


def _faulty_reserve(path) -> None:
    """Twelve functional zones in CGCS2000 Gauss-Krüger zone 29, eight of them bad in five ways (``FAULTS``) and
    the required attribute reserve_name missing from the file: a date that is none, subtypes that are not the
    kind's, a NaN coordinate, a line, X and Y swapped (no place once reprojected), an empty name, a ring collapsed
    to a point."""
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4517", always_xy=True)

    def box(i):
        x, y = SHIHEZI[0] + i * 0.02, SHIHEZI[1]
        return shapely.transform(shapely.box(x, y, x + 0.01, y + 0.01),
                                 lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))

    geometries = [box(i) for i in range(12)]
    names = [f"保护区{i + 1}" for i in range(12)]
    subtypes = ["核心区", "缓冲区", "实验区"] * 4
    dates = ["2018-06-30"] * 12
    dates[1] = "不详"
    subtypes[2] = subtypes[7] = "保育区"
    corners = shapely.get_coordinates(geometries[4])
    corners[1, 0] = np.nan
    geometries[4] = shapely.Polygon(corners)
    geometries[6] = shapely.LineString(shapely.get_coordinates(geometries[6])[:2])
    geometries[9] = shapely.transform(geometries[9], lambda xy: xy[:, ::-1])
    names[10] = ""
    geometries[11] = shapely.Polygon([shapely.get_coordinates(geometries[11])[0]] * 4)
    gpd.GeoDataFrame({"编号": [f"NR-{i + 1:02d}" for i in range(12)], "名称": names, "功能区": subtypes,
                      "level": ["省级"] * 12, "批准日期": dates}, geometry=geometries, crs="EPSG:4517").to_file(path)


def _good_reserve(path) -> None:
    frame = _reserve_frame().rename(columns={"reserve_na": "reserve_name"})
    frame.to_file(path)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # shapely on the NaN coordinate
def test_an_import_names_every_problem_of_the_file_at_once(tmp_path):
    """One refusal lists the problems of every row (each naming the row as GDAL numbers the feature, the field,
    the value and the fix) and the attribute the file lacks; the CLI prints each on its own line; nothing is
    imported."""
    path = tmp_path / "保护区.gpkg"
    _faulty_reserve(path)
    fids = pyogrio.read_dataframe(path, fid_as_index=True, columns=["编号"])
    bad_fids = {int(fid) for fid, code in zip(fids.index, fids["编号"]) if int(code[3:]) in FAULTS}
    assert bad_fids == set(FAULTS)  # GDAL numbers the features 1..12: the rows the messages name

    with pytest.raises(InputError) as info:
        read_layer_file(path, "nature_reserve")
    refusal = info.value
    assert type(refusal) is InputError  # field, geometry and coordinate problems: the class they share
    problems = refusal.problems
    assert refusal.unlisted == 0 and f"发现 {len(problems)} 个问题" in refusal.message
    by_row = {}
    for problem in problems:
        by_row.setdefault(problem.row, []).append(problem)
    assert {row for row in by_row if row is not None} == {f"{n} (NR-{n:02d})" for n in FAULTS}
    for n, field in FAULTS.items():
        [problem] = by_row[f"{n} (NR-{n:02d})"]
        assert problem.field == field and problem.fix, problem
        assert problem.message[0] >= "\u4e00" or problem.message[0] == "「", problem.message  # Chinese first
        assert " / " in problem.message
    assert by_row["3 (NR-03)"][0].value == "保育区" and by_row["2 (NR-02)"][0].value == "不详"
    assert [type(p).__name__ for p in by_row["10 (NR-10)"]] == ["CoordinateError"]
    [lacking] = by_row[None]  # the file has no reserve_name column: said once, not on every row
    assert lacking.field == "reserve_name"
    assert [p.row for p in problems] == sorted((p.row for p in problems), key=lambda r: int(str(r).split()[0])
                                                if r else 0)  # in the order of the rows
    assert refusal.to_dict()["problems"][1]["row"] == "2 (NR-02)"

    store_path = tmp_path / "store.gpkg"
    good = tmp_path / "reserve.geojson"
    _good_reserve(good)
    create_store(store_path).close()
    assert runner.invoke(app, ["layers", "import", str(good), "--kind", "nature_reserve", "--store",
                               str(store_path)], env={"ECOZONE_AUDIT": "0"}).exit_code == 0
    with open_store(store_path) as store:
        before, features = store.versions(), store.read("nature_reserve")
    result = runner.invoke(app, ["layers", "import", str(path), "--kind", "nature_reserve", "--store",
                                 str(store_path)], env={"ECOZONE_AUDIT": "0"})
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert "发现 9 个问题（8 行" in lines[0], result.output
    for n in FAULTS:
        assert sum(line.startswith(f"  - 第 {n} 行（编号 NR-{n:02d}）：") for line in lines) == 1, result.output
    assert any("「reserve_name」" in line and "--field reserve_name=列名" in line for line in lines), result.output
    assert any("「保育区」" in line and "--subtype" in line for line in lines)  # the option that fixes it
    with open_store(store_path) as store:  # nothing imported
        assert store.versions() == before
        assert store.read("nature_reserve").equals(features)


def test_the_problems_listed_are_capped_per_kind_and_the_others_counted(tmp_path):
    """45 features, 30 with a subtype not of the kind and 2 without a name: 20 subtypes and both names listed,
    10 counted."""
    subtypes = ["保育区" if i % 3 else "兵团划定" for i in range(45)]
    names = [f"红线{i}" for i in range(45)]
    names[40] = names[44] = ""
    path = tmp_path / "hx.geojson"
    gpd.GeoDataFrame({"名称": names, "编号": [f"HX-{i:02d}" for i in range(45)], "类型": subtypes},
                     geometry=[shapely.box(86 + i * 0.01, 44.3, 86.005 + i * 0.01, 44.305) for i in range(45)],
                     crs="EPSG:4490").to_file(path)
    with pytest.raises(FieldError) as info:
        read_layer_file(path, "ecological_redline")
    error = info.value
    assert [p.field for p in error.problems].count("subtype") == 20 and error.unlisted == 10
    assert [p.row for p in error.problems if p.field == "name"] == ["41 (HX-40)", "45 (HX-44)"]
    assert "发现 32 个问题" in error.message and "另有 10 个未列出（subtype 10 个）" in error.message
    assert "10 more are not (10 of subtype)" in error.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_import_over_http_lists_every_problem(tmp_path, tmp_path_factory):
    """``POST /layers/{kind}/versions`` answers 400 with every problem in ``problems`` (row, field, value, fix,
    the form field that fixes it); the store keeps its versions."""
    from tests.api_support import WRITE_KEY, start_server

    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    good, bad = tmp_path / "reserve.geojson", tmp_path / "保护区.gpkg"
    _good_reserve(good)
    _faulty_reserve(bad)
    server = start_server(tmp_path_factory, "imports", store=str(store_path), write_keys=WRITE_KEY)
    try:
        with server.client(headers={"X-API-Key": WRITE_KEY}) as http:
            first = http.post("/layers/nature_reserve/versions", data={"coverage": "all"},
                              files={"file": (good.name, good.read_bytes(), "application/geo+json")})
            assert first.status_code == 201, first.text
            before = http.get("/layers/nature_reserve/versions").json()
            answer = http.post("/layers/nature_reserve/versions", data={"coverage": "all"},
                               files={"file": (bad.name, bad.read_bytes(), "application/geopackage+sqlite3")})
            assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"
            body = answer.json()
            assert body["detail"].startswith("发现 9 个问题") and body["unlisted"] == 0, body
            rows = {problem["row"]: problem for problem in body["problems"] if problem["row"] is not None}
            # each row as a number, the one GDAL gives the feature (a GeoPackage's fid), its 编号 apart
            fids = pyogrio.read_dataframe(bad, fid_as_index=True)
            assert set(rows) == set(FAULTS) and all(isinstance(row, int) for row in rows)
            assert {row: problem["zone_id"] for row, problem in rows.items()} == {
                row: fids.loc[row, "编号"] for row in FAULTS}
            assert {row: problem["field"] for row, problem in rows.items()} == FAULTS
            assert rows[3]["value"] == "保育区" and "表单项 field 写 subtype=列名" in rows[3]["fix"]
            assert rows[10]["type"] == "CoordinateError"
            assert all(problem["message"] and problem["fix"] for problem in body["problems"])
            assert http.get("/layers/nature_reserve/versions").json() == before
    finally:
        server.stop()
