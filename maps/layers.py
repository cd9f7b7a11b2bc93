"""The store's layers prepared for display: styles and popups once per zone, geometry per zoom level.

A page must stay light although the administrative divisions and the control-unit tiling hold about half a
million vertices. Each large layer is therefore simplified at a few display levels, each for a range of
zooms, with a tolerance of half a screen pixel at the deepest zoom of its range; the page draws the level
that fits the zoom. Small layers are sent once, unsimplified. Only the display is simplified: checks run on
the full geometry in the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely

from gis.kinds import GEOMETRY_SOURCES, KINDS
from gis.store import Snapshot
from maps.popups import zone_popup
from maps.style import DRAW_ORDER, kind_legend, park_status, zone_style

__all__ = ["LEVELS", "SIMPLIFY_ABOVE", "DisplayLayers", "Level"]


@dataclass(frozen=True)
class Level:
    """One display level: drawn up to ``max_zoom`` (None = every deeper zoom), simplified by ``tolerance``°."""

    max_zoom: int | None
    tolerance: float


def _half_pixel(zoom: int) -> float:
    """Half a screen pixel at ``zoom``, in degrees of longitude (256-pixel Web Mercator tiles)."""
    return 360 / 256 / 2**zoom / 2


#: Levels of a large layer; the last one serves every zoom from 11 on (half a pixel at zoom 12).
LEVELS = (Level(6, _half_pixel(6)), Level(8, _half_pixel(8)), Level(10, _half_pixel(10)),
          Level(None, _half_pixel(12)))

#: A layer with more vertices than this is drawn by level; smaller ones are sent once, unsimplified.
SIMPLIFY_ABOVE = 5_000

#: Decimals kept in displayed coordinates (1e-5° ≈ 1 m).
DECIMALS = 5

_FULL = (Level(None, 0.0),)


class DisplayLayers:
    """The zones of one snapshot, ready to draw on the snapshot's date."""

    def __init__(self, snapshot: Snapshot, as_of: dt.date) -> None:
        zones = snapshot.zones
        zones = zones[~(zones.geometry.isna() | zones.geometry.is_empty)]
        self.as_of = as_of
        self.versions = {kind: version.version for kind, version in snapshot.versions.items()}
        self._zones = {kind: zones[zones["kind"] == kind] for kind in DRAW_ORDER if (zones["kind"] == kind).any()}
        self._levels: dict[tuple[str, int], str] = {}
        self.bounds = [float(v) for v in zones.total_bounds] if len(zones) else None

    @property
    def kinds(self) -> list[str]:
        """Kinds present, bottom to top."""
        return list(self._zones)

    def levels(self, kind: str) -> tuple[Level, ...]:
        """Display levels of a kind: LEVELS for a large layer, one full-resolution level otherwise."""
        vertices = int(shapely.get_num_coordinates(self._zones[kind].geometry.values).sum())
        return LEVELS if vertices > SIMPLIFY_ABOVE else _FULL

    def level_json(self, kind: str, level: int) -> str:
        """JSON ``[[zone_id, GeoJSON geometry], ...]`` of one level of one kind (computed once)."""
        key = (kind, level)
        if key not in self._levels:
            frame = self._zones[kind]
            tolerance = self.levels(kind)[level].tolerance
            geoms = frame.geometry.values
            if tolerance:
                geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
            geoms = shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))
            texts = shapely.to_geojson(geoms)
            self._levels[key] = "[" + ",".join(
                f"[{json.dumps(zone_id)},{text}]" for zone_id, text in zip(frame["zone_id"], texts)
            ) + "]"
        return self._levels[key]

    @cached_property
    def _park_status(self) -> dict[str, str]:
        parks = self._zones.get("industrial_park")
        if parks is None:
            return {}
        return {row["zone_id"]: park_status(row, self.as_of)
                for row in parks.drop(columns="geometry").to_dict("records")}

    def kind_spec(self, kind: str) -> dict[str, Any]:
        """What the page needs of one kind apart from geometry: label, count, legend, each zone's look and popup."""
        frame = self._zones[kind]
        spec = KINDS[kind]
        zones = {}
        statuses = set()
        for row in frame.drop(columns="geometry").to_dict("records"):
            status = self._park_status.get(row["zone_id"])
            statuses.add(status if kind == "industrial_park" else row["subtype"])
            zones[row["zone_id"]] = {
                "name": row["name"],
                "style": zone_style(kind, row["subtype"], row["geometry_source"], status),
                "popup": zone_popup(row, status),
            }
        sources = sorted(set(frame["geometry_source"]))
        return {
            "kind": kind,
            "label": spec.label_zh,
            "count": len(frame),
            "point": spec.geometry == "point",
            "version": self.versions.get(kind),
            "geometry_sources": [GEOMETRY_SOURCES[s] for s in sources],
            "illustrative": "illustrative" in sources,
            "legend": [{"label": label, "style": style} for label, style in kind_legend(kind, statuses)],
            "zones": zones,
            "levels": [{"max_zoom": level.max_zoom} for level in self.levels(kind)],
        }
