"""Validation of zone features before they enter a store.

A layer is accepted only when it has a CRS, every kind is known, the required fields and attributes are
present, and every geometry is usable. Invalid geometries are repaired with ``shapely.make_valid`` and each
repair is reported (what was wrong, the area before and after); nothing changes silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import STORE_CRS, crs_label, geodesic_area_m2
from gis.errors import CRSError, EcozoneError, FieldError, GeometryError, Notice, several
from gis.geometry import make_valid_keeping_type
from gis.kinds import GEOMETRY_SOURCES, ZONE_FIELDS, get_kind

__all__ = ["OPEN_END", "written_day", "validate_zones", "check_zones", "IMPORT_FIX", "empty_zones", "zone_frame", "attributes_json", "feature_digests", "DIGEST_FIELDS",
           "row_label", "row_label_zh", "row_parts", "outside_coverage"]

_POLYGONAL = {"Polygon", "MultiPolygon"}
_PUNCTUAL = {"Point", "MultiPoint"}


def zone_frame(records: list[dict], geometries: list) -> gpd.GeoDataFrame:
    """Zone table from row mappings: plain object columns (None for missing, never NaN), store CRS."""
    columns = {name: pd.Series([r.get(name) for r in records], dtype=object) for name in ZONE_FIELDS}
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(geometries, crs=STORE_CRS))


def empty_zones() -> gpd.GeoDataFrame:
    """An empty zone table with the common columns, in the store CRS."""
    return zone_frame([], [])


def attributes_json(value: Any) -> str:
    """Canonical JSON text of an attributes mapping (sorted keys, Chinese kept readable)."""
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True)


#: What an open end of a zone's validity (valid_to empty) is compared as: after every ISO day, 9999-12-31 too.
OPEN_END = "9999-99-99"

#: The fields a feature's fields digest covers: all but its kind (features are compared within one kind).
DIGEST_FIELDS = tuple(name for name in ZONE_FIELDS if name != "kind")


def feature_digests(zones: gpd.GeoDataFrame) -> tuple[list[bytes], list[bytes]]:
    """Per feature: a digest of its geometry (WKB) and one of its other fields (``kind`` aside).

    Two features of one kind with both digests equal are the same feature: a new layer version shares it with
    the versions before, and a change report passes over it."""
    geometry = [hashlib.blake2b(wkb, digest_size=16).digest() for wkb in shapely.to_wkb(zones.geometry.values)]
    columns = [zones[name].tolist() for name in DIGEST_FIELDS]  # lists: to_dict("records") costs seconds
    fields = [hashlib.blake2b(_fields_text(values).encode(), digest_size=16).digest() for values in zip(*columns)]
    return geometry, fields


def _fields_text(values: tuple) -> str:
    return json.dumps([attributes_json(v) if name == "attributes" else v for name, v in zip(DIGEST_FIELDS, values)],
                      ensure_ascii=False, default=str)


def outside_coverage(zones: gpd.GeoDataFrame, coverage: shapely.Geometry | None, source: str | None) -> list[Notice]:
    """A warning naming the features of a new version that meet no part of its coverage (by default every
    administrative unit of the store): features a wrong CRS or zone put elsewhere, which no site would meet."""
    if coverage is None or zones.empty:
        return []
    shapely.prepare(coverage)
    outside = np.flatnonzero(~shapely.intersects(coverage, zones.geometry.values))
    if not len(outside):
        return []
    shown = "、".join(row_label_zh(row_label(i, zones["zone_id"].iloc[i])) for i in outside[:10])
    more = f" 等 {len(outside)} 个" if len(outside) > 10 else ""
    return [Notice(
        code="outside_coverage", level="warning", source=source, field="geometry", value=len(outside),
        message=f"{shown}{more}要素不在覆盖范围内（与库中的行政单元都不相交） / {len(outside)} of {len(zones)} features "
                "lie outside the layer's coverage (they meet no administrative unit of the store)",
        fix="检查坐标系和带号，或用 «coverage» 给出图层的范围 / check the CRS and the zone number, or give the "
            "layer's extent as «coverage»")]


def row_label(position: int, zone_id: Any) -> str:
    """How a row is named in messages: its 1-based position, with its zone id when it has one."""
    return f"{position + 1} ({zone_id})" if isinstance(zone_id, str) and zone_id else str(position + 1)


def row_label_zh(row: Any) -> str:
    """A row named by ``validate_zones`` (``12 (HX-0012)``) or by a reader (``12``), as officers read it:
    第 12 行（编号 HX-0012）."""
    number, zone_id = row_parts(row)
    if number is None:
        return f"第 {row} 行"
    return f"第 {number} 行" + (f"（编号 {zone_id}）" if zone_id else "")


_ROW_LABEL = re.compile(r"^(\d+)(?: \((.*)\))?$", re.DOTALL)


def row_parts(row: Any) -> tuple[int | None, str | None]:
    """A row named as ``row_label`` names it, as (its number, its zone id): what a program reading an error
    wants apart. (None, None) for a row named otherwise."""
    if isinstance(row, int) and not isinstance(row, bool):
        return row, None
    found = _ROW_LABEL.match(str(row))
    return (int(found[1]), found[2] or None) if found else (None, None)


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\.0+)?$")


def written_day(value: Any) -> str | None:
    """An ISO date from a date cell or text as officers write it (2018-06-30, 2018/6/30, 2018.6.30, 2018年6月30日,
    20180630); None for a blank; ValueError for anything else."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return None
    found = _DATE.match(text) or _COMPACT_DATE.match(text)
    if found is None:
        raise ValueError(text)
    return dt.date(*map(int, found.groups())).isoformat()


def _check_date(value: Any, *, source: str | None, row: str, field: str) -> str | None:
    if _is_missing(value) or value is pd.NaT:
        return None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.date().isoformat() if isinstance(value, (dt.datetime, pd.Timestamp)) else value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise FieldError(
            "日期应写作 YYYY-MM-DD / a date must be written YYYY-MM-DD", source=source, row=row, field=field,
            value=value, fix="日期写作如 2021-12-03，或留空 / write the date as e.g. 2021-12-03, or leave it empty",
        ) from None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_subtype(spec, subtype: Any, *, source: str | None, row: str) -> str | None:
    subtype = None if _is_missing(subtype) else subtype
    if subtype is None and spec.subtype_required:
        raise FieldError(
            f"图层类型 {spec.name} 需要亚类 / kind '{spec.name}' needs a subtype", source=source, row=row,
            field="subtype", fix="把 subtype 设为以下之一 / set subtype to one of: " + ", ".join(spec.subtypes),
        )
    if subtype is not None and subtype not in spec.subtypes:
        raise FieldError(
            f"「{subtype}」不是图层类型 {spec.name} 的亚类 / '{subtype}' is not a subtype of kind '{spec.name}'",
            source=source, row=row, field="subtype", value=subtype,
            fix="使用以下之一 / use one of: " + ", ".join(spec.subtypes) if spec.subtypes
            else f"把 subtype 留空：图层类型 {spec.name} 没有亚类 / leave subtype empty: kind '{spec.name}' has none",
        )
    return subtype


def _check_attributes(spec, attrs: Any, *, source: str | None, row: str) -> dict:
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs)
        except json.JSONDecodeError as exc:
            raise FieldError(
                f"属性不是有效的 JSON / attributes are not valid JSON ({exc.msg})", source=source, row=row,
                field="attributes", value=attrs,
                fix="把属性写成 JSON 对象 / write the attributes as a JSON object",
            ) from None
    attrs = {} if _is_missing(attrs) else attrs
    if not isinstance(attrs, dict):
        raise FieldError(
            "属性必须是键值对（映射） / attributes must be a mapping", source=source, row=row, field="attributes",
            value=attrs, fix="把属性写成 JSON 对象 / write the attributes as a JSON object",
        )
    try:
        attributes_json(attrs)
    except (TypeError, ValueError) as exc:
        raise FieldError(
            f"属性无法保存为 JSON / attributes cannot be stored as JSON ({exc})", source=source, row=row,
            field="attributes",
            fix="只使用文字、数字、布尔值、列表和映射 / use only text, numbers, booleans, lists and mappings",
        ) from None
    return attrs


def _lacking(spec, name: str, *, source: str | None, row: str | None) -> FieldError:
    """A required attribute missing from a feature (``row``), or from every feature (no ``row``: no such column)."""
    fix = (f"在文件中加一列「{name}」（保存在要素的属性中） / add a column '{name}' to the file (it is kept in the "
           "feature's attributes)")
    if row is None:
        return FieldError(f"文件没有「{name}」列：图层类型 {spec.name} 的每个要素都需要属性「{name}」 / the file has no "
                          f"column '{name}': every feature of kind '{spec.name}' needs the attribute '{name}'",
                          source=source, field=name, fix=fix)
    return FieldError(f"图层类型 {spec.name} 需要属性「{name}」 / kind '{spec.name}' needs the attribute '{name}'",
                      source=source, row=row, field=name, fix=fix)


def _repair(geom: shapely.Geometry, *, source: str | None, row: str) -> tuple[shapely.Geometry, Notice]:
    fixed, reason = make_valid_keeping_type(geom)
    before, after = geodesic_area_m2(geom), geodesic_area_m2(fixed)
    if fixed.is_empty:
        raise GeometryError(
            f"几何无效（{reason}），修复后不剩任何面 / the geometry is invalid ({reason}) and nothing polygonal is left "
            "after repair", source=source, row=row, field="geometry",
            fix="重画该要素，检查是否有塌缩或面积为零的环 / redraw this feature; check for a collapsed or zero-area ring",
        )
    notice = Notice(
        code="geometry_repaired",
        message=(
            f"无效几何已修复（{reason}）；面积修复前 {before:,.1f} m²、修复后 {after:,.1f} m² / invalid geometry "
            f"repaired ({reason}); area {before:,.1f} m² before, {after:,.1f} m² after, "
            f"type {geom.geom_type} -> {fixed.geom_type}"
        ),
        source=source, row=row, field="geometry",
        fix="检查修复后的轮廓；如修复结果不是原意，请改正源文件 / check the repaired outline; correct the source "
            "file if the repair is not what was meant",
    )
    return fixed, notice


#: The fix of an import refused for several problems.
IMPORT_FIX = ("逐条改正下列问题后重新导入；图层库未作任何改动 / fix each problem listed and import again; the store was not "
              "changed")


def validate_zones(
    zones: gpd.GeoDataFrame, *, kind: str | None = None, source: str | None = None
) -> tuple[gpd.GeoDataFrame, list[Notice]]:
    """Check and normalise a zone table for storage.

    Parameters
    ----------
    zones
        Features with the columns of ``gis.kinds.ZONE_FIELDS`` (``attributes`` as dicts) and a CRS.
    kind
        When given, every row must be of this kind (rows without a kind get it).
    source
        Name of the file the features come from, for messages.

    Returns
    -------
    (GeoDataFrame in EPSG:4326 with exactly ``ZONE_FIELDS`` + geometry, list of notices)

    Raises
    ------
    CRSError, FieldError, UnknownKindError, GeometryError
        With the row, the field, the value and the fix; one error for every problem of every row (see
        ``gis.errors.several``), so that a delivery is mended in one go.
    """
    validated, notices, problems = check_zones(zones, kind=kind, source=source)
    if problems:
        raise several(problems, source=source, fix=IMPORT_FIX)
    return validated, notices


def check_zones(
    zones: gpd.GeoDataFrame, *, kind: str | None = None, source: str | None = None
) -> tuple[gpd.GeoDataFrame | None, list[Notice], list[EcozoneError]]:
    """``validate_zones``'s work, with every problem of every row returned, not raised (and no table when there
    are some). What stops the whole table (no CRS, a missing column, an unknown kind) is still raised."""
    notices: list[Notice] = []
    if zones.crs is None:
        raise CRSError(
            "图层没有坐标参考系 / the layer has no coordinate reference system", source=source, field="crs",
            fix="为文件给出坐标系（shapefile 旁的 .prj，或 GeoPackage 图层的坐标系），或声明坐标系，如 CGCS2000 经纬度"
            "为 EPSG:4490 / give the file a CRS (a .prj beside a shapefile, or the CRS of a GeoPackage layer), "
            "or declare it, e.g. EPSG:4490 for CGCS2000 longitude/latitude",
        )
    gdf = zones.copy()
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    if not gdf.crs.equals(STORE_CRS):
        notices.append(Notice(
            code="reprojected", level="info", source=source,
            message=f"已从 {crs_label(gdf.crs)} 转换到 {crs_label(STORE_CRS)} / reprojected from "
                    f"{crs_label(gdf.crs)} to {crs_label(STORE_CRS)}",
        ))
        gdf = gdf.to_crs(STORE_CRS)
    if kind is not None:
        get_kind(kind)
        if "kind" not in gdf.columns:
            gdf["kind"] = kind
        gdf["kind"] = gdf["kind"].where(gdf["kind"].notna(), kind)
    missing = [name for name in ("zone_id", "kind", "name") if name not in gdf.columns]
    if missing:
        raise FieldError(
            f"缺少必需的列：{', '.join(missing)} / required column(s) missing: {', '.join(missing)}", source=source,
            field=missing[0],
            fix="加上这些列；现有的列为 / add the column(s); the columns present are: " + ", ".join(map(str, gdf.columns)),
        )
    for name in ZONE_FIELDS:
        if name not in gdf.columns:
            gdf[name] = None
    if gdf["geometry_source"].isna().any():
        gdf["geometry_source"] = gdf["geometry_source"].where(gdf["geometry_source"].notna(), "official")

    geometries = list(gdf.geometry)
    records = gdf[list(ZONE_FIELDS)].to_dict("records")
    seen: dict[tuple[str, str], str] = {}
    # Every problem of every row: an officer mends a delivery in one go.
    problems: list[EcozoneError] = []
    lacking: dict[tuple[str, str], list[FieldError]] = {}  # required attributes missing, by kind and name
    per_kind: dict[str, int] = {}
    usable = np.zeros(len(records), dtype=bool)  # a geometry the repair may look at
    for i, record in enumerate(records):
        row = row_label(i, record["zone_id"])
        spec = get_kind(record["kind"])
        per_kind[spec.name] = per_kind.get(spec.name, 0) + 1
        if kind is not None and record["kind"] != kind:
            problems.append(FieldError(
                f"该行的图层类型为 {record['kind']}，而图层是 {kind} / row is of kind '{record['kind']}' but the "
                f"layer is '{kind}'", source=source, row=row, field="kind", value=record["kind"],
                fix="每种图层类型作为单独的图层导入 / import each kind as its own layer",
            ))
            continue
        for name in ("zone_id", "name"):
            if not isinstance(record[name], str) or not record[name].strip():
                problems.append(FieldError(
                    f"「{name}」为空 / '{name}' is empty", source=source, row=row, field=name, value=record[name],
                    fix=f"每个要素都要有 {name} / give every feature a {name}",
                ))
        key = (record["kind"], record["zone_id"])
        if isinstance(record["zone_id"], str) and record["zone_id"].strip():
            if key in seen:
                problems.append(FieldError(
                    f"编号在同一图层中重复（另见第 {seen[key]} 行） / zone_id is used twice in kind '{record['kind']}' "
                    f"(also row {seen[key]})", source=source, row=row, field="zone_id", value=record["zone_id"],
                    fix="同一图层内编号须唯一 / make zone ids unique within a kind",
                ))
            else:
                seen[key] = row
        record["subtype"] = _attempt(problems, _check_subtype, spec, record["subtype"], source=source, row=row)
        attributes = _attempt(problems, _check_attributes, spec, record["attributes"], source=source, row=row)
        record["attributes"] = attributes
        for name in spec.required_attributes if attributes is not None else ():
            if name not in attributes:
                lacking.setdefault((spec.name, name), []).append(_lacking(spec, name, source=source, row=row))
        if record["geometry_source"] not in GEOMETRY_SOURCES:
            problems.append(FieldError(
                f"「{record['geometry_source']}」不是几何来源 / '{record['geometry_source']}' is not a geometry "
                "source", source=source, row=row, field="geometry_source", value=record["geometry_source"],
                fix="使用以下之一 / use one of: " + ", ".join(GEOMETRY_SOURCES),
            ))
        dates = [_attempt(problems, _check_date, record[name], source=source, row=row, field=name)
                 for name in ("valid_from", "valid_to")]
        record["valid_from"], record["valid_to"] = dates
        if record["valid_from"] and record["valid_to"] and record["valid_to"] <= record["valid_from"]:
            problems.append(FieldError(
                f"失效日期 valid_to（{record['valid_to']}）不晚于生效日期 valid_from（{record['valid_from']}） / "
                f"valid_to ({record['valid_to']}) is not after valid_from ({record['valid_from']})",
                source=source, row=row, field="valid_to", value=record["valid_to"],
                fix="交换或改正这两个日期 / swap or correct the dates",
            ))
        geom = geometries[i]
        allowed = _PUNCTUAL if spec.geometry == "point" else _POLYGONAL
        if geom is None or geom.is_empty:
            problems.append(GeometryError(
                "要素没有几何 / the feature has no geometry", source=source, row=row, field="geometry",
                fix="画出该要素或删去这一行 / draw the feature or remove the row",
            ))
        elif not np.isfinite(shapely.get_coordinates(geom)).all():
            problems.append(GeometryError(
                "要素的坐标中有非数值（NaN 或无穷大） / the feature has a coordinate that is not a number (NaN or "
                "infinite)", source=source, row=row, field="geometry",
                fix="在 GIS 软件中修正或删除这个要素 / fix or remove the feature in a GIS"))
        elif geom.geom_type not in allowed:
            problems.append(GeometryError(
                f"图层 {spec.label_zh} 要求{'点' if spec.geometry == 'point' else '面'}，该要素是 {geom.geom_type} / kind "
                f"'{spec.name}' needs {spec.geometry} geometries, this one is a {geom.geom_type}",
                source=source, row=row, field="geometry", value=geom.geom_type,
                fix=f"把 {geom.geom_type} 要素导入接受它的图层，或先转换 / import {geom.geom_type} features under a "
                    "kind that takes them, or convert them",
            ))
        else:
            usable[i] = True
    for (name_of_kind, name), found in lacking.items():
        if len(found) == per_kind[name_of_kind] > 1:  # no feature has it: the file lacks the column
            problems.append(_lacking(get_kind(name_of_kind), name, source=source, row=None))
        else:
            problems += found

    invalid = usable.copy()
    invalid[usable] = ~shapely.is_valid(np.asarray(geometries, dtype=object)[usable])
    for i in np.flatnonzero(invalid):
        try:
            geometries[i], notice = _repair(geometries[i], source=source, row=row_label(i, records[i]["zone_id"]))
        except GeometryError as problem:
            problems.append(problem)
        else:
            notices.append(notice)
    if problems:
        return None, notices, problems
    return zone_frame(records, geometries), notices, problems


def _attempt(problems: list[EcozoneError], check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``check(*args, **kwargs)``, or None with its problem added to ``problems``."""
    try:
        return check(*args, **kwargs)
    except (FieldError, GeometryError) as problem:
        problems.append(problem)
        return None
