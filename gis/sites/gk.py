"""Gauss-Krüger zones of the Chinese datums: EPSG codes from PROJ's database, the zone prefix of Y.

Chinese survey coordinates put the zone number in front of the easting ("大数": Y = 29 548 285 is zone
29, easting 548 285). EPSG has one CRS per zone whose false easting includes that prefix ("zone N") and
one without ("CM λE"); both have axis order X = north, Y = east. The codes are looked up by name in
PROJ's database instead of being hard-coded, for CGCS2000, Xian 1980 and Beijing 1954.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS
from pyproj.database import query_crs_info
from pyproj.enums import PJType

from gis.crs import crs_identity

__all__ = [
    "DATUMS",
    "GKZone",
    "datum_from_text",
    "describe",
    "expected_zone",
    "looks_easting",
    "looks_northing",
    "width_of_zone",
    "zone_band",
    "zone_crs",
    "zone_epsg",
    "zone_of_prefix",
]

#: Datums with Gauss-Krüger zones in EPSG, by the name PROJ uses.
DATUMS = ("CGCS2000", "Xian 1980", "Beijing 1954")

_NAME = re.compile(r"^(CGCS2000|Xian 1980|Beijing 1954) / (3-degree )?Gauss-Kruger (?:zone (\d+)|CM (\d+)E)$")

# How Chinese file headers and users spell the datums.
_DATUM_WORDS = (
    ("CGCS2000", ("2000", "cgcs")),
    ("Xian 1980", ("西安", "xian", "1980", "80")),
    ("Beijing 1954", ("北京", "beijing", "1954", "54")),
)


@dataclass(frozen=True)
class GKZone:
    """One Gauss-Krüger CRS: datum, zone width (3 or 6 degrees), zone number, and prefixed Y or not."""

    datum: str
    width: int
    zone: int
    prefixed: bool

    @property
    def central_meridian(self) -> int:
        """Central meridian of the zone, degrees east."""
        return self.zone * 3 if self.width == 3 else self.zone * 6 - 3


@lru_cache(maxsize=1)
def _table() -> dict[GKZone, int]:
    """Every Chinese Gauss-Krüger CRS in PROJ's EPSG database, keyed by its zone description."""
    table = {}
    for info in query_crs_info(auth_name="EPSG", pj_types=[PJType.PROJECTED_CRS]):
        match = _NAME.match(info.name)
        if not match or info.deprecated:
            continue
        datum, three, zone, cm = match.groups()
        width = 3 if three else 6
        if zone:
            key = GKZone(datum, width, int(zone), True)
        else:
            number = int(cm) // 3 if width == 3 else (int(cm) + 3) // 6
            key = GKZone(datum, width, number, False)
        table[key] = int(info.code)
    return table


def datum_from_text(text: str) -> str | None:
    """The datum a header value such as '2000国家大地坐标系' or '1980西安坐标系' names, or None."""
    low = text.lower()
    for datum, words in _DATUM_WORDS:
        if any(word in low for word in words):
            return datum
    return None


def zone_epsg(key: GKZone) -> int | None:
    """The EPSG code of a zone, or None when EPSG has none (e.g. a zone outside China)."""
    return _table().get(key)


@lru_cache(maxsize=256)  # a register of Gauss-Krüger rows asks for the same zone row after row
def zone_crs(key: GKZone) -> CRS | None:
    """The EPSG CRS for a zone, or None when EPSG has none (e.g. a zone outside China)."""
    code = zone_epsg(key)
    return CRS.from_epsg(code) if code else None


def describe(crs: CRS) -> GKZone | None:
    """The zone description of a Chinese Gauss-Krüger CRS, or None for any other CRS."""
    code = crs_identity(crs)[1]
    for key, value in _table().items():
        if value == code:
            return key
    return None


def zone_of_prefix(easting: float) -> int | None:
    """The zone number carried in front of an easting (29 for 29 548 285), None without a prefix."""
    return int(easting // 1_000_000) if easting >= 1_000_000 else None


def width_of_zone(zone: int) -> int | None:
    """Zone width implied by a Chinese zone number: 6° zones are 13-23, 3° zones 24-45; None otherwise."""
    if 13 <= zone <= 23:
        return 6
    if 24 <= zone <= 45:
        return 3
    return None


def expected_zone(lon: float, width: int) -> int:
    """The zone that contains a longitude."""
    return round(lon / 3) if width == 3 else math.floor(lon / 6) + 1


def zone_band(key: GKZone) -> tuple[float, float]:
    """West and east longitude of a zone."""
    half = key.width / 2
    return key.central_meridian - half, key.central_meridian + half


def looks_northing(value: float | np.ndarray) -> bool | np.ndarray:
    """A Chinese GK northing has 7 integer digits (lat 9°-90°); of one value or of each of many."""
    return (value >= 1_000_000) & (value < 10_000_000)


def looks_easting(value: float | np.ndarray) -> bool | np.ndarray:
    """A GK easting has at most 6 integer digits, or 8 with a Chinese zone prefix (13-45); of one value or of
    each of many."""
    return ((value > 0) & (value < 1_000_000)) | ((value >= 13_000_000) & (value < 46_000_000))
