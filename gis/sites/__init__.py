"""Reading project sites from what permit officers actually hold, into checked WGS 84 geometry.

``read_site`` / ``read_sites`` accept a path (国土 TXT, .csv, .xlsx, .shp, .gpkg, .geojson, .kml, .kmz)
or a text (coordinate pairs in decimal or DMS, WKT, GeoJSON). Every conversion applied is recorded in the
result, and every problem is an ``gis.errors.InputError`` or a notice naming the file, row, field, value
and fix.
"""

from __future__ import annotations

import errno
import os
from os import PathLike
from pathlib import Path
from typing import Any

from gis.errors import FormatError
from gis.sites.build import build_sites, combine
from gis.sites.checks import XINJIANG_BBOX, CoveredArea
from gis.sites.encoding import decode
from gis.sites.files import VECTOR_SUFFIXES, read_vector
from gis.sites.limits import check_file_size
from gis.sites.model import Conversion, decoded, Plot, RawSite, Site, SourceCRS
from gis.sites.tables import read_table
from gis.sites.text import parse_text
from gis.sites.txt import is_txt, read_txt

__all__ = ["SUFFIXES", "XINJIANG_BBOX", "EMBEDDED_COVERAGE", "CoveredArea", "site_file", "Conversion", "Plot", "Site", "SourceCRS", "parse", "read_site", "read_sites"]

#: File types read by suffix.
SUFFIXES = (".txt", ".csv", ".xlsx", ".wkt") + VECTOR_SUFFIXES
#: Longest path and longest file name the system takes (text longer than these is never a path).
_PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096
_NAME_MAX = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255


def parse(source: str | PathLike, *, encoding: str | None = None) -> RawSite:
    """Parse a path or a text into a ``RawSite`` without checks (an existing file path is read as a file)."""
    path = Path(source) if isinstance(source, PathLike) else site_file(source)
    if path is None:
        return parse_text(str(source))
    try:
        if not path.is_file():
            raise FormatError("找不到文件 / file not found", source=str(path), field="site", value=str(path),
                              fix="检查文件路径 / check the path")
        return _parse_file(path, encoding)
    except OSError as err:  # unreadable (permissions, I/O), or a name the system refuses
        raise FormatError(f"无法读取文件 / cannot read the file ({err.strerror or err})", source=path.name,
                          field="site", fix="检查路径，并确认文件可以读取 / check the path and that the file may be "
                                            "read") from None


def _parse_file(path: Path, encoding: str | None) -> RawSite:
    """The reader for the file's suffix."""
    suffix = path.suffix.lower()
    if suffix in (".txt", ".wkt"):
        check_file_size(path, source=path.name)
        text, used = decode(path.read_bytes(), encoding=encoding, source=path.name)
        if is_txt(text):
            return read_txt(text, source=path.name, encoding=used)
        raw = parse_text(text, source=path.name)
        raw.conversions.insert(0, decoded(used))
        return raw
    if suffix in (".csv", ".xlsx"):
        return read_table(path, encoding=encoding)
    if suffix in VECTOR_SUFFIXES:
        return read_vector(path, encoding=encoding)
    fixes = {".xls": "另存为 .xlsx / save it as .xlsx",
             ".zip": "解压后提供 .shp（连同 .dbf、.shx、.prj） / unzip it and give the .shp (with its .dbf, .shx, .prj)"}
    raise FormatError(
        f"不支持读取{suffix or '无扩展名的'}文件 / ecozone does not read {suffix or 'files without a suffix'}",
        source=path.name, field="site", value=suffix,
        fix=fixes.get(suffix, f"使用以下格式之一 / use one of {', '.join(SUFFIXES)}"),
    )


def site_file(text: str) -> Path | None:
    """The file ``text`` names, or None when it is a site typed as text.

    Text that cannot be a file name (a line break, a NUL, a JSON object, longer than the system allows a path
    or any of its parts to be) is text without asking the file system; otherwise an existing file wins, and
    a name ending in a file type ecozone reads is a file that is missing.
    """
    candidate = text.strip()
    if not candidate or candidate[0] in "{[" or any(c in candidate for c in "\n\r\x00"):
        return None
    encoded = candidate.encode("utf-8", "surrogateescape")
    if len(encoded) >= _PATH_MAX or any(len(part) > _NAME_MAX for part in encoded.split(b"/")):
        return None
    path = Path(candidate)
    try:
        if path.is_file():
            return path
        if path.is_dir() and not _looks_like_coordinates(candidate):
            raise FormatError("这是文件夹，不是文件 / this is a folder, not a file", source=text, field="site", value=text,
                              fix="给出文件夹中的项目文件（.txt、.shp、.xlsx …） / give the project's file in the folder "
                                  "(.txt, .shp, .xlsx ...)")
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            return None
        raise FormatError(f"无法读取文件 / cannot read the file ({err.strerror})", source=path.name, field="site",
                          fix="检查路径，并确认文件可以读取 / check the path and that the file may be read") from None
    if path.suffix.lower() in SUFFIXES + (".xls", ".zip"):
        raise FormatError("找不到文件 / file not found", source=text, field="site", value=text,
                          fix="检查文件路径 / check the path")
    return None


class _EmbeddedCoverage:
    """The default ``coverage``: the area the embedded dataset's layers cover (made when first needed)."""

    def __repr__(self) -> str:
        return "the area the embedded dataset covers"


#: Default of ``coverage``: where the embedded dataset's layers are (Xinjiang and Inner Mongolia).
EMBEDDED_COVERAGE = _EmbeddedCoverage()


def _coverage(coverage):
    if coverage is EMBEDDED_COVERAGE:
        from gis.check import covered_area
        from gis.store import open_store

        with open_store() as store:
            return covered_area(store)
    return coverage


def read_sites(source: str | PathLike, *, crs: Any = None, gk_zone: int | None = None, datum: str = "wgs84",
               swap_xy: bool | None = None, encoding: str | None = None,
               coverage: CoveredArea | tuple[float, float, float, float] | None = EMBEDDED_COVERAGE) -> list[Site]:
    """Read every plot (or table row) of ``source`` as its own ``Site``.

    Parameters
    ----------
    source : a path, or a text: coordinates ("87.6, 43.8", DMS, several vertices), WKT or GeoJSON.
    crs : the input's CRS (EPSG code or any pyproj input), overriding what the file says.
    gk_zone : Gauss-Krüger zone number for Y values without the zone prefix (3°: 24-45, 6°: 13-23).
    datum : "gcj02" (Amap, Tencent) or "bd09" (Baidu) for lon/lat copied from those maps.
    swap_xy : True swaps the two values of every vertex; False forbids inferring a swap; None infers
        the order where the input does not declare it and refuses a declared order the values contradict.
    encoding : text encoding of the file; detected (UTF-8 or GBK/GB18030) when None.
    coverage : the area the layers cover (``gis.check.covered_area(store)``, or a (minx, miny, maxx, maxy) box in
        degrees); a site far outside it is refused. Default the embedded dataset's; None disables the check.
    """
    raw = parse(source, encoding=encoding)
    return build_sites(raw, crs=crs, gk_zone=gk_zone, datum=datum, swap_xy=swap_xy, coverage=_coverage(coverage))


def read_site(source: str | PathLike, *, crs: Any = None, gk_zone: int | None = None, datum: str = "wgs84",
              swap_xy: bool | None = None, encoding: str | None = None,
              coverage: CoveredArea | tuple[float, float, float, float] | None = EMBEDDED_COVERAGE) -> Site:
    """Read ``source`` as one ``Site``; several plots become one multi-geometry listing each in ``plots``.

    Parameters are those of ``read_sites``.
    """
    raw = parse(source, encoding=encoding)
    attributes = dict(raw.attributes)
    sites = build_sites(raw, crs=crs, gk_zone=gk_zone, datum=datum, swap_xy=swap_xy, coverage=_coverage(coverage))
    return combine(sites, attributes)


def _looks_like_coordinates(text: str) -> bool:
    """Whether a text that names a folder too is more likely coordinates (``87,43`` can be both)."""
    return any(c.isdigit() for c in text) and not any(c in text for c in "/\\")
