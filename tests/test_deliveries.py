"""Importing a delivery as a natural-resources department hands it over: a few thousand red-line patches of real
shape in Gauss-Krüger zone 29, a GBK .dbf without .cpg, columns 编号 名称 类型 面积 行政区 批准日期 where 类型 is the
ecological function. The plain command imports it; --field maps what it cannot find; every error names the
option that fixes it, and every notice keeps its level and names its feature."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from typer.testing import CliRunner

from api.cli import app
from gis.store import create_store, open_store
from tests.api_support import WRITE_KEY, start_server
from tests.delivery_samples import delivery, write_delivery

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
            assert problem["field"] == "subtype" and problem["row"] == "1 (HX-0001)"
            assert "form field 'field': subtype=COLUMN" in problem["fix"]
            good = http.post(f"/layers/{KIND}/versions", files=parts, data={
                "field": ["zone_id=HXBM", "name=HXMC", "valid_from=PZRQ"], "coverage": "all"})
            assert good.status_code == 201, good.text
            assert good.json()["feature_count"] == len(frame)
    finally:
        server.stop()
    stored = open_store(store_path).read(KIND)
    assert stored["zone_id"].tolist() == frame["HXBM"].tolist()
    assert [a["GNLX"] for a in stored["attributes"]] == frame["GNLX"].tolist()
