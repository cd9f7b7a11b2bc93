"""Reading official layer files (shapefile, GeoPackage, GeoJSON) into the zone schema for import.

Natural-resources departments deliver shapefiles whose .dbf is often GBK without a .cpg, in CGCS2000
Gauss-Krüger coordinates, with their own column names. This module finds the encoding, requires a CRS,
reprojects to the store CRS, maps the columns onto the zone fields by what they mean (their names, and for a
subtype or a date, their values) or as the caller maps them, and keeps every other column as an attribute
under its own name. Each assumption it makes is reported as a notice; each error names the field it is about,
so that an interface can name its own option for it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.errors import GEOSException

from gis.crs import STORE_CRS, crs_label
from gis.sites.gpkg import feature_tables
from gis.errors import CoordinateError, CRSError, EcozoneError, FieldError, FormatError, Notice, several
from gis.kinds import ZONE_FIELDS, get_kind
from gis.sites.archives import copy_member, open_zip, zip_layer
from gis.sites.encoding import dbf_encoding, sidecar
from gis.sites.limits import MAX_INFLATED_BYTES
from gis.zones import IMPORT_FIX, check_zones, row_label, row_label_zh, written_day, zone_frame

__all__ = ["read_layer_file", "resolve_coverage", "detect_dbf_encoding", "notice_text", "parse_field_mapping",
           "unzip_layer", "SUPPORTED_SUFFIXES", "FIELD_COLUMNS", "LEVELS_ZH"]

SUPPORTED_SUFFIXES = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}

#: For each zone field a file may hold, the column names that mean it (compared case-insensitively), first
#: match first. A subtype or date column found by its name is used only if its values are subtypes or dates.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    # a bare "id" last: GDAL reads a GeoJSON feature's own id (0, 1, 2 … as geopandas writes them) as a column "id"
    "zone_id": ("zone_id", "编号", "标识码", "BSM", "BH", "红线编号", "图斑编号", "code", "单元编码", "unit_code",
                "adcode", "id"),
    "name": ("name", "名称", "MC", "红线名称", "BHQMC", "保护区名称", "园区名称", "单元名称", "ZQMC", "XZQMC", "QYMC"),
    "subtype": ("subtype", "类型", "功能区", "分区", "LX"),
    "jurisdiction": ("jurisdiction", "管辖", "行政区", "所属师市", "XZQ"),
    "valid_from": ("valid_from", "生效日期", "批准日期"),
    "valid_to": ("valid_to", "失效日期"),
    "name_en": ("name_en",),
    "source_doc": ("source_doc",),
    "source_quote": ("source_quote",),
    "geometry_source": ("geometry_source",),
}
#: Other names a caller may give a field by.
_TARGET_ALIASES = {"id": "zone_id"}
#: What a column read as a zone field holds, in Chinese (for the notice when it holds something else).
_TARGETS_ZH = {"subtype": "亚类", "valid_from": "生效日期", "valid_to": "失效日期"}
#: How a notice's level is shown, Chinese first.
LEVELS_ZH = {"warning": "警告 warning", "info": "说明 info"}

#: Rough box of China (lon, lat): a layer reprojected outside it has a wrong or mis-declared CRS.
_CHINA_BOX = (70.0, 15.0, 140.0, 56.0)


def _find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def detect_dbf_encoding(shp: Path) -> tuple[str | None, Notice | None]:
    """The encoding to read a shapefile's .dbf with (its .cpg's when the text bears it out, else detected), and a
    notice when detected."""
    if sidecar(shp, ".dbf") is None:
        raise FormatError(
            f"该 shapefile 缺少 .dbf 文件（{shp.stem}.dbf） / the shapefile has no .dbf beside it ({shp.stem}.dbf)",
            source=shp.name, field="file", value=shp.name,
            fix="把同名的 .dbf 文件与 .shp 一起提供（上传时一并发送） / give the .dbf of the same name with the .shp "
                "(send it with the .shp when uploading)"
        )
    detected, passed_over = dbf_encoding(shp)
    label = "UTF-8" if detected == "UTF-8" else "GBK/GB18030"
    if passed_over is not None:
        return detected, Notice(
            code="encoding_detected", level="warning", source=shp.name, field="encoding", value=passed_over,
            message=f"随附的 .cpg 文件写的是 {passed_over}，但 .dbf 的文字不是这种编码：按 {label} 读取 / the .cpg says "
                    f"{passed_over}, but the .dbf text is not in it: read as {label}",
            fix="改正 .cpg 文件（936 即 GBK，或 UTF-8），或给出编码 / correct the .cpg (936 for GBK, or UTF-8), or give "
                "the encoding",
        )
    if detected != "GB18030" or sidecar(shp, ".cpg") is not None:
        return detected, None
    return detected, Notice(
        code="encoding_detected", level="info", source=shp.name, field="encoding", value="GB18030",
        message="没有 .cpg 文件：.dbf 的文字按 GBK/GB18030 读取（它不是有效的 UTF-8） / no .cpg file: the .dbf "
                "text was read as GBK/GB18030 (it is not valid UTF-8)",
        fix="加一个 .cpg 文件，或给出编码 / add a .cpg file, or give the encoding, to make it explicit",
    )


def unzip_layer(path: Path, folder: Path) -> Path:
    """The one layer of a zip (a .shp with its sidecars, a GeoPackage or a GeoJSON) inflated into ``folder``,
    through the checks and limits of every zip ecozone reads (``gis.sites.archives``: a screening's zipped
    shapefile too), never trusting the sizes it declares. Every refusal is about the file sent (``file``)."""
    try:
        with open_zip(path, source=path.name, kind=".zip") as archive:
            member, beside = zip_layer(archive, tuple(SUPPORTED_SUFFIXES), source=path.name)
            main = folder / PurePosixPath(member).name
            budget = MAX_INFLATED_BYTES
            # the sidecars under the layer's own stem (HX.SHP with hx.dbf: GDAL and the readers look beside it)
            for name, target in [(member, main), *((n, folder / (main.stem + s)) for s, n in beside.items())]:
                copy_member(archive, name, target, limit=budget, source=path.name)
                budget -= target.stat().st_size
    except EcozoneError as error:
        error.field = "file"
        raise
    return main


def _check_encoding(shp: Path, encoding: str) -> str:
    """A given .dbf encoding: a codec Python knows, and one the file's records decode with."""
    try:
        "".encode(encoding)  # a text encoding Python knows (not rot13, hex ...)
    except LookupError:
        raise FieldError(f"「{encoding}」不是文字编码 / '{encoding}' is not a text encoding", source=shp.name,
                         field="encoding", value=encoding,
                         fix="给出 GBK、GB18030 或 UTF-8，或不给以自动识别 / give GBK, GB18030 or UTF-8, or leave it "
                             "out to detect it") from None
    dbf = sidecar(shp, ".dbf")
    if dbf is not None:
        data = dbf.read_bytes()
        try:
            data[int.from_bytes(data[8:10], "little"):].decode(encoding)
        except UnicodeDecodeError:
            raise FieldError(f"该 .dbf 的文字不是有效的 {encoding} / the .dbf text is not valid {encoding}",
                             source=dbf.name, field="encoding", value=encoding,
                             fix="给出文件写入时的编码（国内交付多为 GBK），或不给以自动识别 / give the encoding the file "
                                 "was written in (most Chinese deliveries are GBK), or leave it out to detect it"
                             ) from None
    return encoding


def _degrees_under(crs: CRS, frame: gpd.GeoDataFrame) -> bool:
    """Whether a projected CRS (metres) was given to coordinates that are all lon/lat degrees: a projected point
    within ±180 m and ±90 m of the false origin is no place in China."""
    if not crs.is_projected:
        return False
    minx, miny, maxx, maxy = frame.total_bounds
    return bool(np.isfinite([minx, miny, maxx, maxy]).all() and -180 <= minx <= maxx <= 180
                and -90 <= miny <= maxy <= 90)


def _check_zone_number(frame: gpd.GeoDataFrame, source: str) -> None:
    """Refuse a Gauss-Krüger file whose eastings carry another zone number in front than its CRS (a .prj of the
    neighbouring zone): reprojected, it would lie a zone away, often still in China, with nothing to show it."""
    operation = frame.crs.coordinate_operation if frame.crs.is_projected else None
    false_easting = next((p.value for p in operation.params if p.name == "False easting"), 0) if operation else 0
    if false_easting < 1_000_000:  # no zone number in front of the eastings
        return
    declared = int(false_easting // 1_000_000)
    minx, _, maxx, _ = frame.total_bounds
    found = {int(minx // 1_000_000), int(maxx // 1_000_000)}
    if found != {declared} and len(found) == 1 and 13 <= (given := found.pop()) <= 45:
        raise CRSError(
            f"坐标的东坐标前的带号是 {given}，但坐标系（.prj）是第 {declared} 带的 {crs_label(frame.crs)} / the eastings carry "
            f"zone {given} in front, but the CRS is zone {declared}'s {crs_label(frame.crs)}", source=source,
            field="crs", value=crs_label(frame.crs),
            fix=f"给出第 {given} 带的坐标系，或改正 .prj 文件 / give the CRS of zone {given}, or correct the .prj")


def _outside_china(frame: gpd.GeoDataFrame, source_crs: CRS, source: str) -> list[tuple[int, CoordinateError]]:
    """A problem for each feature that lies outside China once reprojected (its coordinates do not fit the CRS),
    with the feature's position (the caller names the row); when none of them lies in China, the CRS is wrong,
    and that stops the import at once (CRSError)."""
    bounds = shapely.bounds(frame.geometry.values)  # NaN for a missing or empty geometry, or all NaN coordinates
    finite = np.isfinite(bounds).all(axis=1)
    lon0, lat0, lon1, lat1 = _CHINA_BOX
    outside = finite & ((bounds[:, 0] < lon0) | (bounds[:, 1] < lat0) | (bounds[:, 2] > lon1) | (bounds[:, 3] > lat1))
    # a coordinate PROJ could not transform (inf) leaves a bound that is not finite: outside too
    unprojected = ~finite & np.isinf(bounds).any(axis=1)
    if not finite.any() or unprojected.all():
        raise CRSError(
            f"从 {crs_label(source_crs)} 投影转换后坐标不是有限值，要素不在中国境内 / after reprojection from "
            f"{crs_label(source_crs)} the coordinates are not finite numbers: the features lie outside China",
            source=source, field="crs", value=crs_label(source_crs),
            fix="检查 X、Y 是否颠倒（北坐标在前），东坐标前是否有带号（EPSG:4513-4533）或没有（EPSG:4534-4554） / check "
                "whether X and Y are swapped (northings first), and whether the eastings carry the zone number in "
                "front (EPSG:4513-4533) or not (EPSG:4534-4554)")
    if outside[finite].all():
        minx, miny = np.nanmin(bounds[finite, :2], axis=0)
        maxx, maxy = np.nanmax(bounds[finite, 2:], axis=0)
        raise CRSError(
            f"从 {crs_label(source_crs)} 投影转换后要素位于经度 {minx:.2f}..{maxx:.2f}、纬度 {miny:.2f}..{maxy:.2f}，"
            f"在中国境外 / after reprojection from {crs_label(source_crs)} the features lie at lon {minx:.2f}..{maxx:.2f}, "
            f"lat {miny:.2f}..{maxy:.2f}, outside China", source=source, field="crs",
            fix="声明的坐标系与坐标不符：检查高斯-克吕格带号，东坐标前是否有带号（EPSG:4513-4533）或没有（EPSG:4534-4554）"
                " / the declared CRS does not match the coordinates: check the Gauss-Krüger zone, and whether the "
                "eastings carry the zone number in front (EPSG:4513-4533) or not (EPSG:4534-4554)",
        )
    problems = []
    for i in np.flatnonzero(outside | unprojected):
        minx, miny, maxx, maxy = bounds[i]
        where_zh = f"位于经度 {minx:.2f}..{maxx:.2f}、纬度 {miny:.2f}..{maxy:.2f}" if outside[i] else "坐标不是有限值"
        where_en = f"lies at lon {minx:.2f}..{maxx:.2f}, lat {miny:.2f}..{maxy:.2f}" if outside[i] else \
            "has coordinates that are not finite numbers"
        problems.append((i, CoordinateError(
            f"从 {crs_label(source_crs)} 投影转换后该要素{where_zh}，在中国境外，而其他要素在境内 / after reprojection "
            f"from {crs_label(source_crs)} this feature {where_en}, outside China, while the others lie inside",
            source=source, field="geometry",
            fix="该要素的坐标与坐标系不符：检查其 X、Y 是否颠倒、东坐标前的带号是否与其他要素相同 / this feature's coordinates "
                "do not fit the CRS: check whether its X and Y are swapped, and whether its eastings carry the same "
                "zone number as the other features'")))
    return problems


def _read_frame(path: Path, layer: str | None, encoding: str | None, notices: list[Notice]) -> gpd.GeoDataFrame:
    """The file's features; rings not closed (GeoJSON allows writing them) are closed by repeating their first
    point, each such feature named in a notice, as the site readers do. A coordinate that is not a number is
    named by the checks of each feature, not by shapely's warning on the terminal."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        return _read_features(path, layer, encoding, notices)


def _read_features(path: Path, layer: str | None, encoding: str | None, notices: list[Notice]) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except GEOSException:
        fixed = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, on_invalid="fix")
        unread = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, on_invalid="ignore", columns=[])
        rows = np.flatnonzero(unread.geometry.isna().to_numpy() & fixed.geometry.notna().to_numpy()) + 1
        shown = "、".join(map(str, rows[:20])) + ("…" if len(rows) > 20 else "")
        notices.append(Notice(
            code="rings_closed", level="warning", source=path.name, field="geometry", value=len(rows),
            message=f"第 {shown} 个要素的环没有闭合，已按首点闭合 / rings not closed in {len(rows)} features (rows "
                    f"{shown}): closed by repeating their first point",
            fix="如闭合方式不对，请在 GIS 软件中修正这些要素 / if that is not how they close, fix them in a GIS"))
        return fixed


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value from a pandas cell."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if value is pd.NaT:
        return None
    return value


def _text(value: Any) -> str | None:
    value = _plain(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _restore_truncated_names(frame: gpd.GeoDataFrame, kind: str, source: str, notices: list[Notice]):
    """Give back the full names of required attributes that a .dbf cut to 10 characters."""
    renames = {}
    for wanted in get_kind(kind).required_attributes:
        cut = wanted[:10]
        if wanted not in frame.columns and cut != wanted and cut in frame.columns:
            renames[cut] = wanted
            notices.append(Notice(
                code="field_name_restored", level="info", source=source, field=cut,
                message=f"列 '{cut}' 读作 '{wanted}'（shapefile 的字段名限 10 个字符） / column '{cut}' read as "
                        f"'{wanted}' (shapefiles cut field names to 10 characters)",
            ))
    return frame.rename(columns=renames)


def _parse_crs(text: str | None) -> CRS | None:
    if text is None:
        return None
    try:
        return CRS.from_user_input(text)
    except ProjCRSError:
        raise CRSError(
            "所给坐标系无法识别（PROJ 中没有） / the CRS given is not one PROJ knows", field="crs", value=text,
            fix="给出 EPSG 代码，如 EPSG:4490（CGCS2000 经纬度）或 EPSG:4517（CGCS2000 3° 高斯-克吕格第 29 带） / give an "
                "EPSG code, e.g. EPSG:4490 (CGCS2000 lon/lat) or EPSG:4517 (CGCS2000 3° GK zone 29)",
        ) from None


def _subtype_parser(kind: str) -> Callable[[Any], str | None]:
    """Code of a subtype given as a code or a Chinese label of ``kind``; ValueError for anything else."""
    spec = get_kind(kind)
    by_label = {label: code for code, label in spec.subtypes.items()}

    def parse(value: Any) -> str | None:
        text = _text(value)
        if text is None:
            return None
        if text in spec.subtypes:
            return text
        if text in by_label:
            return by_label[text]
        raise ValueError(text)

    return parse


def _subtype_choices(kind: str) -> str:
    spec = get_kind(kind)
    return ", ".join(f"{code} ({label})" for code, label in spec.subtypes.items()) or "none"


def _values(frame: pd.DataFrame, column: str, parse: Callable[[Any], Any], *, given: bool, target: str,
            what: tuple[str, str], source: str, ids: list[str], fix: str) -> tuple[list, list[FieldError]] | None:
    """The column's values read as ``target`` (each one ``what``, in Chinese and English) through ``parse`` (None
    where a value does not parse), and a problem for each value that does not; None when the column was found by
    its name (not ``given``) and none of its values parse: it means something else and stays an attribute."""
    parsed, failed = [], []
    for i, value in enumerate(frame[column].tolist()):
        try:
            parsed.append(parse(value))
        except ValueError:
            parsed.append(None)
            failed.append(i)
    if failed and not given and all(v is None for v in parsed):
        return None
    problems = []
    for i in failed:
        shown = _text(frame[column].iloc[i])
        problems.append(FieldError(
            f"「{column}」列中的「{shown}」不是{what[0]} / column '{column}' holds '{shown}', which is not {what[1]}",
            source=source, row=row_label(i, ids[i]), field=target, value=shown, fix=fix,
        ))
    return parsed, problems


def parse_field_mapping(pairs: list[str]) -> dict[str, str]:
    """``TARGET=COLUMN`` texts as a mapping for ``read_layer_file`` (``TARGET=`` maps no column)."""
    mapping = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target.strip():
            raise FieldError("字段对应写作 字段=列名 / a field mapping is TARGET=COLUMN", field="field", value=pair,
                             fix="如 name=名称, zone_id=编号, subtype=功能区, valid_from=批准日期；没有亚类列时写 subtype= "
                                 "/ e.g. name=名称, zone_id=编号, subtype=功能区, valid_from=批准日期, or subtype= for "
                                 "no subtype column; 字段为以下之一或属性名 / targets: " + ", ".join(FIELD_COLUMNS)
                                 + " or an attribute name")
        mapping[target.strip()] = column.strip()
    return mapping


def _targets(fields: dict[str, str] | None, columns: list[str], source: str) -> dict[str, str | None]:
    """The caller's mapping checked: target (a zone field, or an attribute name) -> column (None: no column)."""
    mapped: dict[str, str | None] = {}
    for target, column in (fields or {}).items():
        target = _TARGET_ALIASES.get(target.strip(), target.strip())
        column = column.strip() if column else ""
        if not target or target in ("kind", "attributes", "geometry"):
            raise FieldError(
                f"「{target}」不能对应到列 / '{target}' cannot be mapped to a column", source=source, field="field",
                value=target,
                fix="把列对应到 " + "、".join(FIELD_COLUMNS) + " 之一或属性名；图层类型对整个文件统一指定 / map a column "
                    "to one of " + ", ".join(FIELD_COLUMNS) + ", or to an attribute name; the kind is chosen for the "
                    "whole file",
            )
        if column and column not in columns:
            raise FieldError(f"没有名为「{column}」的列 / there is no column '{column}'", source=source, field=target,
                             value=column,
                             fix="对应到文件中已有的列 / map it to one of the file's columns: " + ", ".join(columns))
        if column and column in mapped.values():
            raise FieldError(f"「{column}」列被对应了两次 / column '{column}' is mapped twice", source=source,
                             field=target, value=column, fix="每列只对应一个字段 / map each column to one field")
        mapped[target] = column or None
    return mapped


def read_layer_file(
    path: str | os.PathLike,
    kind: str,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    fields: dict[str, str] | None = None,
    subtype: str | None = None,
    geometry_source: str = "official",
    source_doc: str | None = None,
    scratch: Path | None = None,
) -> tuple[gpd.GeoDataFrame, list[Notice]]:
    """Read a layer file into the zone schema (not yet validated: ``Store.import_layer`` does that).

    A ``.zip`` holding one layer is inflated into a temporary folder in ``scratch`` (default the system's) and
    that layer read: a shapefile travels zipped, as ecozone exports it.

    ``fields`` maps a zone field (``zone_id`` or ``id``, ``name``, ``subtype``, ``jurisdiction``,
    ``valid_from``, ``valid_to`` ...) or an attribute name to a column of the file, or to ``""`` for none;
    the fields it leaves out are found by what the columns mean (``FIELD_COLUMNS``). ``subtype`` gives one
    subtype to every feature. Every column not used for a field is kept as an attribute under its own name.

    Returns the features in the store CRS and the notices about what was assumed or converted.
    """
    path = Path(path)
    get_kind(kind)
    name = path.name
    if not path.exists():
        raise FormatError("文件不存在 / the file does not exist", source=str(path), fix="检查路径 / check the path")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="ecozone-unzip-", dir=scratch) as folder:
            return read_layer_file(unzip_layer(path, Path(folder)), kind, layer=layer, crs=crs, encoding=encoding,
                                   fields=fields, subtype=subtype, geometry_source=geometry_source,
                                   source_doc=source_doc)
    if suffix not in SUPPORTED_SUFFIXES:
        raise FormatError(
            f"「{suffix or path.name}」文件不能作为图层导入 / '{suffix or path.name}' files cannot be imported as "
            "layers", source=name,
            fix="转换为 shapefile、GeoPackage 或 GeoJSON（" + "、".join(SUPPORTED_SUFFIXES) + "，或压缩为 .zip） / convert "
                "it to a shapefile, GeoPackage or GeoJSON (" + ", ".join(SUPPORTED_SUFFIXES) + ", or one in a .zip)",
        )
    if suffix == ".shp" and sidecar(path, ".shx") is None:
        # GDAL would say "Set SHAPE_RESTORE_SHX config option": the sender only needs to send the index too
        raise FormatError(
            f"该 shapefile 缺少 .shx 文件（{path.stem}.shx） / the shapefile has no .shx beside it ({path.stem}.shx)",
            source=name, field="file", value=name,
            fix="把同名的 .shx 文件与 .shp 一起提供（上传时一并发送） / give the .shx of the same name with the .shp "
                "(send it with the .shp when uploading)")
    if subtype:
        try:
            subtype = _subtype_parser(kind)(subtype)
        except ValueError:
            raise FieldError(f"「{subtype}」不是图层类型 {kind} 的亚类 / '{subtype}' is not a subtype of kind "
                             f"'{kind}'", source=name, field="subtype", value=subtype,
                             fix="使用以下之一 / use one of: " + _subtype_choices(kind)) from None
    notices: list[Notice] = []
    if suffix == ".shp" and encoding is None:
        encoding, notice = detect_dbf_encoding(path)
        notices += [notice] if notice else []
    elif encoding is not None:
        encoding = _check_encoding(path, encoding)
    if suffix == ".gpkg" and layer is None:
        # The GeoPackage's own list of feature tables, read with a bounded number of SQLite steps: a view that
        # never ends, or a table of styles, is not a layer to import. An official layer may be any size.
        layers, skipped = feature_tables(path, source=name, max_features=None, max_bytes=None)
        notices += skipped
        if len(layers) == 1:
            layer = layers[0]
        if len(layers) > 1:
            raise FormatError(
                f"该 GeoPackage 中有 {len(layers)} 个图层 / the GeoPackage holds {len(layers)} layers", source=name,
                field="layer", fix="选择其中一个 / choose one of them: " + ", ".join(layers),
            )
    try:
        frame = _read_frame(path, layer, encoding, notices)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FormatError(f"无法用 GDAL 读取该文件 / GDAL cannot read the file ({exc})", source=name,
                          fix="检查它能否在 QGIS 中打开 / check that it opens in QGIS") from None
    except UnicodeDecodeError as exc:
        raise FieldError(f"文件中的文字不是 {encoding or 'UTF-8'} 编码 / the file's text is not {encoding or 'UTF-8'} "
                         f"({exc.reason} at byte {exc.start})", source=name, field="encoding", value=encoding,
                         fix="给出文件所用的编码（中文数据多为 GBK） / give the encoding the file was written in (most "
                             "Chinese data is GBK)") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise FormatError("文件中没有几何 / the file has no geometries", source=name,
                          fix="导入带几何的空间图层 / import a spatial layer")

    declared = _parse_crs(crs)
    if frame.crs is None:
        if declared is None:
            raise CRSError(
                "文件没有声明坐标系 / the file declares no coordinate reference system", source=name, field="crs",
                fix="加上 .prj 文件或给出坐标系 / add a .prj file (e.g. exported with the layer from ArcGIS or QGIS), or declare the CRS: "
                "EPSG:4490 for CGCS2000 lon/lat, EPSG:4513-4533 for CGCS2000 3° Gauss-Krüger zones 25-45 with "
                "the zone number in front of the easting, EPSG:4534-4554 without it",
            )
        frame = frame.set_crs(declared)
        notices.append(Notice(code="crs_declared", level="info", source=name, field="crs",
                              message=f"坐标系按指定：{crs_label(declared)} / CRS as declared: {crs_label(declared)}"))
    elif declared is not None and not frame.crs.equals(declared) and _degrees_under(frame.crs, frame) \
            and not declared.is_projected:  # a projected .prj shipped with lon/lat: the CRS given is right
        notices.append(Notice(
            code="crs_overridden", level="warning", source=name, field="crs", value=crs_label(declared),
            message=f"文件的 .prj 声明的是投影坐标系 {crs_label(frame.crs)}，但坐标是经纬度：按给出的 {crs_label(declared)} 读取 / "
                    f"the .prj declares the projected {crs_label(frame.crs)} but the coordinates are degrees: read "
                    f"as the CRS given, {crs_label(declared)}", fix="改正 .prj 文件 / correct the .prj"))
        frame = frame.set_crs(declared, allow_override=True)
    elif declared is not None and not frame.crs.equals(declared):
        raise CRSError(
            f"文件声明的坐标系是 {crs_label(frame.crs)}，与给出的 {crs_label(declared)} 不同 / the file declares "
            f"{crs_label(frame.crs)} but the CRS given is {crs_label(declared)}", source=name, field="crs", value=crs,
            fix="文件自带的坐标系正确时不要再给出，否则改正文件的 .prj / give no CRS if the file's own is right, or fix the "
                "file's .prj",
        )
    if _degrees_under(frame.crs, frame):
        raise CRSError(
            f"文件的 .prj 声明的是投影坐标系 {crs_label(frame.crs)}（米），但坐标都在 ±180、±90 之内，是经纬度（度） / the .prj "
            f"declares the projected {crs_label(frame.crs)} (metres), but every coordinate lies within ±180 and ±90: "
            "they are degrees", source=name, field="crs", value=crs_label(frame.crs),
            fix="给出经纬度的坐标系（CGCS2000 为 EPSG:4490）以覆盖 .prj，或改正 .prj / give the lon/lat CRS (EPSG:4490 for "
                "CGCS2000) to override the .prj, or correct the .prj")
    _check_zone_number(frame, name)
    if suffix == ".shp":
        # The format fixes the ring order (exteriors clockwise), so it says nothing about the data: read rings in
        # RFC 7946's order, the one of the other formats, and a layer exported and imported again keeps its digest.
        frame = frame.set_geometry(shapely.orient_polygons(frame.geometry.values))
    source_crs = frame.crs
    if not source_crs.equals(STORE_CRS):
        frame = frame.to_crs(STORE_CRS)
        notices.append(Notice(code="reprojected", level="info", source=name,
                              message=f"已从 {crs_label(source_crs)} 投影转换到 {crs_label(STORE_CRS)} / reprojected "
                                      f"from {crs_label(source_crs)} to {crs_label(STORE_CRS)}"))
    outside = _outside_china(frame, source_crs, name)
    heights = shapely.has_z(frame.geometry.values)
    if heights.any():  # the store's table is 2D: heights would break the GeoPackage and count as a change
        frame = frame.set_geometry(shapely.force_2d(frame.geometry.values))
        notices.append(Notice(code="heights_dropped", level="info", source=name, field="geometry",
                              value=int(heights.sum()),
                              message=f"{int(heights.sum())} 个要素带高程（Z），已去掉：只保留平面坐标 / {int(heights.sum())} "
                                      "features had heights (Z): dropped, the plane coordinates kept"))
    frame = _restore_truncated_names(frame, kind, name, notices)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    given = _targets(fields, columns, name)
    if subtype and given.get("subtype"):
        raise FieldError("既为全部要素指定了亚类，又给出了亚类列 / a subtype for every feature and a column of "
                         "subtypes were both given", source=name, field="subtype", value=given["subtype"],
                         fix="二者只给其一 / give one of the two")
    mapped = dict(given)
    for target, candidates in FIELD_COLUMNS.items():
        if target not in mapped and not (target == "subtype" and subtype):
            free = [c for c in columns if c not in mapped.values()]
            mapped[target] = _find_column(free, candidates)
    problems: list[EcozoneError] = []  # every problem of the rows, reported together at the end
    superseded = set()  # fields of a problem of the whole file: the rows' problems with them are not listed
    if mapped["name"] is None:  # a problem of the whole file, but the rows' other problems can still be found
        problems.append(FieldError("没有找到区域名称列 / no column holds the zone names", source=name, field="name",
                                   fix="指定名称所在的列；文件的列有 / map the column that holds them; the file's "
                                       "columns: " + ", ".join(columns)))
        superseded |= {"name"} if mapped["zone_id"] is not None else {"name", "zone_id"}

    names = [_text(v) or "" for v in frame[mapped["name"]]] if mapped["name"] else [""] * len(frame)
    if mapped["zone_id"] is not None:
        ids = [_text(v) or "" for v in frame[mapped["zone_id"]]]
    elif mapped["name"] is None:
        ids = names
    elif len(set(names)) == len(names):
        ids = names
        notices.append(Notice(
            code="ids_from_names", level="info", source=name, field="zone_id",
            message=f"没有编号列：以“{mapped['name']}”列的名称作编号 / no id column: zone ids are the names in "
                    f"'{mapped['name']}'",
            fix="把一列稳定的编码对应到 zone_id，使名称在版本间变化时编号不变 / map a column of stable codes to "
                "zone_id, so that ids stay when names change between versions",
        ))
    else:
        raise FieldError(
            f"没有编号列，且「{mapped['name']}」列中的名称有重复，无法区分各区域 / no id column, and the names in "
            f"'{mapped['name']}' repeat, so zones cannot be told apart", source=name, field="zone_id",
            fix="把一列唯一的编码对应到 zone_id；文件的列有 / map a column of unique codes to zone_id; the file's "
                "columns: " + ", ".join(columns),
        )

    for i, problem in outside:
        problem.row = row_label(i, ids[i])
        problems.append(problem)
    converted: dict[str, list] = {}
    choices = _subtype_choices(kind)
    readers = {
        "subtype": (_subtype_parser(kind), (f"图层类型 {kind} 的亚类", f"a subtype of kind '{kind}'"),
                    f"使用该类图层的亚类代码或名称（{choices}），或为全部要素指定同一亚类，或不把任何列对应到 subtype / "
                    f"use subtype codes or labels of the kind ({choices}), or give one subtype for every feature, or "
                    "map no column to subtype"),
        "valid_from": (written_day, ("日期", "a date"), "日期写作 YYYY-MM-DD，或不把任何列对应到 valid_from / write "
                       "dates as YYYY-MM-DD, or map no column to valid_from"),
        "valid_to": (written_day, ("日期", "a date"), "日期写作 YYYY-MM-DD，或不把任何列对应到 valid_to / write dates "
                     "as YYYY-MM-DD, or map no column to valid_to"),
    }
    for target, (parse, what, fix) in readers.items():
        column = mapped.get(target)
        if column is None:
            continue
        read = _values(frame, column, parse, given=target in given, target=target, what=what, source=name,
                       ids=ids, fix=fix)
        if read is None:  # found by its name, but it means something else: kept as an attribute
            mapped[target] = None
            shown = "、".join(dict.fromkeys(t for t in map(_text, frame[column]) if t))
            notices.append(Notice(
                code="column_kept_as_attribute", level="info", source=name, field=target, value=column,
                message=f"列“{column}”的值（{shown[:60]}{'…' if len(shown) > 60 else ''}）不是"
                        f"{'该类图层的亚类' if target == 'subtype' else '日期'}，作为属性“{column}”保留 / column "
                        f"'{column}' kept as an attribute: its values are not "
                        f"{'subtypes of kind ' + repr(kind) if target == 'subtype' else 'dates'}",
                fix=f"如该列确为{_TARGETS_ZH[target]}，请改正其值并对应到 {target} / if it does hold the "
                    f"{target.replace('_', ' ')}, correct its values and map it to {target}",
            ))
        else:
            converted[target], found = read
            problems += found

    used = {c for c in mapped.values() if c is not None}
    kept = [c for c in columns if c not in used]
    extra = {target: column for target, column in mapped.items() if target not in ZONE_FIELDS and column}
    records = []
    for i, row in enumerate(frame[columns].itertuples(index=False, name=None)):
        values = dict(zip(columns, row))
        attributes = {c: _plain(values[c]) for c in kept}
        attributes.update({target: _plain(values[column]) for target, column in extra.items()})
        record = {
            "zone_id": ids[i],
            "kind": kind,
            "name": names[i],
            "subtype": subtype if subtype else converted.get("subtype", [None] * len(ids))[i],
            "attributes": attributes,
            # The version keeps the file's name (its ``source``); a feature carries it only when told to, so the
            # same feature in two deliveries is the same feature, stored once.
            "source_doc": source_doc,
            "geometry_source": geometry_source,
        }
        for target in ("jurisdiction", "valid_from", "valid_to", "name_en", "source_doc", "source_quote",
                       "geometry_source"):
            if target in converted:
                record[target] = converted[target][i]
            elif mapped.get(target) is not None:  # None where empty (a key missing from some records would be NaN)
                record[target] = _plain(values[mapped[target]])
        records.append(record)
    # None where a value is missing, never NaN: a feature's fields digest is taken from this table at the import
    # and from the stored row (NULL) at ``layers verify``, and the two must agree
    zones = zone_frame(records, frame.geometry.values)
    if problems:  # the checks of the import too, so that every problem is said at once
        reported = {(problem.row, problem.field) for problem in problems}
        _, _, found = check_zones(zones, kind=kind, source=name)
        problems += [problem for problem in found if problem.field not in superseded
                     and (problem.row, problem.field) not in reported]
        raise several(problems, source=name, fix=IMPORT_FIX)
    return zones, notices


def notice_text(notice: dict, option: Callable[[str | None], str | None] | None = None) -> str:
    """A notice of an import as an officer reads it: its level, the feature it is about (第 12 行（编号 HX-0012）),
    the message and the fix, with the interface's ``option`` for its field where it has one."""
    where = f"{row_label_zh(notice['row'])}：" if notice.get("row") is not None else ""
    fix = notice.get("fix")
    named = option(notice.get("field")) if option else None
    if named:
        fix = f"{fix}（{named}）" if fix else named
    return f"{LEVELS_ZH.get(notice.get('level'), notice.get('level'))}：{where}{notice['message']}" + (
        f" — {fix}" if fix else "")


def resolve_coverage(spec: str | None, store, zones: gpd.GeoDataFrame | None = None
                     ) -> tuple[shapely.Geometry | None, Notice]:
    """The coverage of an imported layer from ``--coverage``: ``all``, ``admin:CODE,...`` or a polygon file.

    Without ``spec`` the layer is taken as complete over the provinces of the store's administrative layer that
    its ``zones`` meet (a Xinjiang delivery says nothing of Inner Mongolia), or over every unit when the store has
    no province; the notice says which, and how to narrow it. Zones that meet no unit at all (a wrong CRS or zone
    number) are refused: such a version would clear every site of its kind.
    """
    if spec is None or spec.startswith("admin:"):
        admin = store.snapshot(kinds=["admin_division"]).zones
        if spec is None:
            units = admin[admin["subtype"].isin(["county", "bingtuan_city", "province"])]
            if units.empty:
                return None, Notice(
                    code="coverage_default", level="info", field="coverage",
                    message="覆盖范围：图层视为处处完整（库中没有行政区划图层） / coverage: the layer counts as complete "
                            "everywhere (the store has no administrative layer)",
                    fix="给出 admin:代码,... 或范围多边形文件 / give admin:CODE,... or a polygon file",
                )
            if zones is not None and len(zones):
                return _coverage_of(zones, units)
            return shapely.union_all(units.geometry.values), Notice(
                code="coverage_default", level="info", field="coverage",
                message="覆盖范围：图层视为覆盖库中全部行政单元 / coverage: the layer counts as complete over every "
                        "administrative unit of the store",
                fix="如文件覆盖的范围更小（如只有兵团土地），给出 admin:659001,... 或范围多边形文件 / if the file covers less "
                    "(e.g. only 兵团 land), give admin:659001,... or a polygon file",
            )
        codes = [c.strip() for c in spec.removeprefix("admin:").split(",") if c.strip()]
        found = admin[[a.get("adcode") in codes for a in admin["attributes"]]]
        missing = sorted(set(codes) - {a["adcode"] for a in found["attributes"]})
        if missing or not codes:
            raise FieldError(
                "库中没有该代码的行政单元 / no administrative unit with that code in the store", field="coverage",
                value=", ".join(missing), fix="使用行政区划图层的代码 / use adcodes of the admin_division layer, e.g. "
                                              "admin:659001,659004",
            )
        return shapely.union_all(found.geometry.values), Notice(
            code="coverage", level="info", field="coverage",
            message=f"覆盖范围：行政单元 {', '.join(codes)} / coverage: administrative units {', '.join(codes)}")
    if spec == "all":
        return None, Notice(code="coverage", level="info", field="coverage",
                            message="覆盖范围：图层视为处处完整 / coverage: the layer counts as complete everywhere")
    refusal = FieldError(
        "覆盖范围应为 all、admin:代码,... 或带坐标系的多边形文件 / the coverage must be 'all', 'admin:CODE,...' or a "
        "polygon file with a CRS", field="coverage", value=spec, fix="如 admin:659001，或 兵团范围.shp / e.g. "
                                                                      "admin:659001, or 兵团范围.shp")
    try:
        frame = pyogrio.read_dataframe(spec) if Path(spec).exists() else None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError):
        raise refusal from None  # a damaged or unreadable file
    if frame is None or frame.crs is None or not frame.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise refusal
    return shapely.union_all(frame.to_crs(STORE_CRS).geometry.values), Notice(
        code="coverage", level="info", field="coverage",
        message=f"覆盖范围：{Path(spec).name} 的多边形 / coverage: the polygons of {Path(spec).name}")


def _coverage_of(zones: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> tuple[shapely.Geometry, Notice]:
    """The default coverage of ``zones``: the provinces among ``units`` they meet (every unit if none is a
    province); refused when they meet no unit."""
    geometries = zones.geometry.values
    provinces = units[units["subtype"] == "province"]
    within = provinces if len(provinces) else units
    met = np.unique(shapely.STRtree(geometries).query(within.geometry.values, predicate="intersects")[0])
    if not len(met):
        raise FieldError(
            f"{len(zones)} 个要素都不在库中任何行政单元内：坐标系或带号可能有误 / none of the {len(zones)} features "
            "meets an administrative unit of the store: the CRS or the zone number is likely wrong",
            field="coverage", value=len(zones),
            fix="检查 .prj、坐标系（«crs»）和带号；确要导入，给出 «coverage» all / check the .prj, the CRS («crs») and the "
                "zone number; to import it all the same, give «coverage» all")
    if not len(provinces):
        return shapely.union_all(units.geometry.values), Notice(
            code="coverage_default", level="info", field="coverage",
            message="覆盖范围：图层视为覆盖库中全部行政单元 / coverage: the layer counts as complete over every "
                    "administrative unit of the store",
            fix="如文件覆盖的范围更小（如只有兵团土地），给出 admin:659001,... 或范围多边形文件 / if the file covers "
                "less (e.g. only 兵团 land), give admin:659001,... or a polygon file")
    names = "、".join(str(name) for name in provinces["name"].iloc[met])
    return shapely.union_all(provinces.geometry.values[met]), Notice(
        code="coverage_default", level="info", field="coverage", value=names,
        message=f"覆盖范围：图层视为覆盖其要素所在的省级单元（{names}），其他地区未核查 / coverage: the layer counts as "
                f"complete over the provinces its features lie in ({names}); elsewhere it is not checked",
        fix="图层只覆盖其中一部分（如只有兵团）时，给出 admin:659001,... 或范围多边形文件 / if the file covers less (e.g. only "
            "兵团 land), give admin:659001,... or a polygon file")
