"""国土 TXT 拐点 files ([属性描述] header, [地块坐标] plots), the exchange format of land surveys.

A plot starts with a line ending in ``@`` (界址点数, 地块面积 in 公顷, 地块编号, 地块名称, 面/线/点,
图幅号, 地块用途, 地类编码, ...); its points follow as ``点号,圈号,X,Y`` with X northing and Y easting
(often with the zone number in front). 圈号 1 is the outer ring, 2 and up holes.
"""

from __future__ import annotations

import math
import re

from gis.errors import FieldError, FormatError, Notice
from gis.sites import gk
from gis.sites.limits import MAX_FEATURES, VertexBudget, too_many
from gis.sites.model import GKHint, RawPlot, RawSite, decoded, parts_from_points

__all__ = ["is_txt", "read_txt"]

_PLOT_FIELDS = ("界址点数", "地块面积", "地块编号", "地块名称", "图形属性", "图幅号", "地块用途", "地类编码")
_KINDS = {"面": "polygon", "线": "line", "点": "point"}
#: Largest count or number (界址点数, 圈号, 带号) taken as a whole number.
_LARGEST_COUNT = 10**9


def is_txt(text: str) -> bool:
    """Whether a text is a 国土 TXT file (has a [地块坐标] section)."""
    return "[地块坐标]" in text


def read_txt(text: str, *, source: str, encoding: str) -> RawSite:
    """Parse a 国土 TXT file already decoded to ``text``."""
    header: dict[str, str] = {}
    plots: list[RawPlot] = []
    points: list[list[tuple[int, float, float, int]]] = []  # per plot: (圈号, X, Y, line)
    section = None
    notices: list[Notice] = []
    counts: list[tuple[int, int, int]] = []  # (declared points, header line, index of plot)
    budget = VertexBudget(source=source)
    text = re.sub(r"\x1a+\s*\Z", "", text)  # a DOS end-of-file mark (Ctrl-Z) ends the file, as old editors write it
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        if re.fullmatch(r"\[.+\]", line):
            section = line[1:-1].strip()
            continue
        if section == "属性描述":
            key, _, value = line.partition("=")
            header[key.strip()] = value.strip()
        elif section == "地块坐标":
            if line.rstrip(",").endswith("@"):
                if len(plots) >= MAX_FEATURES:
                    raise too_many("地块数", "plots", len(plots) + 1, MAX_FEATURES, source=source, row=number,
                                   field="地块坐标", fix="分批检查，每次一个项目 / check one project at a time")
                plots.append(_plot_header(line, number, source, counts, len(plots)))
                points.append([])
            else:
                if not plots:
                    raise FormatError("界址点行出现在地块行（以 @ 结尾）之前 / a point line comes before any plot line "
                                      "(ending in @)", source=source,
                                      row=number, field="地块坐标", value=line, fix="每个地块以其属性行（行末为 ,@）开头 / start each plot with its attribute line "
                                      "ending in ,@")
                budget.take(1)
                points[-1].append(_point(line, number, source))
    if not plots:
        raise FormatError("坐标文件的 [地块坐标] 中没有地块 / no plot in [地块坐标]", source=source, field="地块坐标",
                          fix="加上地块行（以 @ 结尾）及其界址点 / add the plot line (ending in @) and its points")
    for plot, plot_points in zip(plots, points):
        if not plot_points:
            raise FormatError("该地块没有界址点 / the plot has no points", source=source, row=plot.row, field="地块坐标",
                              value=plot.name, fix="在地块行之后列出其界址点（点号,圈号,X,Y） / add the plot's points "
                                                   "(点号,圈号,X,Y) after its line")
        kind = _KINDS.get(plot.attributes.get("图形属性", "面"), "polygon")
        plot.parts = parts_from_points([(ring, y, x, line) for ring, x, y, line in plot_points], kind)
    for declared, row, index in counts:
        actual = sum(len(r.coords) for p in plots[index].parts for r in p.rings)
        if declared and declared != actual:
            notices.append(Notice(
                "point_count_mismatch", f"地块行写明 {declared} 个界址点，其后实有 {actual} 个 / the plot line "
                f"declares {declared} points, {actual} follow", source=source, row=row, field="界址点数", value=declared,
                fix="检查是否缺少或多出界址点行 / check for missing or extra point lines",
            ))
    hint = GKHint(
        datum=gk.datum_from_text(header.get("坐标系", "")),
        width=_int(header.get("几度分带"), source, "几度分带"),
        zone=_int(header.get("带号"), source, "带号"),
        origin="TXT header [属性描述]",
    )
    params = header.get("转换参数", "")
    if params and any(_float(p) for p in params.split(",")):
        notices.append(Notice(
            "transformation_parameters_ignored", "给出了转换参数但未采用：其约定未说明 / 转换参数 are given but not applied: "
            "their convention is not stated",
            source=source, field="转换参数", value=params,
            fix="先用这些参数换算坐标，或用 «crs» 给出带 +towgs84 的 PROJ 定义 / convert the coordinates with these parameters "
                "first, or give with «crs» a PROJ string with +towgs84",
        ))
    attributes = dict(header)
    if header.get("项目名称"):
        attributes["name"] = header["项目名称"]
    return RawSite(
        source=source, plots=plots, order="declared", fields=("Y", "X"), gk=hint, attributes=attributes,
        notices=notices, conversions=[decoded(encoding)],
    )


def _plot_header(line: str, number: int, source: str, counts: list, index: int) -> RawPlot:
    values = [v.strip() for v in line.rstrip(",").removesuffix("@").split(",")]
    values = values[:-1] if values and values[-1] == "" else values
    attributes = {(_PLOT_FIELDS[i] if i < len(_PLOT_FIELDS) else f"字段{i + 1}"): v for i, v in enumerate(values) if v}
    declared = _int(attributes.get("界址点数"), source, "界址点数", number)
    counts.append((declared or 0, number, index))
    area = _float(attributes.get("地块面积"))
    return RawPlot(
        parts=[], name=attributes.get("地块名称") or attributes.get("地块编号"), row=number,
        attributes=attributes, declared_area_m2=area * 10_000 if area else None,
    )


def _point(line: str, number: int, source: str) -> tuple[int, float, float, int]:
    values = [v.strip() for v in re.split(r"[,，]", line)]
    if len(values) < 4:
        raise FormatError("界址点行应写作 点号,圈号,X,Y / a point line needs 点号,圈号,X,Y", source=source, row=number,
                          field="地块坐标", value=line,
                          fix="每个界址点写作如 J1,1,4851775.12,29548285.34 / write each point as e.g. "
                              "J1,1,4851775.12,29548285.34")
    ring = _int(values[1], source, "圈号", number)
    return ring, _number(values[2], source, "X", number), _number(values[3], source, "Y", number), number


def _number(text: str, source: str, field: str, row: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise FieldError("不是数字 / not a number", source=source, row=row, field=field, value=text,
                         fix="以米为单位、带小数点写出坐标，如 4851775.12 / write the coordinate in metres with a decimal "
                             "point, e.g. 4851775.12") from None


def _int(text: str | None, source: str, field: str, row: int | None = None) -> int | None:
    if text is None or text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        raise FieldError("不是整数 / not a whole number", source=source, row=row, field=field, value=text,
                         fix="写作整数 / write a whole number") from None
    if not math.isfinite(number) or abs(number) > _LARGEST_COUNT:
        raise FieldError(f"不是合理的整数（NaN、无穷大或大于 {_LARGEST_COUNT:,}） / not a plausible whole number",
                         source=source, row=row, field=field, value=text, fix="写作整数 / write a whole number")
    return int(number)


def _float(text: str | None) -> float | None:
    """A number where a wrong one only costs a notice (地块面积, 转换参数); non-finite ones count as absent."""
    try:
        number = float(text) if text else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
