"""Reading official layer files (shapefile, GeoPackage, GeoJSON) into the zone schema for import.

Natural-resources departments deliver shapefiles whose .dbf is often GBK without a .cpg, in CGCS2000
Gauss-Krüger coordinates, with their own column names. This module finds the encoding, requires a CRS,
reprojects to the store CRS, maps the columns onto the zone fields and keeps every other column as an
attribute. Each assumption it makes is reported as a notice.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.crs import STORE_CRS, crs_label
from gis.errors import CRSError, FieldError, FormatError, Notice
from gis.kinds import get_kind
from gis.sites.encoding import dbf_encoding

__all__ = ["read_layer_file", "resolve_coverage", "detect_dbf_encoding", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}

NAME_COLUMNS = ("name", "名称", "MC", "BHQMC", "保护区名称", "园区名称", "单元名称", "ZQMC", "XZQMC", "QYMC")
ID_COLUMNS = ("zone_id", "id", "编号", "BH", "BSM", "code", "单元编码", "unit_code", "adcode")
SUBTYPE_COLUMNS = ("subtype", "类型", "功能区", "分区", "LX")
JURISDICTION_COLUMNS = ("jurisdiction", "管辖", "行政区", "所属师市", "XZQ")
_SCHEMA_COLUMNS = ("valid_from", "valid_to", "name_en", "source_doc", "source_quote", "geometry_source")

#: Rough box of China (lon, lat): a layer reprojected outside it has a wrong or mis-declared CRS.
_CHINA_BOX = (70.0, 15.0, 140.0, 56.0)


def _find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def _sidecar(path: Path, suffix: str) -> Path | None:
    for candidate in path.parent.glob(path.stem + ".*"):
        if candidate.suffix.lower() == suffix:
            return candidate
    return None


def detect_dbf_encoding(shp: Path) -> tuple[str | None, Notice | None]:
    """The encoding to read a shapefile's .dbf with (None: GDAL follows the .cpg), and a notice if detected."""
    if _sidecar(shp, ".dbf") is None:
        raise FormatError(
            "the shapefile has no .dbf beside it", source=shp.name, fix="copy the .dbf file next to the .shp"
        )
    detected = dbf_encoding(shp)
    if detected != "GB18030":
        return detected, None
    return detected, Notice(
        code="encoding_detected", level="info", source=shp.name,
        message="no .cpg file: the .dbf text was read as GBK/GB18030 (it is not valid UTF-8)",
        fix="add a .cpg file to make the encoding explicit",
    )


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


def _restore_truncated_names(frame: gpd.GeoDataFrame, kind: str, source: str, notices: list[Notice]):
    """Give back the full names of required attributes that a .dbf cut to 10 characters."""
    renames = {}
    for wanted in get_kind(kind).required_attributes:
        cut = wanted[:10]
        if wanted not in frame.columns and cut != wanted and cut in frame.columns:
            renames[cut] = wanted
            notices.append(Notice(
                code="field_name_restored", level="info", source=source, field=cut,
                message=f"column '{cut}' read as '{wanted}' (shapefiles cut field names to 10 characters)",
            ))
    return frame.rename(columns=renames)


def _parse_crs(text: str | None) -> CRS | None:
    if text is None:
        return None
    try:
        return CRS.from_user_input(text)
    except ProjCRSError:
        raise CRSError(
            "the CRS given is not one PROJ knows", field="crs", value=text,
            fix="give an EPSG code, e.g. EPSG:4490 (CGCS2000 lon/lat) or EPSG:4517 (CGCS2000 3° GK zone 29)",
        ) from None


def _subtype_code(value: Any, kind: str, *, source: str, row: int, field: str) -> str | None:
    value = _plain(value)
    if value is None or value == "":
        return None
    spec = get_kind(kind)
    text = str(value).strip()
    if text in spec.subtypes:
        return text
    by_label = {label: code for code, label in spec.subtypes.items()}
    if text in by_label:
        return by_label[text]
    raise FieldError(
        f"'{text}' is not a subtype of kind '{kind}'", source=source, row=row, field=field, value=text,
        fix="use one of: " + ", ".join(f"{code} ({label})" for code, label in spec.subtypes.items()),
    )


def read_layer_file(
    path: str | os.PathLike,
    kind: str,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    name_field: str | None = None,
    id_field: str | None = None,
    subtype: str | None = None,
    geometry_source: str = "official",
    source_doc: str | None = None,
) -> tuple[gpd.GeoDataFrame, list[Notice]]:
    """Read a layer file into the zone schema (not yet validated: ``Store.import_layer`` does that).

    Returns the features in the store CRS and the notices about what was assumed or converted.
    """
    path = Path(path)
    get_kind(kind)
    name = path.name
    if not path.exists():
        raise FormatError("the file does not exist", source=str(path), fix="check the path")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FormatError(
            f"'{suffix or path.name}' files cannot be imported as layers", source=name,
            fix="convert it to a shapefile, GeoPackage or GeoJSON (" + ", ".join(SUPPORTED_SUFFIXES) + ")",
        )
    if subtype:
        subtype = _subtype_code(subtype, kind, source=name, row=None, field="subtype")
    notices: list[Notice] = []
    if suffix == ".shp" and encoding is None:
        encoding, notice = detect_dbf_encoding(path)
        notices += [notice] if notice else []
    if suffix == ".gpkg" and layer is None:
        try:
            layers = [entry[0] for entry in pyogrio.list_layers(path)]
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise FormatError(f"GDAL cannot open the file ({exc})", source=name,
                              fix="check that it opens in QGIS") from None
        if len(layers) > 1:
            raise FormatError(
                f"the GeoPackage holds {len(layers)} layers", source=name, field="layer",
                fix="choose one with --layer: " + ", ".join(layers),
            )
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FormatError(f"GDAL cannot read the file ({exc})", source=name, fix="check that it opens in QGIS") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise FormatError("the file has no geometries", source=name, fix="import a spatial layer")

    declared = _parse_crs(crs)
    if frame.crs is None:
        if declared is None:
            raise CRSError(
                "the file declares no coordinate reference system", source=name, field="crs",
                fix="add a .prj file (e.g. exported with the layer from ArcGIS or QGIS), or pass --crs: "
                "EPSG:4490 for CGCS2000 lon/lat, EPSG:4513-4533 for CGCS2000 3° Gauss-Krüger zones 25-45 with "
                "the zone number in front of the easting, EPSG:4534-4554 without it",
            )
        frame = frame.set_crs(declared)
        notices.append(Notice(code="crs_declared", level="info", source=name,
                              message=f"CRS taken from --crs: {crs_label(declared)}"))
    elif declared is not None and not frame.crs.equals(declared):
        raise CRSError(
            f"the file declares {crs_label(frame.crs)} but --crs says {crs_label(declared)}", source=name,
            field="crs", value=crs, fix="drop --crs if the file's own CRS is right, or fix the file's .prj",
        )
    if suffix == ".shp":
        # The format fixes the ring order (exteriors clockwise), so it says nothing about the data: read rings in
        # RFC 7946's order, the one of the other formats, and a layer exported and imported again keeps its digest.
        frame = frame.set_geometry(shapely.orient_polygons(frame.geometry.values))
    source_crs = frame.crs
    if not source_crs.equals(STORE_CRS):
        frame = frame.to_crs(STORE_CRS)
        notices.append(Notice(code="reprojected", level="info", source=name,
                              message=f"reprojected from {crs_label(source_crs)} to {crs_label(STORE_CRS)}"))
    minx, miny, maxx, maxy = frame.total_bounds
    if minx < _CHINA_BOX[0] or miny < _CHINA_BOX[1] or maxx > _CHINA_BOX[2] or maxy > _CHINA_BOX[3]:
        raise CRSError(
            f"after reprojection from {crs_label(source_crs)} the features lie at lon {minx:.2f}..{maxx:.2f}, "
            f"lat {miny:.2f}..{maxy:.2f}, outside China", source=name, field="crs",
            fix="the declared CRS does not match the coordinates: check the Gauss-Krüger zone, and whether the "
            "eastings carry the zone number in front (EPSG:4513-4533) or not (EPSG:4534-4554)",
        )

    frame = _restore_truncated_names(frame, kind, name, notices)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    name_col = name_field or _find_column(columns, NAME_COLUMNS)
    if name_col is None or name_col not in columns:
        raise FieldError(
            "no column holds the zone names" if name_field is None else f"there is no column '{name_field}'",
            source=name, field=name_field or "name",
            fix="pass --name-field with one of the columns: " + ", ".join(columns),
        )
    id_col = id_field or _find_column(columns, ID_COLUMNS)
    if id_field is not None and id_field not in columns:
        raise FieldError(f"there is no column '{id_field}'", source=name, field=id_field,
                         fix="pass --id-field with one of the columns: " + ", ".join(columns))
    subtype_col = None if subtype else _find_column(columns, SUBTYPE_COLUMNS)
    jurisdiction_col = _find_column(columns, JURISDICTION_COLUMNS)
    schema_cols = {c: _find_column(columns, (c,)) for c in _SCHEMA_COLUMNS}
    used = {name_col, id_col, subtype_col, jurisdiction_col, *schema_cols.values()} - {None}

    names = [str(_plain(v)).strip() if _plain(v) is not None else "" for v in frame[name_col]]
    if id_col is not None:
        ids = [str(_plain(v)).strip() if _plain(v) is not None else "" for v in frame[id_col]]
    elif len(set(names)) == len(names):
        ids = names
        notices.append(Notice(
            code="ids_from_names", level="info", source=name, field=name_col,
            message=f"no id column: zone ids are the names in '{name_col}'",
            fix="pass --id-field to keep ids stable when names change between versions",
        ))
    else:
        raise FieldError(
            f"no id column, and the names in '{name_col}' repeat, so zones cannot be told apart", source=name,
            field="zone_id", fix="pass --id-field with a column of unique codes: " + ", ".join(columns),
        )

    records = []
    for i, row in enumerate(frame[columns].itertuples(index=False, name=None)):
        values = dict(zip(columns, row))
        row_number = i + 1
        record = {
            "zone_id": ids[i],
            "kind": kind,
            "name": names[i],
            "subtype": subtype if subtype else _subtype_code(
                values.get(subtype_col), kind, source=name, row=row_number, field=subtype_col or "subtype"
            ),
            "jurisdiction": _plain(values.get(jurisdiction_col)) if jurisdiction_col else None,
            "attributes": {c: _plain(values[c]) for c in columns if c not in used},
            "source_doc": source_doc or name,
            "geometry_source": geometry_source,
        }
        for field_name, col in schema_cols.items():
            if col is not None:  # None where empty (a key missing from some records would become NaN)
                record[field_name] = _plain(values[col])
        records.append(record)
    zones = gpd.GeoDataFrame(records, geometry=frame.geometry.values, crs=STORE_CRS)
    return zones, notices


def resolve_coverage(spec: str | None, store) -> tuple[shapely.Geometry | None, Notice]:
    """The coverage of an imported layer from ``--coverage``: ``all``, ``admin:CODE,...`` or a polygon file.

    Without ``spec`` the layer is taken as complete over every county-level unit of the store's
    administrative layer (or everywhere, if the store has none); the notice says which, and how to narrow it.
    """
    if spec is None or spec.startswith("admin:"):
        admin = store.snapshot(kinds=["admin_division"]).zones
        if spec is None:
            units = admin[admin["subtype"].isin(["county", "bingtuan_city", "province"])]
            if units.empty:
                return None, Notice(code="coverage_default", level="info", field="coverage",
                                    message="coverage: the layer counts as complete everywhere (the store has no "
                                    "administrative layer)", fix="pass --coverage admin:CODE,... or a polygon file")
            return shapely.union_all(units.geometry.values), Notice(
                code="coverage_default", level="info", field="coverage",
                message="coverage: the layer counts as complete over every administrative unit of the store",
                fix="if the file covers less (e.g. only 兵团 land), pass --coverage admin:659001,... or a polygon file",
            )
        codes = [c.strip() for c in spec.removeprefix("admin:").split(",") if c.strip()]
        found = admin[[a.get("adcode") in codes for a in admin["attributes"]]]
        missing = sorted(set(codes) - {a["adcode"] for a in found["attributes"]})
        if missing or not codes:
            raise FieldError(
                "no administrative unit with that code in the store", field="coverage", value=", ".join(missing),
                fix="use adcodes of the admin_division layer, e.g. --coverage admin:659001,659004",
            )
        return shapely.union_all(found.geometry.values), Notice(
            code="coverage", level="info", field="coverage", message=f"coverage: administrative units {', '.join(codes)}")
    if spec == "all":
        return None, Notice(code="coverage", level="info", field="coverage",
                            message="coverage: the layer counts as complete everywhere")
    frame = pyogrio.read_dataframe(spec) if Path(spec).exists() else None
    if frame is None or frame.crs is None or not frame.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise FieldError(
            "the coverage must be 'all', 'admin:CODE,...' or a polygon file with a CRS", field="coverage",
            value=spec, fix="e.g. --coverage admin:659001 or --coverage 兵团范围.shp",
        )
    return shapely.union_all(frame.to_crs(STORE_CRS).geometry.values), Notice(
        code="coverage", level="info", field="coverage", message=f"coverage: the polygons of {Path(spec).name}")
