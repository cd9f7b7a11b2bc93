"""Importing a delivery as a natural-resources department hands it over: a few thousand red-line patches of real
shape in Gauss-Krüger zone 29, a GBK .dbf without .cpg, columns 编号 名称 类型 面积 行政区 批准日期 where 类型 is the
ecological function. The plain command imports it; --field maps what it cannot find; every error names the
option that fixes it, and every notice keeps its level and names its feature.

Screening a monitoring delivery (人类活动遥感监测图斑, --patches), as a shapefile and as a GeoPackage: its columns of
days are of one type on every sheet of the 移交清单 workbook, and 汇总 sums its own numbers; both against the
input as GDAL reads it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from pyproj import Geod
from typer.testing import CliRunner

from api.cli import app
from gis.kinds import KINDS
from gis.store import create_store, open_store
from tests.api_support import WRITE_KEY, start_server
from tests.delivery_samples import delivery, monitoring, write_delivery, write_monitoring

runner = CliRunner()
GEOD = Geod(ellps="WGS84")
KIND = "ecological_redline"


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """2,500 patches (about 430,000 vertices) written as the department does; the frame and the .shp."""
    frame = delivery(2500)
    path = write_delivery(frame, tmp_path_factory.mktemp("delivery") / "生态保护红线.shp")
    return frame, path


def _import(path, store_path, *options: str):
    return runner.invoke(app, ["layers", "import", str(path), "--kind", KIND, "--store", str(store_path),
                               "--effective-from", "2024-01-01", *options])


def test_the_delivery_really_is_gbk_gauss_kruger_without_cpg(delivered):
    _, path = delivered
    assert not path.with_suffix(".cpg").exists()
    raw = path.with_suffix(".dbf").read_bytes()
    assert "水源涵养".encode("gbk") in raw and "批准日期".encode("gbk") in raw
    assert "PROJCS" in path.with_suffix(".prj").read_text() and "Zone_29" in path.with_suffix(".prj").read_text()


def test_a_delivery_imports_with_the_plain_command(delivered, tmp_path):
    frame, path = delivered
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    result = _import(path, store_path)
    assert result.exit_code == 0, result.output
    assert f"{len(frame)} features as {KIND} version 1" in result.output
    # Levels are printed, Chinese first, not eaten as markup; the function column is said to be kept as is.
    assert "说明 info：" in result.output and "[info]" not in result.output
    assert "列“类型”的值" in result.output and "作为属性“类型”保留" in result.output
    assert "--field subtype=列名 或 --subtype 代码" in result.output

    stored = open_store(store_path).read(KIND)
    assert stored["zone_id"].tolist() == frame["编号"].tolist()
    assert stored["name"].tolist() == frame["名称"].tolist()
    assert stored["jurisdiction"].tolist() == frame["行政区"].tolist()
    assert stored["valid_from"].tolist() == [d.isoformat() for d in frame["批准日期"]]
    assert stored["subtype"].isna().all()  # who drew the line is not in the file
    assert [a["类型"] for a in stored["attributes"]] == frame["类型"].tolist()  # kept under its own name
    assert np.allclose([a["面积"] for a in stored["attributes"]], frame["面积"], rtol=0, atol=1e-9)

    # Every vertex where it was: the generated lon/lat, through GK zone 29 and back, within a centimetre.
    assert (shapely.get_num_coordinates(stored.geometry.values)
            == shapely.get_num_coordinates(frame.geometry.values)).all()
    got = shapely.get_coordinates(stored.geometry.values)
    want = shapely.get_coordinates(frame.geometry.values)
    _, _, distance = GEOD.inv(want[:, 0], want[:, 1], got[:, 0], got[:, 1])
    assert distance.max() < 0.01


def _renamed(frame):
    """The same delivery with column names the importer does not know."""
    return frame.rename(columns={"编号": "HXBM", "名称": "HXMC", "类型": "GNLX", "批准日期": "PZRQ"})


def test_columns_it_cannot_recognise_are_mapped_with_field(tmp_path):
    frame = _renamed(delivery(120, seed=3))
    path = write_delivery(frame, tmp_path / "hx.shp")
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()

    refused = _import(path, store_path)
    assert refused.exit_code == 2
    assert "no column holds the zone names" in refused.output and "--field name=列名" in refused.output
    assert "HXMC" in refused.output  # the columns to choose from

    result = _import(path, store_path, "--field", "zone_id=HXBM", "--field", "name=HXMC",
                     "--field", "valid_from=PZRQ", "--field", "功能类型=GNLX")
    assert result.exit_code == 0, result.output
    stored = open_store(store_path).read(KIND)
    assert stored["zone_id"].tolist() == frame["HXBM"].tolist()
    assert stored["name"].tolist() == frame["HXMC"].tolist()
    assert stored["valid_from"].tolist() == [d.isoformat() for d in frame["PZRQ"]]
    assert [a["功能类型"] for a in stored["attributes"]] == frame["GNLX"].tolist()
    assert all(set(a) == {"功能类型", "面积"} for a in stored["attributes"])  # mapped columns are not kept twice


@pytest.mark.parametrize(("options", "expected"), [
    # The function types are no subtypes: mapped anyway, the first row is named with its id and the fixes.
    (["--field", "subtype=类型"], ["row 1 (HX-0001)", "which is not a subtype of kind", "--field subtype=列名",
                                    "--subtype 代码", "bingtuan (兵团划定)"]),
    (["--field", "name=名字"], ["there is no column '名字'", "--field name=列名", "编号"]),
    (["--field", "名称"], ["TARGET=COLUMN", "--field 字段=列名"]),
    (["--field", "valid_to=类型"], ["which is not a date", "row 1 (HX-0001)", "--field valid_to=列名"]),
    (["--subtype", "水源涵养"], ["'水源涵养' is not a subtype", "--field subtype=列名 或 --subtype 代码"]),
    (["--encoding", "big5"], ["not valid big5", "--encoding"]),
    (["--crs", "EPSG:4490"], ["but the CRS given is", "--crs"]),
])
def test_a_bad_mapping_fails_naming_the_option_that_fixes_it(delivered, tmp_path, options, expected):
    _, path = delivered
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    result = _import(path, store_path, *options)
    assert result.exit_code == 2
    for text in expected:
        assert text in result.output, result.output
    assert open_store(store_path).versions() == []


def test_a_column_of_subtype_labels_gives_the_subtypes(tmp_path):
    frame = delivery(60, seed=4)
    frame["类型"] = np.where(np.arange(60) % 3 == 0, "兵团划定", "自治区划定")
    frame.loc[5, "类型"] = "autonomous_region"  # a code is as good as its label
    path = write_delivery(frame, tmp_path / "hx.shp")
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    assert _import(path, store_path).exit_code == 0
    stored = open_store(store_path).read(KIND)
    expected = ["bingtuan" if i % 3 == 0 else "autonomous_region" for i in range(60)]
    assert stored["subtype"].tolist() == expected
    assert all("类型" not in a for a in stored["attributes"])

    frame.loc[7, "类型"] = "水源涵养"  # one value that is no subtype in a subtype column: refused, row named
    write_delivery(frame, tmp_path / "bad.shp")
    refused = _import(tmp_path / "bad.shp", store_path)
    assert refused.exit_code == 2 and "row 8 (HX-0008)" in refused.output and "--subtype" in refused.output


def test_a_repair_notice_names_the_feature_with_its_level(tmp_path):
    frame = delivery(30, seed=5)
    x, y = frame.geometry.iloc[11].centroid.coords[0]
    frame.loc[11, "geometry"] = shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    path = write_delivery(frame, tmp_path / "hx.shp")
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    result = _import(path, store_path)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "无效几何已修复" in line)
    assert line.strip().startswith("警告 warning：第 12 行（编号 HX-0012）：")
    (notice,) = [n for n in open_store(store_path).versions(KIND)[0].notices if n["code"] == "geometry_repaired"]
    assert notice["level"] == "warning" and notice["row"] == "12 (HX-0012)"


def test_the_http_import_takes_the_same_mapping(tmp_path, tmp_path_factory):
    frame = _renamed(delivery(80, seed=6))
    path = write_delivery(frame, tmp_path / "hx.shp")
    parts = [("file", (path.with_suffix(s).name, path.with_suffix(s).read_bytes())) for s in (".shp", ".shx", ".dbf",
                                                                                             ".prj")]
    store_path = tmp_path / "store.gpkg"
    create_store(store_path).close()
    server = start_server(tmp_path_factory, "deliveries", store=str(store_path), write_keys=WRITE_KEY)
    try:
        with server.client(headers={"X-API-Key": WRITE_KEY}) as http:
            missing = http.post(f"/layers/{KIND}/versions", files=parts, data={"coverage": "all"})
            assert missing.status_code == 400 and missing.json()["field"] == "name"
            assert "form field 'field': name=COLUMN" in missing.json()["fix"]
            bad = http.post(f"/layers/{KIND}/versions", files=parts, data={
                "field": ["zone_id=HXBM", "name=HXMC", "subtype=GNLX"], "coverage": "all"})
            assert bad.status_code == 400, bad.text
            problem = bad.json()
            # every row's subtype is named (the first 20, the others counted), with the form field that fixes it
            assert problem["field"] == "subtype" and problem["problems"][0]["row"] == 1
            assert problem["problems"][0]["zone_id"] == pyogrio.read_dataframe(path)["HXBM"].iloc[0]
            assert len(problem["problems"]) == 20 and problem["unlisted"] == len(frame) - 20
            assert "form field 'field': subtype=COLUMN" in problem["fix"]
            assert all("form field 'field': subtype=COLUMN" in p["fix"] for p in problem["problems"])
            good = http.post(f"/layers/{KIND}/versions", files=parts, data={
                "field": ["zone_id=HXBM", "name=HXMC", "valid_from=PZRQ"], "coverage": "all"})
            assert good.status_code == 201, good.text
            assert good.json()["feature_count"] == len(frame)
    finally:
        server.stop()
    stored = open_store(store_path).read(KIND)
    assert stored["zone_id"].tolist() == frame["HXBM"].tolist()
    assert [a["GNLX"] for a in stored["attributes"]] == frame["GNLX"].tolist()


AS_OF = "2024-01-01"
#: The monitoring delivery's columns of days: a date field, days written as text, days and times written as text,
#: days some of them with a time written as text, and a date-time field (text in a .dbf) some of it at midnight.
DAY_COLUMNS = ("发现日期", "监测时间", "核查时间", "复核时间", "入库时间")


@pytest.fixture(scope="module", params=["shp", "gpkg"])
def monitored(request, tmp_path_factory):
    """400 monitoring patches as a shapefile (GK zone 29, GBK without .cpg) or a GeoPackage, screened with
    ``ecozone screen --patches``. One value of 监测时间 is no day (2024年8月), on the patch sharing most of itself
    with a red line (so on the 移交清单); one of 核查时间 (days and times as GDAL writes a DateTime to a .dbf) is
    不详, on one of eight patches without geometry (读取失败图斑); 区划 (codes) is blank there. 复核时间 is days as
    text, every fourth with a time and every fourth at 00:00:00; 入库时间 a date-time field (in a .dbf, text as GDAL
    writes it), every third at midnight, every nineteenth blank. The input as GDAL reads it (with its shapes in
    lon/lat), the workbook and the GeoPackage written."""
    frame = monitoring(400)
    zones = open_store().snapshot(AS_OF).zones
    redline = shapely.union_all(zones[zones.kind == "ecological_redline"].geometry.values)
    inside = shapely.area(shapely.intersection(frame.geometry.values, redline)) / shapely.area(frame.geometry.values)
    listed = int(np.argmax(inside))
    assert inside[listed] > 0.05
    frame.loc[listed, "监测时间"] = "2024年8月"
    failed = [i for i in range(5, 400, 50) if i != listed]
    frame["核查时间"] = [f"{d:%Y/%m/%d} {8 + i % 10:02d}:{i % 60:02d}:00" for i, d in
                     enumerate(frame["发现日期"] + pd.Timedelta(days=3))]
    frame.loc[failed[1], "核查时间"] = "不详"
    later = frame["发现日期"] + pd.Timedelta(days=5)
    forms = ("{d:%Y-%m-%d} {h:02d}:{m:02d}:00", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日",
             "{d:%Y-%m-%d} 00:00:00")
    frame["复核时间"] = [forms[i % 4].format(d=d, h=9 + i % 8, m=i % 60) for i, d in enumerate(later)]
    stored = pd.Series([None if i % 19 == 2 else dt.datetime(d.year, d.month, d.day) if i % 3 == 0 else
                        dt.datetime(d.year, d.month, d.day, 1 + i % 23, i % 60) for i, d in enumerate(later)],
                       dtype="datetime64[ms]")
    frame["入库时间"] = stored if request.param == "gpkg" else stored.dt.strftime("%Y/%m/%d %H:%M:%S")
    frame.loc[failed, "geometry"] = None
    frame["区划"] = frame["区划"].astype("Int64")
    frame.loc[listed, "区划"] = pd.NA  # an integer field with a blank: GDAL reads it as reals, 652301.0
    folder = tmp_path_factory.mktemp(f"monitoring_{request.param}")
    path = write_monitoring(frame, folder / f"图斑.{request.param}")
    workbook, pieces = folder / "移交清单.xlsx", folder / "pieces.gpkg"
    result = runner.invoke(app, ["screen", str(path), "--patches", "-o", str(workbook), "-o", str(pieces),
                                 "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    encoding = "GBK" if request.param == "shp" else None
    given = pyogrio.read_dataframe(path, encoding=encoding)
    shapes = dict(zip(given["图斑编号"], given.geometry.to_crs("EPSG:4326").values))
    info = pyogrio.read_info(path, encoding=encoding)
    return {"given": pd.DataFrame(given.drop(columns="geometry")), "shapes": shapes, "book": load_workbook(workbook),
            "gpkg": pieces, "types": dict(zip(info["fields"], info["ogr_types"])), "format": request.param}


def _as_read(value):
    """What a cell of a column of days holds for an input value as GDAL reads it: the day (and time) it writes,
    or the text itself; None for a blank."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    for form in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(value, form)
        except ValueError:
            pass
    return value


def test_a_column_of_days_is_dates_on_every_sheet_its_odd_value_kept(monitored):
    """A column of days with one value that is no day (2024年8月, 不详) is dates on every sheet of the workbook, the
    patches listed (移交清单), not checked (未核查图斑) and not read (读取失败图斑) alike, each odd value its own text
    in its own cell, none lost: every cell as the input's value read by GDAL. Each date cell is formatted by its
    own value: with its time where it has one, a day (a date field, a day written, a date-time at midnight, from a
    date-time field too, where a day is what was most likely typed) as yyyy-mm-dd, in the same column. The
    GeoPackage keeps these text columns as the text given, the Date field (发现日期: a GeoPackage Date, a .dbf's type
    D) a Date field and the DateTime field a DateTime field, as GDAL reads the input."""
    given, book = monitored["given"], monitored["book"]
    expected = {code: {name: _as_read(row[name]) for name in DAY_COLUMNS}
                for code, (_, row) in zip(given["图斑编号"], given.iterrows())}
    remarks = dict(zip(given["图斑编号"], given["备注"]))
    seen = set()
    for title in ("移交清单", "未核查图斑", "读取失败图斑"):
        sheet = book[title]
        header = [c.value for c in sheet[1]]
        assert sheet.max_row > 1 and set(DAY_COLUMNS) <= set(header), title
        code = header.index("图斑编号")
        for row in sheet.iter_rows(min_row=2):
            patch = row[code].value
            for name in DAY_COLUMNS:
                cell, want = row[header.index(name)], expected[patch][name]
                if isinstance(want, dt.datetime):
                    assert cell.is_date and isinstance(cell.value, dt.datetime), (title, cell.coordinate, cell.value)
                    timed = want.time() != dt.time()
                    number_format = "yyyy-mm-dd hh:mm:ss" if timed else "yyyy-mm-dd"
                    assert cell.value == want and cell.number_format == number_format, (title, cell.coordinate)
                    seen.add((title, name, "time" if timed else "day"))
                else:
                    assert cell.value == want, (title, cell.coordinate)
                    assert want is None or cell.data_type == "s", (title, cell.coordinate)
                    seen.add((title, name, want))
            remark = row[header.index("备注")]
            assert remark.value == remarks[patch] and remark.data_type == "s"
    assert {(title, name, "day") for title in ("移交清单", "未核查图斑", "读取失败图斑") for name in DAY_COLUMNS
            if name != "核查时间"} <= seen
    assert {(title, name, "time") for title in ("移交清单", "未核查图斑")
            for name in ("核查时间", "复核时间", "入库时间")} <= seen
    assert {("移交清单", "监测时间", "2024年8月"), ("读取失败图斑", "核查时间", "不详")} <= seen

    # the GeoPackage: a field holds one type, so the text columns are the text given, each date field of its type
    want = monitored["types"]
    assert want["发现日期"] == "OFTDate" and want["监测时间"] == want["核查时间"] == want["复核时间"] == "OFTString"
    assert want["入库时间"] == ("OFTDateTime" if monitored["format"] == "gpkg" else "OFTString")  # not in a .dbf
    for layer in ("图斑", "图斑区域相交"):
        info = pyogrio.read_info(monitored["gpkg"], layer=layer)
        # both layers are declared polygonal (the patches not read have no geometry), as GIS programs type them
        assert info["geometry_type"] == "MultiPolygon", (layer, info["geometry_type"])
        types = dict(zip(info["fields"], info["ogr_types"]))
        assert {name: types[name] for name in DAY_COLUMNS} == {name: want[name] for name in DAY_COLUMNS}, layer
        out = pyogrio.read_dataframe(monitored["gpkg"], layer=layer, read_geometry=False)
        assert len(out)
        mine = given.set_index("图斑编号").loc[out["图斑编号"]]
        for name in DAY_COLUMNS:
            assert [None if pd.isna(v) else v for v in out[name]] == [None if pd.isna(v) else v for v in mine[name]]



def test_a_field_blank_on_every_listed_patch_keeps_its_type_in_both_layers(tmp_path):
    """发现日期 (a Date field) and 图斑面积 (a real field) blank on every patch that meets a zone: the layer of
    patch-zone pieces has them blank and still of the type the delivery gives them (a Date field, not a DateTime),
    as the layer of patches has (they became text there), GDAL reading both."""
    from gis.batch.spatial import PROTECTED_KINDS

    frame = monitoring(100, seed=22)
    zones = open_store().snapshot(AS_OF).zones
    protected = shapely.union_all(zones[zones.kind.isin(PROTECTED_KINDS)].geometry.values)
    meets = shapely.intersects(frame.geometry.values, protected)
    assert 0 < meets.sum() < len(frame)
    frame.loc[meets, "发现日期"] = None
    frame.loc[meets, "图斑面积"] = np.nan
    path = write_monitoring(frame, tmp_path / "图斑.gpkg")
    result = runner.invoke(app, ["screen", str(path), "--patches", "-o", str(tmp_path / "out.gpkg"), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    given = pyogrio.read_info(path)
    want = dict(zip(given["fields"], given["ogr_types"]))
    for layer in ("图斑", "图斑区域相交"):
        info = pyogrio.read_info(tmp_path / "out.gpkg", layer=layer)
        assert info["features"] > 0
        types = dict(zip(info["fields"], info["ogr_types"]))
        assert types["发现日期"] == want["发现日期"] == "OFTDate", layer
        assert types["图斑面积"] == want["图斑面积"] == "OFTReal", layer


def test_the_summary_sums_the_deliverys_own_numbers_once_per_patch(monitored):
    """汇总 sums the delivery's own numbers (图斑面积, 面积（亩） with blanks, 户数, and 占地面积: whole m² all of four
    digits, a measure by its name though its values look like codes) per county, per division (小计) and in all
    (合计), after ecozone's columns: a groupby of the input as GDAL reads it, each patch once however many zones it
    meets, by the county the 移交清单 gives it. Its ids and codes (图斑编号, TBBH, 区划, 年度) are not summed."""
    given, book = monitored["given"], monitored["book"]
    sheet = book["移交清单"]
    header = [c.value for c in sheet[1]]
    units = ["所在地州市/师", "所在县市区"]
    rows = pd.DataFrame(list(sheet.iter_rows(min_row=2, values_only=True)), columns=header)
    assert rows.groupby("图斑编号").size().max() > 1  # a patch meeting several zones has several rows
    place = rows.drop_duplicates("图斑编号").set_index("图斑编号")[units]
    assert len(place) == rows["图斑编号"].nunique() and place.notna().all().all()
    listed = given.join(place, on="图斑编号", how="inner")
    sums = ["图斑面积", "面积（亩）", "户数", "占地面积"]
    assert listed["面积（亩）"].isna().any() and listed["户数"].dtype.kind == listed["占地面积"].dtype.kind == "i"
    assert listed["占地面积"].astype(str).str.len().eq(4).all()  # all of one length, four digits: looks like codes
    county = listed.groupby(units).agg(图斑数=("图斑编号", "size"), **{c: (c, lambda v: v.sum(min_count=1))
                                                                   for c in sums})
    division = listed.groupby(units[0]).agg(图斑数=("图斑编号", "size"), **{c: (c, lambda v: v.sum(min_count=1))
                                                                       for c in sums})
    whole = pd.Series({"图斑数": len(listed), **{c: listed[c].sum(min_count=1) for c in sums}})
    assert len(county) >= 3 and len(division) >= 2

    sheet = book["汇总"]
    header = [c.value for c in sheet[1]]
    assert header[-len(sums):] == sums  # after ecozone's columns, in the input's order
    assert header.index("自然保护区内面积m²") < header.index("图斑面积")
    assert not {"图斑编号", "TBBH", "区划", "年度", "发现日期", "监测时间"} & set(header)
    found = []
    for row in sheet.iter_rows(min_row=2, values_only=True):
        a, b = row[0], row[1]
        expected = whole if a == "合计" else division.loc[a] if b == "小计" else county.loc[(a, b)]
        got = dict(zip(header, row))
        assert got["图斑数"] == expected["图斑数"], (a, b)
        for name in sums:
            if pd.isna(expected[name]):
                assert got[name] is None, (a, b, name)  # no value given: no total, not 0
            else:
                assert got[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-4), (a, b, name)
        assert isinstance(got["户数"], int) and isinstance(got["占地面积"], int)
        found.append((a, b))
    assert found[-1] == ("合计", None) and len(found) == len(county) + len(division) + 1


def test_a_name_saying_measure_is_summed_whatever_its_digits_and_one_saying_id_never():
    """A column named as a measure or a count is summed though its values are whole and all of one length (4 digits
    or more, which alone would make them codes); a name saying id or code wins over one saying measure; codes
    without such a name (年度, XZQDM) are still left out."""
    from gis.batch.patches import _summed

    frame = pd.DataFrame({"占地面积": [1234, 5678], "Shape_Area": [1000.0, 2000.0], "TBMJ": [2500.0, 3600.0],
                          "面积代码": [1001, 1002], "图斑编号": [10001, 10002], "年度": [2024, 2024],
                          "XZQDM": [652301, 652323], "户数": [3, 12]})
    assert _summed(frame, list(frame.columns)) == {"占地面积": None, "Shape_Area": 0, "TBMJ": 0, "户数": None}


def _m2(geom) -> float:
    """Geodesic area (WGS 84) of the polygonal parts of ``geom``, as pyproj measures them."""
    parts = [g for g in shapely.get_parts(shapely.get_parts(geom)) if g.geom_type == "Polygon"]
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0]) for g in parts)


def test_a_kind_whose_layer_does_not_cover_a_patch_is_blank_in_every_column_of_it(monitored):
    """A patch that the red-line or reserve layer does not wholly cover (the store's coverage of that layer does
    not cover the patch as GDAL reads it) has that kind unknown: its totals are blank in the GeoPackage's 图斑
    layer and on 未核查图斑, and in 汇总 every column of the kind (自然保护区核心区/缓冲区/实验区面积m² too) is
    blank for each county, 小计 and 合计 with such a patch, never 0 or the sum of the others; where every patch is
    covered, the column is the sum of the patches' areas inside, measured with pyproj on the input's shapes."""
    book, shapes = monitored["book"], monitored["shapes"]
    snapshot = open_store().snapshot(AS_OF)
    zones = snapshot.zones
    labels = {"ecological_redline": "红线内", "nature_reserve": "自然保护区内"}
    unknown = {code: {kind for kind in labels if not shapely.covers(snapshot.versions[kind].coverage, geom)}
               for code, geom in shapes.items() if geom is not None}
    inside = {kind: shapely.union_all(zones[zones.kind == kind].geometry.values) for kind in labels}
    reserves = zones[zones.kind == "nature_reserve"]
    functional = {f"自然保护区{name}面积m²": reserves[reserves.subtype == code].geometry.values
                  for code, name in (("core", "核心区"), ("buffer", "缓冲区"), ("experimental", "实验区"))}

    def expected(code: str, column: str) -> float | None:
        kind = "ecological_redline" if column == "红线内面积m²" else "nature_reserve"
        if kind in unknown[code]:
            return None
        geom = shapes[code]
        if column in functional:
            return sum(_m2(shapely.intersection(geom, zone)) for zone in functional[column])
        return _m2(shapely.intersection(geom, inside[kind]))

    # each patch: the GeoPackage's 图斑 layer and the 未核查图斑 sheet
    patches = pyogrio.read_dataframe(monitored["gpkg"], layer="图斑", read_geometry=False)
    checked = 0
    for code, red, red_share, reserve, reserve_share in zip(
            patches["图斑编号"], patches["红线内面积m²"], patches["红线内比例%"], patches["自然保护区内面积m²"],
            patches["自然保护区内比例%"]):
        if code not in unknown:
            continue  # not read
        for column, area, share in (("红线内面积m²", red, red_share), ("自然保护区内面积m²", reserve, reserve_share)):
            want = expected(code, column)
            if want is None:
                assert pd.isna(area) and pd.isna(share), (code, column, area)
            else:
                assert area == pytest.approx(want, rel=1e-6, abs=0.01) and not pd.isna(share), (code, column)
                checked += 1
    assert checked and {k for kinds in unknown.values() for k in kinds} == set(labels)
    sheet = book["未核查图斑"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2, values_only=True):
        got = dict(zip(header, row))
        assert unknown[got["图斑编号"]], got["图斑编号"]
        for kind, label in labels.items():
            if f"{label}面积m²" in got:
                assert (got[f"{label}面积m²"] is None) == (kind in unknown[got["图斑编号"]]), (got["图斑编号"], kind)

    # 汇总: the patches of the 移交清单 per county, 小计 and 合计
    sheet = book["移交清单"]
    header = [c.value for c in sheet[1]]
    listed = pd.DataFrame(list(sheet.iter_rows(min_row=2, values_only=True)), columns=header)
    listed = listed.drop_duplicates("图斑编号")[["所在地州市/师", "所在县市区", "图斑编号"]]
    sheet = book["汇总"]
    header = [c.value for c in sheet[1]]
    columns = [c for c in header if c == "红线内面积m²" or (c.startswith("自然保护区") and c.endswith("面积m²"))]
    assert set(functional) <= set(columns)
    blank = met = 0
    for row in sheet.iter_rows(min_row=2, values_only=True):
        a, b = row[0], row[1]
        group = listed if a == "合计" else listed[listed["所在地州市/师"] == a] if b == "小计" else \
            listed[(listed["所在地州市/师"] == a) & (listed["所在县市区"] == b)]
        got = dict(zip(header, row))
        assert got["图斑数"] == len(group), (a, b)
        for column in columns:
            wants = [expected(code, column) for code in group["图斑编号"]]
            if None in wants:
                assert got[column] is None, (a, b, column, got[column])
                blank += 1
                met += column in functional and any(w for w in wants if w is not None)
            else:
                assert got[column] == pytest.approx(sum(wants), rel=1e-6, abs=0.05), (a, b, column)
    # blanks where a piece of the kind was met beside a patch the layer does not cover (米东区's 实验区)
    assert blank and met
    # the other protected kinds (natural parks, drinking-water zones) have no total of their own, but their columns
    # are blank alike for a row with a patch beyond their layer's coverage
    other_blank = 0
    for kind in ("natural_park", "drinking_water_zone"):
        label, version = KINDS[kind].label_zh, snapshot.versions.get(kind)
        beyond = {code for code, geom in shapes.items() if geom is not None and (
            version is None or (version.coverage is not None and not shapely.covers(version.coverage, geom)))}
        for row in sheet.iter_rows(min_row=2, values_only=True):
            a, b = row[0], row[1]
            group = listed if a == "合计" else listed[listed["所在地州市/师"] == a] if b == "小计" else \
                listed[(listed["所在地州市/师"] == a) & (listed["所在县市区"] == b)]
            got = dict(zip(header, row))
            for column in [c for c in header if c.startswith(label) and c.endswith("面积m²")]:
                if set(group["图斑编号"]) & beyond:
                    assert got[column] is None, (a, b, column, got[column])
                    other_blank += 1
                else:
                    assert got[column] is not None, (a, b, column)
    assert other_blank
