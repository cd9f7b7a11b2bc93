"""Vector files: Shapefile, GeoPackage, KML/KMZ through pyogrio (GDAL), GeoJSON through ``text``.

Each feature becomes a plot (row = feature number, as in a GIS attribute table). A shapefile without a
.cpg gets its .dbf encoding detected (UTF-8 or GBK), because GDAL would otherwise read Chinese
attributes as Latin-1 mojibake. Sizes are bounded before GDAL reads: files by their bytes, shapefiles by
their .dbf record count, GeoPackages by counting their real feature tables (``gis.sites.gpkg``), KMZ by
the size of the .kml inside.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from gis.errors import FormatError, GeometryError, Notice
from gis.sites.archives import PROLOG_BYTES, check_xml, copy_member, open_zip
from gis.sites.encoding import dbf_encoding, decode, sidecar
from gis.sites.gpkg import feature_tables
from gis.sites.limits import (
    MAX_FEATURES,
    MAX_GEOMETRY_BYTES,
    MAX_INPUT_BYTES,
    MAX_LAYERS,
    check_file_size,
    too_many,
)
from gis.sites.model import Conversion, decoded, RawPlot, RawSite, file_crs_origin
from gis.sites.text import load_json, parts_from_shapely, plot_name, read_geojson

__all__ = ["VECTOR_SUFFIXES", "read_vector"]

VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz")


def read_vector(path: Path, *, encoding: str | None) -> RawSite:
    """Read every feature of every layer of a vector file, each size bounded before it is read."""
    source = path.name
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        check_file_size(path, source=source)
        text, used = decode(path.read_bytes(), encoding=encoding, source=source)
        raw = read_geojson(load_json(text, source=source), source=source)
        raw.conversions.insert(0, decoded(used))
        return raw
    if suffix == ".kmz":
        check_file_size(path, source=source)
        with tempfile.TemporaryDirectory(prefix="ecozone-kmz-") as folder:
            return _read_ogr(_unzip_kml(path, Path(folder)), source, encoding)
    return _read_ogr(path, source, encoding)


def _unzip_kml(path: Path, folder: Path) -> Path:
    """The main .kml of a KMZ (doc.kml, or the first .kml), extracted to ``folder`` with its size capped."""
    with open_zip(path, source=path.name, kind="KMZ") as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".kml")]
        if not names:
            raise FormatError("该 KMZ 中没有 .kml 文件 / the KMZ holds no .kml file", source=path.name, field="site",
                              fix="从地图软件重新导出 KMZ / export the KMZ again from the map tool")
        name = "doc.kml" if "doc.kml" in names else names[0]
        target = folder / "doc.kml"
        copy_member(archive, name, target, limit=MAX_INPUT_BYTES, source=path.name)
        return target


def _layers(path: Path, source: str, notices: list[Notice]) -> list[str]:
    """The spatial layers of a file, each bounded in features; non-spatial tables are skipped."""
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        tables, skipped = feature_tables(path, source=source)
        notices.extend(skipped)
        return tables
    if suffix == ".shp":
        _check_shapefile(path, source)
    else:
        check_file_size(path, source=source)
        if suffix == ".kml":
            with open(path, "rb") as handle:
                check_xml(handle.read(PROLOG_BYTES), source=source, field="site")
    try:
        listed = pyogrio.list_layers(path)
        if len(listed) > MAX_LAYERS:
            raise too_many("图层数", "layers", len(listed), MAX_LAYERS, source=source, field="site",
                           fix="只导出项目地块所在的图层 / export only the layer with the project's plots")
        layers = [str(name) for name, geometry in listed if geometry is not None]
        features = sum(int(pyogrio.read_info(path, layer=layer)["features"]) for layer in layers)
    except (DataSourceError, DataLayerError) as err:
        raise FormatError(f"无法打开文件 / cannot open the file ({_gdal_message(err, path)})", source=source,
                          field="site", fix="检查文件是否完整、能否在 GIS 软件中打开（shapefile 需要 .shx 和 .dbf） / "
                                            "check that the file is complete and opens in a GIS (a shapefile needs "
                                            "its .shx and .dbf)") from None
    if features > MAX_FEATURES:
        raise too_many("要素数", "features", features, MAX_FEATURES, source=source, field="features",
                       fix="分批检查，每次一个项目 / check one project at a time")
    return layers


def _check_shapefile(path: Path, source: str) -> None:
    """Bound a shapefile by its parts' sizes and the record count its .dbf declares, before GDAL opens it."""
    check_file_size(path, source=source, field=".shp", limit=MAX_GEOMETRY_BYTES + 100)
    dbf = sidecar(path, ".dbf")
    if dbf is None:
        return
    check_file_size(dbf, source=source, field=".dbf")
    with open(dbf, "rb") as handle:
        header = handle.read(8)
    records = int.from_bytes(header[4:8], "little") if len(header) == 8 else 0
    if records > MAX_FEATURES:
        raise too_many(".dbf 声明的记录数", "records declared by the .dbf", records, MAX_FEATURES, source=source,
                       field=".dbf", fix="分批检查，或检查 .dbf 是否损坏 / check fewer plots at a time, or check the .dbf")


def _gdal_message(err: Exception, path: Path) -> str:
    """GDAL's message without the folder it read from (a server's upload folder is nobody's business)."""
    text = str(err)
    for folder in {str(path.parent.resolve()), str(path.parent)}:
        text = text.replace(folder + os.sep, "")
    return text


def _read_ogr(path: Path, source: str, encoding: str | None) -> RawSite:
    conversions, notices = [], []
    layers = _layers(path, source, notices)
    if path.suffix.lower() == ".shp":
        encoding = _dbf_encoding(path, encoding, conversions)
        if not path.with_suffix(".prj").exists():
            notices.append(Notice("no_prj", "该 shapefile 缺少 .prj，坐标系按坐标值推断 / the shapefile has no .prj: its CRS is "
                                  "inferred from the coordinates", source=source, level="info",
                                  fix="随 .shp 提供 .prj，或给出 «crs» / ship the .prj with the .shp, or give «crs»"))
    plots, crs, number = [], None, 0
    for layer in layers:
        try:
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, max_features=MAX_FEATURES + 1)
        except (DataSourceError, DataLayerError) as err:
            raise FormatError(f"无法读取图层 {layer!r} / cannot read layer {layer!r} ({_gdal_message(err, path)})",
                              source=source, field=layer, fix="检查文件 / check the file") from None
        except UnicodeDecodeError:
            raise FormatError(
                f"属性名或属性值不是有效的 {encoding or '文本'}：.dbf 的长中文字段名常被截断在字符中间 / the attribute names or "
                f"values are not valid {encoding or 'text'}; in a .dbf a long Chinese "
                "field name is often cut in the middle of a character (names are limited to 10 bytes)",
                source=source, field=layer, fix="字段名改为最多 3 个汉字，或给出 «encoding» / rename the fields to at most 3 Chinese characters, or give "
                    "«encoding»",
            ) from None
        if not hasattr(frame, "geometry"):  # a table without geometry (GDAL lists some as layers)
            continue
        if frame.crs is not None:
            if crs is not None and not crs.equals(frame.crs):
                raise FormatError("该文件各图层的坐标系不同 / the layers of this file have different CRSs",
                                  source=source, field=layer,
                                  fix="每次给出一个图层，或把各图层转换到同一坐标系 / give one layer at a time, or "
                                      "reproject them to one CRS")
            crs = frame.crs
        attributes_frame = frame.drop(columns=frame.geometry.name)
        for index, geom in enumerate(frame.geometry):
            number += 1
            if geom is None:
                raise GeometryError("该要素没有几何 / the feature has no geometry", source=source, row=number,
                                    field="geometry",
                                    fix="删除该要素，或绘出其几何 / delete the feature or draw its geometry")
            attributes = {k: _plain(v) for k, v in attributes_frame.iloc[index].items() if _plain(v) is not None}
            plots.append(RawPlot(parts_from_shapely(geom, source=source, row=number), name=plot_name(attributes),
                                 row=number, attributes=attributes))
    if not plots:
        raise GeometryError("文件中没有要素 / the file has no features", source=source, field="site",
                            fix="给出至少含一个要素的文件 / give a file with at least one feature")
    origin = file_crs_origin(path)
    return RawSite(source=source, plots=plots, crs=crs, crs_origin=origin if crs else "", order="declared",
                   fields=("x", "y"), conversions=conversions, notices=notices)


def _plain(value):
    """Attribute values as JSON-friendly scalars (NaN, NaT and empty as None, anything else as text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float, bool)):
        return None if value == "" or (isinstance(value, float) and math.isnan(value)) else value
    return None if value is None or value is pd.NaT or value is pd.NA else str(value)


def _dbf_encoding(path: Path, encoding: str | None, conversions: list[Conversion]) -> str | None:
    """The .dbf encoding: the user's, the .cpg's (left to GDAL), or detected from the record bytes."""
    if encoding:
        return encoding
    detected, passed_over = dbf_encoding(path)
    if detected and (passed_over is not None or sidecar(path, ".cpg") is None):
        label = "UTF-8" if detected == "UTF-8" else "GBK/GB18030"
        why = (f".cpg 写的是 {passed_over}，但文字不是该编码 / its .cpg says {passed_over}, which the text is not in"
               if passed_over else ".dbf 没有 .cpg / the .dbf has no .cpg")
        conversions.append(Conversion(step="decode", description=f"{why}：文字识别为 {label} / its text was detected "
                                                                 f"as {label}"))
    return detected
