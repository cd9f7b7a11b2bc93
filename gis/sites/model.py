"""The result of reading a site (``Site``), and the raw form every reader produces before checks run.

Readers only parse: they turn a file or a string into ``RawSite`` (numbers in the order the reader
understood, each vertex with the row the user sees). ``gis.sites.build`` then runs the same CRS
resolution, plausibility checks and transforms for every format, so a rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS

from gis.errors import Notice

__all__ = [
    "CRS_ORIGINS_ZH",
    "FILE_CRS_ORIGINS",
    "Conversion",
    "GKHint",
    "Plot",
    "RawPart",
    "RawPlot",
    "RawRing",
    "RawSite",
    "Site",
    "SourceCRS",
    "file_crs_origin",
    "parts_from_points",
]

#: Where a CRS came from when a GIS file declares it (``RawSite.crs_origin``): its features' axes are the file's.
FILE_CRS_ORIGINS = (".prj", "the file")
#: Where a site's CRS came from (``SourceCRS.origin``, which the readers set in English), as an officer reads it.
CRS_ORIGINS_ZH = {
    "given (crs)": "给出的坐标系", "given (gk_zone)": "给出的带号", "column 带号": "带号列", "Y zone prefix": "Y 值前的带号",
    "inferred: the values are degrees": "按坐标值推断：数值为经纬度", ".prj": ".prj 文件", "the file": "文件本身",
    "WKT SRID": "WKT 的 SRID", "GeoJSON 'crs' member": "GeoJSON 的 crs 成员",
    "GeoJSON (RFC 7946: WGS 84)": "GeoJSON 规定的 WGS 84（RFC 7946）", "TXT header [属性描述]": "TXT 文件头 [属性描述]",
}


def file_crs_origin(path: Path) -> str:
    """Where a GIS file's CRS comes from (``RawSite.crs_origin``): a shapefile's .prj (zipped or not), else the
    file itself; the same for ``ecozone check`` and the batch, in their hints alike."""
    return FILE_CRS_ORIGINS[0] if path.suffix.lower() in (".shp", ".zip") else FILE_CRS_ORIGINS[1]


class Conversion(BaseModel):
    """One change applied to the input, in the order applied: a decoding, an axis swap, a transform, a repair."""

    step: str = Field(description="Machine-readable name, e.g. 'proj_transform', 'gcj02_to_wgs84'.")
    description: str = Field(description="What was done, in plain language.")


def decoded(encoding: str) -> Conversion:
    """The record of reading a file's bytes as text in ``encoding``."""
    return Conversion(step="decode", description=f"按 {encoding} 编码读取文字 / read the file as {encoding} text")


class SourceCRS(BaseModel):
    """The coordinate system the input was written in."""

    label: str
    epsg: int | None = None
    origin: str = Field(description="Where the CRS came from: option, file header, .prj, inferred ...")


class Plot(BaseModel):
    """One plot (地块) of a site, with its own attributes."""

    name: str | None = None
    row: int | None = Field(default=None, description="Row where the plot starts in the input.")
    attributes: dict[str, Any] = Field(default_factory=dict)
    geometry: dict[str, Any]
    area_m2: float | None = None


class Site(BaseModel):
    """A project site read from user input: exact geometry in WGS 84 lon/lat and how it got there."""

    model_config = ConfigDict(frozen=True)

    geometry: dict[str, Any] = Field(description="GeoJSON geometry, WGS 84 lon/lat, RFC 7946 winding.")
    name: str | None = None
    source: str = Field(description="File name, or 'text' for a coordinate string.")
    source_crs: SourceCRS
    datum: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    conversions: list[Conversion] = Field(default_factory=list)
    notices: list[dict[str, Any]] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    plots: list[Plot] = Field(default_factory=list)
    area_m2: float | None = Field(default=None, description="Geodesic area on WGS 84 (polygons only).")

    @property
    def shape(self) -> shapely.Geometry:
        """The geometry as a shapely object (lon/lat)."""
        return shapely.geometry.shape(self.geometry)


@dataclass
class RawRing:
    """Vertices as (east or lon, north or lat) in the reader's understanding, with the user's row of each."""

    coords: list[tuple[float, float]]
    rows: list[Any]


@dataclass
class RawPart:
    """A point, a line or a polygon (``rings[0]`` outer, the rest holes or, if outside it, extra parts)."""

    kind: Literal["point", "line", "polygon"]
    rings: list[RawRing]


@dataclass
class RawPlot:
    """A plot as parsed: its parts and attributes."""

    parts: list[RawPart]
    name: str | None = None
    row: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    declared_area_m2: float | None = None


@dataclass
class GKHint:
    """Gauss-Krüger facts a file declares (国土 TXT header): datum, zone width, zone number."""

    datum: str | None = None
    width: int | None = None
    zone: int | None = None
    origin: str = "file header"


@dataclass
class RawSite:
    """What a reader hands to ``build``: plots plus what the input itself says about its coordinates.

    ``order`` is "declared" when the format fixes which number is east and which north (GeoJSON, WKT,
    国土 TXT, labelled columns, hemisphere letters), "unknown" for bare number pairs: a contradiction of a
    declared order is an error, an unknown order is inferred and recorded.
    """

    source: str
    plots: list[RawPlot]
    crs: CRS | None = None
    crs_origin: str = ""
    order: Literal["declared", "unknown"] = "unknown"
    fields: tuple[str, str] = ("x", "y")
    gk: GKHint | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    conversions: list[Conversion] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


def parts_from_points(points: list[tuple[int, float, float, Any]], kind: str) -> list[RawPart]:
    """Group vertex rows ``(圈号, east, north, row)`` into rings and parts, as 拐点 tables list them.

    A new ring starts when 圈号 changes; 圈号 1 coming back starts a new part (a multi-part plot).
    """
    parts: list[RawPart] = []
    previous = None
    for ring, east, north, row in points:
        if ring != previous:
            if ring == 1 or not parts:
                parts.append(RawPart(kind, []))
            parts[-1].rings.append(RawRing([], []))
            previous = ring
        parts[-1].rings[-1].coords.append((east, north))
        parts[-1].rings[-1].rows.append(row)
    return parts
