"""``ecozone check``: a 拐点 TXT file and a coordinate pair, in text and JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from tests.sites_support import PLACES, gk_plot, max_distance_m, square, txt_file

runner = CliRunner()
RING = square(*PLACES["Urumqi"])


def test_check_txt_json(tmp_path):
    path = txt_file(tmp_path / "项目.txt", [gk_plot(RING, 4517)], header={"项目名称": "某热电项目"})
    result = runner.invoke(app, ["check", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    site = json.loads(result.output)["site"]
    assert site["name"] == "某热电项目"
    assert site["source_crs"]["epsg"] == 4517
    assert max_distance_m(site["geometry"]["coordinates"][0], RING) < 0.01
    assert [c["step"] for c in site["conversions"]] == ["decode", "zone_prefix", "proj_transform"]
    assert site["area_m2"] > 0


def test_check_txt_text_is_chinese_first(tmp_path):
    path = txt_file(tmp_path / "site.txt", [gk_plot(RING, 4517)[:-1]])
    result = runner.invoke(app, ["check", str(path), "--site-only"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("项目地块：")
    assert "公顷" in result.output and "坐标来源" in result.output and "EPSG:4517" in result.output
    assert "警告（第 " in result.output and "not closed" in result.output


def test_check_coordinate_pair_json():
    result = runner.invoke(app, ["check", "43.8256, 87.6168", "--format", "json"])
    assert result.exit_code == 0, result.output
    site = json.loads(result.output)["site"]
    assert site["geometry"] == {"type": "Point", "coordinates": [87.6168, 43.8256]}
    assert site["notices"][0]["code"] == "order_inferred"


def test_check_gcj02_pair():
    result = runner.invoke(app, ["check", "87.6168,43.8256", "--datum", "gcj02", "--format", "json"])
    site = json.loads(result.output)["site"]
    assert site["datum"] == "gcj02" and site["conversions"][-1]["step"] == "gcj02_to_wgs84"


def test_check_swap_and_zone_options(tmp_path):
    plot = [(1, y, x) for _, x, y in gk_plot(RING, 4538)]
    path = txt_file(tmp_path / "sw.txt", [plot])
    result = runner.invoke(app, ["check", str(path), "--swap-xy", "--gk-zone", "29", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert max_distance_m(json.loads(result.output)["site"]["geometry"]["coordinates"][0], RING) < 0.01


def test_full_check_ends_with_the_site_as_read(tmp_path):
    path = txt_file(tmp_path / "site.txt", [gk_plot(RING, 4517)])
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("结论 / verdict：")
    assert "\n项目地块：" in result.output and "EPSG:4517" in result.output


def test_check_bad_input_exits_2():
    result = runner.invoke(app, ["check", "548285, 4851775"])
    assert result.exit_code == 2
    assert "--gk-zone" in result.output
    result = runner.invoke(app, ["check", "548285, 4851775", "--format", "json"])
    assert result.exit_code == 2
    assert json.loads(result.output)["error"]["type"] == "CRSError"
