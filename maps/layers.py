"""The layers a map page draws: what the page says of each kind, and the zones of a map tile.

A page carries no geometry and nothing per zone. Per kind it has a label, a count, a legend and the few looks
a zone can have (``maps.style.style_table``); the zones come in vector tiles (``maps.tiles``), read through
the store's spatial index, so the page of a store with a 40,000-polygon layer is no larger than the embedded
dataset's. What the legend needs of a layer version (each zone's subtype, geometry source, validity dates and
envelope, not its geometry) is read once per version and kept.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.cache import BoundedCache
from gis.kinds import GEOMETRY_SOURCES, KINDS
from gis.store import LayerVersion, Snapshot, Store
from gis.zones import OPEN_END, empty_zones
from maps.popups import zone_popup
from maps.style import DRAW_ORDER, kind_legend, park_status, style_table

__all__ = ["DisplayLayers", "LayerRecords", "MapLayers", "StoreLayers", "map_layers", "valid_on"]

Bounds = tuple[float, float, float, float]

#: Columns of a zone a legend needs (a park's attributes are kept too: its status on a date comes from them).
_RECORD_COLUMNS = ("zone_id", "subtype", "geometry_source", "valid_from", "valid_to")


def valid_on(zones: pd.DataFrame, day: str) -> np.ndarray:
    """Mask of the zones valid on ``day`` (ISO) by their own ``valid_from`` / ``valid_to`` (exclusive)."""
    if not len(zones):
        return np.zeros(0, dtype=bool)
    starts = zones["valid_from"].fillna("0000-01-01")
    ends = zones["valid_to"].fillna(OPEN_END)
    return ((starts <= day) & (day < ends)).to_numpy()


@dataclass(frozen=True)
class LayerRecords:
    """The zones of one layer version without their geometry: enough for a legend, a count and the extent."""

    records: pd.DataFrame  # _RECORD_COLUMNS
    bounds: np.ndarray  # (n, 4) lon/lat envelope of each zone
    parks: list[dict[str, Any]] | None  # full rows of an industrial-park layer, for its status on a date

    @classmethod
    def of(cls, zones: gpd.GeoDataFrame) -> LayerRecords:
        """Keep what a legend needs of ``zones`` (one kind)."""
        parks = None
        if len(zones) and (zones["kind"] == "industrial_park").all():
            parks = zones.drop(columns=zones.geometry.name).to_dict("records")
        return cls(records=zones[list(_RECORD_COLUMNS)].reset_index(drop=True),
                   bounds=shapely.bounds(zones.geometry.values).reshape(-1, 4), parks=parks)


class MapLayers(ABC):
    """The layers in force on one date as a page draws them: kinds, legends, and the zones of any box."""

    as_of: dt.date
    versions: dict[str, LayerVersion | None]  # kind -> version in force (None: not from a store version)

    @abstractmethod
    def records(self, kind: str) -> LayerRecords:
        """What the legend needs of ``kind``'s zones (all of them, whatever their validity dates)."""

    @abstractmethod
    def zones(self, kinds: list[str], bounds: Bounds | None) -> gpd.GeoDataFrame:
        """Zones of ``kinds`` valid on ``as_of`` whose envelope meets ``bounds`` (lon/lat; None: all)."""

    def tile_key(self, kind: str) -> tuple | None:
        """What a tile of ``kind`` depends on, to keep it by (None: not worth keeping)."""
        return None

    @cached_property
    def _valid(self) -> dict[str, np.ndarray]:
        day = self.as_of.isoformat()
        return {kind: valid_on(self.records(kind).records, day) for kind in self.versions}

    @property
    def kinds(self) -> list[str]:
        """Kinds with zones valid on the date, bottom to top."""
        return [kind for kind in DRAW_ORDER if kind in self.versions and self._valid[kind].any()]

    @property
    def bounds(self) -> list[float] | None:
        """lon/lat box of every zone drawn, or None when there is none."""
        boxes = [self.records(kind).bounds[self._valid[kind]] for kind in self.kinds]
        if not boxes:
            return None
        boxes = np.vstack(boxes)
        return [float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
                float(boxes[:, 3].max())]

    def kind_spec(self, kind: str) -> dict[str, Any]:
        """What the page needs of one kind apart from its zones: label, count, legend, the looks of its zones."""
        records, valid = self.records(kind), self._valid[kind]
        present = records.records[valid]
        if records.parks is not None:
            shown = {park_status(row, self.as_of) for row, keep in zip(records.parks, valid) if keep}
        else:
            shown = set(present["subtype"])
        sources = sorted(set(present["geometry_source"]))
        version = self.versions.get(kind)
        return {
            "kind": kind,
            "label": KINDS[kind].label_zh,
            "count": int(valid.sum()),
            "point": KINDS[kind].geometry == "point",
            "version": version.version if version else None,
            "geometry_sources": [GEOMETRY_SOURCES.get(s, s) for s in sources],
            "illustrative": "illustrative" in sources,
            "legend": [{"label": label, "style": style} for label, style in kind_legend(kind, shown)],
            "styles": style_table(kind),
        }

    def popup(self, kind: str, zone_id: str, bounds: Bounds) -> str | None:
        """Popup HTML of zone ``zone_id`` of ``kind``, found near ``bounds``; None if it is not there."""
        zones = self.zones([kind], bounds)
        rows = zones[zones["zone_id"] == zone_id].drop(columns=zones.geometry.name).to_dict("records")
        if not rows:
            return None
        row = rows[0]
        return zone_popup(row, park_status(row, self.as_of) if kind == "industrial_park" else None)


#: What the legends need of each layer version, by (store location, kind, version): read once.
_records: BoundedCache[LayerRecords] = BoundedCache(64)


class StoreLayers(MapLayers):
    """The layers of a store in force on a date; a tile's zones are read through the store's spatial index."""

    def __init__(self, store: Store, as_of: dt.date) -> None:
        self.store = store
        self.as_of = as_of
        self.versions = dict(store.in_force(as_of))

    def records(self, kind: str) -> LayerRecords:
        """See ``MapLayers.records``."""
        version = self.versions[kind]
        key = (self.store.location, kind, version.version)
        found = _records.get(key)
        if found is None:
            found = _records.put(key, LayerRecords.of(self.store.read(kind, version.version)))
        return found

    def zones(self, kinds: list[str], bounds: Bounds | None) -> gpd.GeoDataFrame:
        """See ``MapLayers.zones``."""
        if not any(kind in self.versions for kind in kinds):
            return empty_zones()
        if bounds is None:
            zones = self.store.snapshot(self.as_of, kinds=[kind for kind in kinds if kind in self.versions]).zones
        else:
            # Every version in force is asked for, whatever the kinds wanted: a store without a spatial index
            # keeps the one set of versions last read, the set the overlap engine reads too.
            zones = self.store.features(list(self.versions.values()), bounds)
        wanted = zones["kind"].isin(kinds).to_numpy() & valid_on(zones, self.as_of.isoformat())
        return zones if wanted.all() else zones[wanted]

    def tile_key(self, kind: str) -> tuple | None:
        """See ``MapLayers.tile_key``."""
        return (self.store.location, kind, self.versions[kind].version, self.as_of.isoformat())


class DisplayLayers(MapLayers):
    """The zones of one snapshot held in memory (e.g. the administrative units under a change report)."""

    def __init__(self, snapshot: Snapshot, as_of: dt.date) -> None:
        zones = snapshot.zones
        zones = zones[~(zones.geometry.isna() | zones.geometry.is_empty)]
        self.as_of = as_of
        self._zones = {kind: zones[zones["kind"] == kind].reset_index(drop=True) for kind in set(zones["kind"])}
        self.versions = {kind: snapshot.versions.get(kind) for kind in self._zones}
        self._trees: dict[str, shapely.STRtree] = {}
        self._records = {kind: LayerRecords.of(frame) for kind, frame in self._zones.items()}

    def records(self, kind: str) -> LayerRecords:
        """See ``MapLayers.records``."""
        return self._records[kind]

    def zones(self, kinds: list[str], bounds: Bounds | None) -> gpd.GeoDataFrame:
        """See ``MapLayers.zones``."""
        parts = []
        for kind in kinds:
            frame = self._zones.get(kind)
            if frame is None:
                continue
            if bounds is not None:
                if kind not in self._trees:
                    self._trees[kind] = shapely.STRtree(frame.geometry.values)
                frame = frame.iloc[np.sort(self._trees[kind].query(shapely.box(*bounds)))]
            parts.append(frame[valid_on(frame, self.as_of.isoformat())])
        if not parts:
            return empty_zones()
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


def map_layers(store: Store, as_of: dt.date) -> StoreLayers:
    """The store's layers in force on ``as_of``, as the pages and tiles draw them."""
    return StoreLayers(store, as_of)
