"""Vector files: Shapefile, GeoPackage, KML/KMZ through pyogrio (GDAL), GeoJSON through ``text``.

Each feature becomes a plot (row = feature number, as in a GIS attribute table). A shapefile without a
.cpg gets its .dbf encoding detected (UTF-8 or GBK), because GDAL would otherwise read Chinese
attributes as Latin-1 mojibake.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from gis.errors import FormatError, GeometryError, Notice
from gis.sites.encoding import dbf_encoding, decode
from gis.sites.model import Conversion, RawPlot, RawSite
from gis.sites.text import parts_from_shapely, plot_name, read_geojson

__all__ = ["read_vector", "VECTOR_SUFFIXES"]

VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz")


def read_vector(path: Path, *, encoding: str | None) -> RawSite:
    """Read every feature of every layer of a vector file."""
    source = path.name
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        text, used = decode(path.read_bytes(), encoding=encoding, source=source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise FormatError(f"invalid JSON: {err.msg}", source=source, row=err.lineno,
                              fix="check the GeoJSON file (brackets, commas, quotes)") from None
        raw = read_geojson(data, source=source)
        raw.conversions.insert(0, Conversion(step="decode", description=f"read the file as {used} text"))
        return raw
    if suffix == ".kmz":
        with tempfile.TemporaryDirectory() as folder:
            return _read_ogr(_unzip_kml(path, Path(folder)), source, encoding)
    return _read_ogr(path, source, encoding)


def _unzip_kml(path: Path, folder: Path) -> Path:
    """The main .kml of a KMZ (doc.kml, or the first .kml), extracted to ``folder``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise FormatError("the KMZ holds no .kml file", source=path.name, fix="export the KMZ again from the map tool")
            name = "doc.kml" if "doc.kml" in names else names[0]
            target = folder / "doc.kml"
            target.write_bytes(archive.read(name))
            return target
    except zipfile.BadZipFile:
        raise FormatError("not a KMZ (zip) file", source=path.name, fix="export the KMZ again, or give the .kml") from None


def _read_ogr(path: Path, source: str, encoding: str | None) -> RawSite:
    conversions, notices = [], []
    if path.suffix.lower() == ".shp":
        encoding = _dbf_encoding(path, encoding, conversions)
        if not path.with_suffix(".prj").exists():
            notices.append(Notice("no_prj", "the shapefile has no .prj: its CRS is inferred from the coordinates",
                                  source=source, level="info", fix="ship the .prj with the .shp, or pass --crs"))
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except (DataSourceError, DataLayerError) as err:
        raise FormatError(f"cannot open the file ({err})", source=source,
                          fix="check that the file is complete (a shapefile needs its .shx and .dbf)") from None
    plots, crs, number = [], None, 0
    for layer in layers:
        try:
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
        except (DataSourceError, DataLayerError) as err:
            raise FormatError(f"cannot read layer {layer!r} ({err})", source=source, fix="check the file") from None
        except UnicodeDecodeError:
            raise FormatError(
                f"the attribute names or values are not valid {encoding or 'text'}; in a .dbf a long Chinese "
                "field name is often cut in the middle of a character (names are limited to 10 bytes)",
                source=source, field=layer, fix="rename the fields to at most 3 Chinese characters, or pass --encoding",
            ) from None
        if frame.crs is not None:
            if crs is not None and not crs.equals(frame.crs):
                raise FormatError("the layers of this file have different CRSs", source=source, field=layer,
                                  fix="give one layer at a time, or reproject them to one CRS")
            crs = frame.crs
        attributes_frame = frame.drop(columns=frame.geometry.name)
        for index, geom in enumerate(frame.geometry):
            number += 1
            if geom is None:
                raise GeometryError("the feature has no geometry", source=source, row=number,
                                    fix="delete the feature or draw its geometry")
            attributes = {k: _plain(v) for k, v in attributes_frame.iloc[index].items() if _plain(v) is not None}
            plots.append(RawPlot(parts_from_shapely(geom, source=source, row=number), name=plot_name(attributes),
                                 row=number, attributes=attributes))
    if not plots:
        raise GeometryError("the file has no features", source=source, fix="give a file with at least one feature")
    origin = ".prj" if path.suffix.lower() == ".shp" else "the file"
    return RawSite(source=source, plots=plots, crs=crs, crs_origin=origin if crs else "", order="declared",
                   fields=("x", "y"), conversions=conversions, notices=notices)


def _plain(value):
    """Attribute values as JSON-friendly scalars (NaN and empty as None)."""
    if value is None or value != value or value == "":
        return None
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _dbf_encoding(path: Path, encoding: str | None, conversions: list[Conversion]) -> str | None:
    """The .dbf encoding: the user's, the .cpg's (left to GDAL), or detected from the record bytes."""
    if encoding:
        return encoding
    detected = dbf_encoding(path)
    if detected:
        label = "UTF-8" if detected == "UTF-8" else "GBK/GB18030"
        conversions.append(Conversion(step="decode", description=f"the .dbf has no .cpg: its text was detected as {label}"))
    return detected
