"""The change report as files: an Excel workbook whose first sheet is a Chinese summary, a GeoPackage with the
difference polygons (layers ``added`` and ``removed``) and the tables, or JSON. The map page is in ``maps``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
from openpyxl import Workbook
from openpyxl.styles import Font

from gis.errors import FormatError
from gis.layer_diff import LayerDiff, ZoneChange

__all__ = ["DIFF_SUFFIXES", "summary_rows", "write_diff"]

#: Files ``write_diff`` writes, by suffix.
DIFF_SUFFIXES = (".xlsx", ".gpkg", ".json")

_ZONE_HEADERS = {"zone_id": "区域编号", "name": "名称", "change_zh": "变化", "fields_zh": "变化字段",
                 "added_m2": "新增面积(m²)", "removed_m2": "减少面积(m²)", "area_before_m2": "原面积(m²)",
                 "area_after_m2": "新面积(m²)", "jurisdiction": "所属辖区"}
_UNIT_HEADERS = {"level_label": "层级", "code": "代码", "name": "名称", "division": "师", "land_m2": "土地面积(m²)",
                 "added_m2": "新增(m²)", "removed_m2": "减少(m²)", "zone_before_m2": "变化前面积(m²)",
                 "zone_after_m2": "变化后面积(m²)", "share_before_pct": "变化前占比(%)", "share_after_pct": "变化后占比(%)"}
_POLYGON_HEADERS = {"change_zh": "变化", "zone_ids": "区域编号", "zone_names": "区域名称", "unit_code": "辖区代码",
                    "unit_name": "县级辖区", "prefecture": "地州市", "division": "师", "area_m2": "面积(m²)"}
_CHANGE_ZH = {"added": "新增", "removed": "删除", "changed": "变更"}


def summary_rows(diff: LayerDiff) -> list[tuple[str, object]]:
    """The summary an officer reads first, as (item, value) rows: warnings, then counts, areas, the 兵团 share."""
    rows: list[tuple[str, object]] = [(f"⚠ 提示 {i}", text) for i, text in enumerate(diff.warnings, 1)]
    before, after = diff.from_version, diff.to_version
    rows += [
        ("图层", f"{diff.label}（{diff.kind}）"),
        ("比较版本", f"第 {before.version} 版（{before.effective_from} 起）→ 第 {after.version} 版（{after.effective_from} 起）"),
        ("来源", f"{before.source} → {after.source}"),
        ("要素数", f"{before.feature_count} → {after.feature_count}"),
        ("新增区域（个）", len(diff.added)),
        ("删除区域（个）", len(diff.removed)),
        ("变更区域（个）", len(diff.changed)),
        ("未变区域（个）", diff.unchanged),
        ("新增面积（km²）", round(diff.added_m2 / 1e6, 6)),
        ("减少面积（km²）", round(diff.removed_m2 / 1e6, 6)),
        ("净变化（km²）", round(diff.net_m2 / 1e6, 6)),
        ("并集面积 变化前（km²）", round(diff.union_before_m2 / 1e6, 6)),
        ("并集面积 变化后（km²）", round(diff.union_after_m2 / 1e6, 6)),
    ]
    if diff.bingtuan is not None:
        share = diff.bingtuan
        rows += [("兵团占比 变化前（%）", round(share.share_before_pct, 6)),
                 ("兵团占比 变化后（%）", round(share.share_after_pct, 6)),
                 ("兵团占比变化（百分点）", round(share.change_pct_points, 6)),
                 ("兵团占比是否下降", "是" if share.falls else "否")]
        if share.floor_pct is not None:
            rows.append(("兵团红线占比下限（%）", f"{share.floor_pct}（不减少；{diff.basis.floor_source}）"))
    rows += [
        ("面积算法", "椭球面积（WGS 84 椭球，pyproj Geod），并集：重叠部分只计一次"),
        ("行政区划图层", f"第 {diff.basis.admin_version} 版（{diff.basis.admin_effective_from} 起）"),
        ("兵团范围", diff.basis.note_zh),
        ("代表兵团的单元", "、".join(diff.basis.bingtuan_units) or "（无兵团城市单元）"),
        ("内容摘要 变化前", before.content_sha256),
        ("内容摘要 变化后", after.content_sha256),
    ]
    if diff.illustrative:
        rows.append(("示意数据", "部分区域为示意边界（无公开官方边界，位置近似），面积与占比仅供演示"))
    return rows


def _zone_frame(diff: LayerDiff) -> pd.DataFrame:
    frame = pd.DataFrame([z.model_dump() for z in diff.zones], columns=list(ZoneChange.model_fields))
    frame["change_zh"] = frame["change"].map(_CHANGE_ZH)
    frame["fields_zh"] = frame["fields"].map("、".join)
    return frame


def _unit_frame(diff: LayerDiff) -> pd.DataFrame:
    return pd.DataFrame([u.model_dump() for u in diff.by_jurisdiction], columns=list(_UNIT_HEADERS))


def _sheet(workbook: Workbook, title: str, frame: pd.DataFrame, headers: dict[str, str]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(list(headers.values()))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in frame[list(headers)].itertuples(index=False, name=None):
        sheet.append([None if isinstance(v, float) and pd.isna(v) else v for v in row])
    sheet.freeze_panes = "A2"


def _write_xlsx(diff: LayerDiff, path: Path) -> None:
    workbook = Workbook()
    summary = workbook.active
    summary.title = "摘要"
    summary.append([f"图层变化报告：{diff.label} 第 {diff.from_version.version} 版 → 第 {diff.to_version.version} 版"])
    summary["A1"].font = Font(bold=True, size=14)
    for item, value in summary_rows(diff):
        summary.append([item, value])
        if item.startswith("⚠"):
            summary.cell(summary.max_row, 1).font = summary.cell(summary.max_row, 2).font = Font(bold=True,
                                                                                                color="C00000")
    summary.column_dimensions["A"].width = 26
    summary.column_dimensions["B"].width = 100
    _sheet(workbook, "逐区变化", _zone_frame(diff), _ZONE_HEADERS)
    _sheet(workbook, "分辖区统计", _unit_frame(diff), _UNIT_HEADERS)
    _sheet(workbook, "变化图斑", diff.polygons.drop(columns="geometry"), _POLYGON_HEADERS)
    workbook.save(path)


def _write_gpkg(diff: LayerDiff, path: Path) -> None:
    polygons = diff.polygons
    for change in ("added", "removed"):
        pyogrio.write_dataframe(polygons[polygons["change"] == change], path, layer=change, driver="GPKG",
                                geometry_type="MultiPolygon", promote_to_multi=True, append=path.exists())
    zones = _zone_frame(diff).drop(columns=["fields", "change_zh"]).rename(columns={"fields_zh": "fields"})
    pyogrio.write_dataframe(zones, path, layer="zone_changes", driver="GPKG",
                            append=True)
    pyogrio.write_dataframe(_unit_frame(diff), path, layer="jurisdictions", driver="GPKG", append=True)
    summary = pd.DataFrame([(item, str(value)) for item, value in summary_rows(diff)], columns=["item", "value"])
    pyogrio.write_dataframe(summary, path, layer="summary", driver="GPKG", append=True)


def write_diff(diff: LayerDiff, path: str | Path) -> Path:
    """Write the change report to ``path`` by its suffix (``DIFF_SUFFIXES``); an existing file is replaced."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DIFF_SUFFIXES:
        raise FormatError(f"变化报告不能写成 {suffix or '无后缀'} 文件 / a change report cannot be written as "
                          f"{suffix or 'a file without a suffix'}", source=str(path), value=suffix,
                          fix=f"用 {'、'.join((*DIFF_SUFFIXES, '.html'))} 之一 / use one of "
                              + ", ".join((*DIFF_SUFFIXES, ".html")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    if suffix == ".xlsx":
        _write_xlsx(diff, path)
    elif suffix == ".gpkg":
        _write_gpkg(diff, path)
    else:
        path.write_text(json.dumps(diff.model_dump(mode="json"), ensure_ascii=False, indent=2), encoding="utf-8")
    return path
