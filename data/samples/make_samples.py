"""Build ``data/samples/permits.xlsx`` and ``permits_gbk.csv``: a permit list as officers keep it, for the README.

Run ``python -m data.samples.make_samples``. Sites are placed in zones of the embedded dataset (taken from
it, so they stay inside when the dataset is rebuilt), with a title row above the header, a second sheet,
a parcel given as 拐点坐标 (WKT), DMS text, and bad rows (no coordinate, latitude beyond 90°, text in a
number column, a site outside Xinjiang, an unknown 建设性质) that the screening must mark and keep.
"""

from __future__ import annotations

import csv
from pathlib import Path

import shapely
from openpyxl import Workbook

from gis.store import open_store

HERE = Path(__file__).resolve().parent
HEADER = ["序号", "项目名称", "行业", "建设性质", "经度", "纬度", "拐点坐标", "锅炉规模(t/h)", "燃料",
          "新增燃煤量(吨/年)", "生产废水", "备注"]


def _inside(zones, kind: str, subtype: str | None = None) -> tuple[float, float, str]:
    chosen = zones[(zones.kind == kind) & ((zones.subtype == subtype) if subtype else True)].iloc[0]
    point = chosen.geometry.representative_point()
    return round(point.x, 6), round(point.y, 6), chosen["name"]


def rows() -> list[list]:
    """The sample register's rows: sites inside, near and away from zones of the embedded dataset."""
    zones = open_store().snapshot("2024-01-01").zones
    red = _inside(zones, "ecological_redline")
    water = _inside(zones, "drinking_water_zone", "level_1")
    park = _inside(zones, "industrial_park")
    built = _inside(zones, "built_up_area")
    parcel = shapely.Point(park[0], park[1]).buffer(0.004, quad_segs=2)
    return [
        [1, "红线内光伏项目", "光伏", "新建", red[0], red[1], None, None, None, None, "否", f"位于{red[2]}"],
        [2, "水源地旁印染厂", "印染", "新建", water[0], water[1], None, None, None, None, "是", f"位于{water[2]}"],
        [3, "园区燃煤锅炉", "化工", "新建", park[0], park[1], None, 20, "燃煤", 5000, "是", f"位于{park[2]}"],
        [4, "建成区供热锅炉", "热力", "新建", built[0], built[1], None, 10, "煤", 3000, "否", f"位于{built[2]}"],
        [5, "园区地块（拐点）", "化工", "扩建", None, None, parcel.wkt, None, None, None, "是", "地块以 WKT 给出"],
        [6, "度分秒坐标", "水泥", "现有", "87°36′00″", "43°48′00″", None, None, None, None, "否", "DMS"],
        [7, "缺坐标", "化工", "新建", None, None, None, None, None, None, "否", "坏行：无坐标"],
        [8, "纬度超限", "化工", "新建", 87.6, 143.8, None, None, None, None, "否", "坏行：纬度 > 90"],
        [9, "文字坐标", "化工", "新建", "八十七度", 43.8, None, None, None, None, "否", "坏行：经度不是数"],
        [10, "北京项目", "化工", "新建", 116.4, 39.9, None, None, None, None, "否", "坏行：不在新疆"],
        [11, "性质不明", "化工", "调研", 87.6, 43.8, None, None, None, None, "否", "坏行：建设性质无法识别"],
        [12, "普通项目", "农副食品加工", "新建", 84.9, 44.3, None, None, None, None, "否", ""],
    ]


def main(folder: Path = HERE) -> Path:
    """Write the two sample files into ``folder`` (default: beside this script); returns the folder."""
    data = rows()
    book = Workbook()
    sheet = book.active
    sheet.title = "许可清单"
    sheet.append(["2024年排污许可项目清单（示例，数据为虚构）"])
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    notes = book.create_sheet("说明")
    notes.append(["本表由 data/samples/make_samples.py 生成；坐标取自内置数据集的示意区域。"])
    book.save(folder / "permits.xlsx")
    with open(folder / "permits_gbk.csv", "w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([["" if v is None else v for v in row] for row in data])
    return folder


if __name__ == "__main__":
    main()
