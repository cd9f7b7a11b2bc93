"""A layer version back out as a file: shapefile (with a .cpg, GBK or UTF-8), GeoPackage or GeoJSON, in CGCS2000
(EPSG:4490, the default), WGS 84 or a Gauss-Krüger zone.

Columns are the zone fields under the names ``gis.layer_files`` reads back (``zone_id``, ``name``, ``subtype``,
the jurisdiction as ``行政区`` in a shapefile whose field names stop at 10 bytes ...), then one column per
attribute. Each export is read back as ``layers import`` would read it and its digest compared with the
version's: the report says whether re-importing the file gives the same content, and if not which fields a
format cannot hold (a .dbf cuts texts at 254 bytes and names at 10, and has no lists).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pydantic import BaseModel, Field
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.crs import STORE_CRS, crs_label
from gis.errors import CRSError, EcozoneError, FormatError, InputError
from gis.kinds import ZONE_FIELDS
from gis.layer_files import read_layer_file
from gis.layer_stats import VersionRef
from gis.store import Store, content_digest
from gis.versions import pick_version
from gis.zones import validate_zones

__all__ = ["ENCODINGS", "EXPORT_SUFFIXES", "ExportReport", "export_layer", "shapefile_parts"]

#: Formats by suffix (GDAL driver names).
EXPORT_SUFFIXES = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON"}

#: Text encodings of a shapefile's .dbf (written into its .cpg).
ENCODINGS = {"utf-8": "UTF-8", "gbk": "GBK"}

#: Sidecar files of a shapefile, in the order a zip lists them.
_SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")

#: GeoJSON: every digit of a double (GDAL writes 15 by default), and texts stay texts (not arrays).
_GEOJSON_OPTIONS = {"SIGNIFICANT_FIGURES": "17", "AUTODETECT_JSON_STRINGS": "NO"}

#: CRSs that keep coordinates bit for bit (PROJ applies no shift between WGS 84 and CGCS2000).
_LONLAT = (4326, 4490)


class ExportReport(BaseModel):
    """What was written, and whether importing it again gives the same content."""

    kind: str
    version: VersionRef
    files: list[str]
    crs: str
    encoding: str | None
    features: int
    round_trip: Literal["exact", "differs", "not_checked"] = Field(
        description="exact: the file imports to the version's digest; differs: see round_trip_note; not_checked: "
                    "projected coordinates never come back bit for bit.")
    round_trip_note: str | None
    import_options: dict[str, str] = Field(description="Import options that give that content back "
                                                       "(e.g. geometry_source).")


def shapefile_parts(path: str | Path) -> list[Path]:
    """The files of a shapefile that exist beside ``path``, .shp first."""
    path = Path(path)
    return [p for p in (path.with_suffix(s) for s in _SHAPEFILE_SIDECARS) if p.exists()]


def _target_crs(text: str | None, suffix: str) -> CRS:
    if text is None:
        return CRS.from_epsg(4326 if suffix == ".geojson" else 4490)
    try:
        crs = CRS.from_user_input(text)
    except ProjCRSError:
        raise CRSError("所给坐标系无法识别（PROJ 中没有） / the CRS given is not one PROJ knows", field="crs", value=text,
                       fix="使用 EPSG:4490（CGCS2000 经纬度）、EPSG:4326，或 CGCS2000 高斯-克吕格带坐标系，如 EPSG:4517"
                           "（3° 带第 29 带，横坐标带带号）或 EPSG:4545 / EPSG:4490 (CGCS2000 lon/lat), EPSG:4326, or a "
                           "CGCS2000 Gauss-Krüger zone such as EPSG:4517 (3° zone 29, zone number in the easting) or "
                           "EPSG:4545") from None
    if suffix == ".geojson" and crs.to_epsg() not in _LONLAT:
        raise CRSError("导出的 GeoJSON 只能是经纬度（RFC 7946） / GeoJSON holds longitude/latitude only (RFC 7946)",
                       field="crs", value=text,
                       fix="以 EPSG:4326 或 EPSG:4490 导出 GeoJSON；要投影坐标请导出 .gpkg 或 .shp / export GeoJSON in "
                           "EPSG:4326 or EPSG:4490, or write a .gpkg or .shp for projected output")
    return crs


def _column(values: list[Any]) -> pd.Series:
    """One attribute as a column a GIS file can hold: numbers and booleans keep their type, lists and mappings
    become JSON text."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="float64")
    return pd.Series([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values],
                     dtype=object)


def _dbf_name(name: str, codec: str, taken: set[str]) -> str:
    """A .dbf field name of at most 10 bytes in ``codec``, cut at a character (GDAL cuts bytes, which can split a
    Chinese character and leave a name no reader decodes), and not already taken."""
    cut = name
    while len(cut.encode(codec, errors="replace")) > 10:
        cut = cut[:-1]
    candidate, number = cut, 1
    while candidate in taken:
        suffix = str(number)
        candidate, number = cut[: max(1, len(cut) - len(suffix))] + suffix, number + 1
    return candidate


def _frame(zones: gpd.GeoDataFrame, codec: str | None) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """The zones as file columns (.dbf names when ``codec`` is given), and the import options needed to read
    them back."""
    shapefile = codec is not None
    options: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    sources = set(zones["geometry_source"])
    for name in ZONE_FIELDS:
        if name in ("kind", "attributes"):
            continue
        values = zones[name].tolist()
        if name == "geometry_source" and len(sources) == 1:
            if sources != {"official"}:
                options["geometry_source"] = next(iter(sources))
            continue
        if all(v is None for v in values) and name not in ("zone_id", "name", "subtype"):
            continue
        label = "行政区" if shapefile and name == "jurisdiction" else name
        columns[label] = pd.Series(values, dtype=object)
    keys: list[str] = []
    for attributes in zones["attributes"]:
        keys += [k for k in attributes if k not in keys]
    for key in keys:
        columns.setdefault(str(key), _column([(a or {}).get(key) for a in zones["attributes"]]))
    if shapefile:
        renamed: dict[str, pd.Series] = {}
        for key, value in columns.items():
            renamed[_dbf_name(key, codec, set(renamed))] = value
        columns = renamed
    frame = gpd.GeoDataFrame(columns, geometry=zones.geometry.values, crs=STORE_CRS)
    return frame, options


def _differences(expected: gpd.GeoDataFrame, found: gpd.GeoDataFrame) -> list[str]:
    """Fields (and attribute keys) whose values differ between the version and what the file reads back as."""
    if len(expected) != len(found):
        return [f"feature count {len(expected)} → {len(found)}"]
    names = []
    for name in ZONE_FIELDS:
        if name == "attributes":
            keys = {k for a in expected[name] for k in a} | {k for a in found[name] for k in a}
            names += [f"attributes.{k}" for k in sorted(keys, key=str)
                      if [a.get(k) for a in expected[name]] != [a.get(k) for a in found[name]]
                      or [k in a for a in expected[name]] != [k in a for a in found[name]]]
        elif expected[name].tolist() != found[name].tolist():
            names.append(name)
    if shapely.to_wkb(expected.geometry.values).tolist() != shapely.to_wkb(found.geometry.values).tolist():
        names.append("geometry")
    return names


def export_layer(store: Store, kind: str, path: str | Path, *, version: int | str | None = None,
                 as_of: str | dt.date | None = None, crs: str | None = None, encoding: str = "utf-8",
                 check: bool = True) -> ExportReport:
    """Write version ``version`` of ``kind`` (a number or a date; or the one in force on ``as_of``; default the
    newest) to ``path``, a .shp, .gpkg or .geojson; an existing file is replaced.

    ``crs`` defaults to EPSG:4490 (EPSG:4326 for GeoJSON); ``encoding`` (utf-8 or gbk) applies to a shapefile's
    .dbf and is written to its .cpg. With ``check`` the file is read back to tell whether it imports to the
    same digest.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise FormatError(f"图层不能导出为{suffix or '无扩展名的文件'} / a layer cannot be exported as "
                          f"{suffix or 'a file without a suffix'}", source=str(path),
                          value=suffix, fix="使用以下之一 / use one of " + ", ".join(EXPORT_SUFFIXES))
    if version is not None and as_of is not None:
        raise InputError("版本和日期只能给出一个 / give a version or a date, not both", field="as_of",
                         value=str(as_of),
                         fix="只给版本号，或只给日期（取当日生效的版本） / a version number alone, or the date alone "
                             "(the version in force then)")
    codec = ENCODINGS.get(encoding.lower().replace("_", "-"))
    if codec is None:
        raise InputError(f"「{encoding}」不是导出图层可用的编码 / '{encoding}' is not an encoding a layer is "
                         "exported in", field="encoding", value=encoding, fix="使用 utf-8 或 gbk / use utf-8 or gbk")
    target = _target_crs(crs, suffix)
    chosen = pick_version(store, kind, version if as_of is None else as_of, field="version" if as_of is None
                          else "as_of")
    zones = store.read(kind, chosen.version)
    shapefile = suffix == ".shp"
    frame, options = _frame(zones, codec if shapefile else None)
    projected = frame.to_crs(target)
    if not np.isfinite(shapely.get_coordinates(projected.geometry.values)).all():
        raise InputError(f"坐标系 {crs} 中画不出这些区域（坐标为无穷大） / the zones cannot be drawn in {crs} (their "
                         "coordinates come out infinite)", field="crs", value=crs,
                         fix="用 «crs» 给出覆盖这些区域的坐标系，如 EPSG:4490 或其高斯-克吕格分带 / give as «crs» a CRS "
                             "that covers the zones, e.g. EPSG:4490 or one of its Gauss-Krüger zones")
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (shapefile_parts(path) if shapefile else [path]):
        old.unlink(missing_ok=True)
    with warnings.catch_warnings():  # GDAL's notes on cut field names: the read-back check reports what they lose
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(projected, path, driver=EXPORT_SUFFIXES[suffix],
                                encoding=codec if shapefile else None, promote_to_multi=False,
                                geometry_type="Unknown" if suffix == ".gpkg" else None,
                                layer_options=_GEOJSON_OPTIONS if suffix == ".geojson" else None)
    files = [str(p) for p in (shapefile_parts(path) if shapefile else [path])]
    report = {"kind": kind, "version": VersionRef.of(chosen), "files": files, "crs": crs_label(target),
                  "encoding": codec if shapefile else None, "features": len(zones), "import_options": options}
    if not check:
        return ExportReport(**report, round_trip="not_checked", round_trip_note="not checked")
    if target.to_epsg() not in _LONLAT:
        return ExportReport(**report, round_trip="not_checked", round_trip_note=(
            "projected coordinates come back within a few nanodegrees, not bit for bit: export in EPSG:4490 for "
            "a file that imports to the same digest"))
    try:
        read, _ = read_layer_file(path, kind, geometry_source=options.get("geometry_source", "official"))
        found, _ = validate_zones(read, kind=kind)
    except EcozoneError as error:
        return ExportReport(**report, round_trip="differs", round_trip_note=f"importing this file fails: {error}")
    if content_digest(found) == chosen.content_sha256:
        return ExportReport(**report, round_trip="exact", round_trip_note=None)
    fields = _differences(zones, found)
    return ExportReport(**report, round_trip="differs", round_trip_note=(
        f"importing this file would change: {', '.join(fields)}"
        + (" (a .dbf cuts field names at 10 bytes and texts at 254, and holds no lists); a .gpkg keeps them"
           if shapefile else "")))
