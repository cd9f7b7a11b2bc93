"""The zone layers as GeoJSON features for OGC API - Features: one layer per zone kind, paged and filtered.

A layer's catalogue (ids, dates, envelopes; no geometry) is read from the store once per (store, kind, version
in force, date) and kept; a page reads only its own features, so paging a layer of 40,000 polygons costs what
paging one of 40 does. Geometries are served as RFC 7946 GeoJSON in CRS84 (lon/lat, exterior
rings counter-clockwise, 7 decimals ≈ 1 cm), or, per OGC API - Features Part 2, in EPSG:4326 or EPSG:4490
(CGCS2000) in their authority axis order (latitude first).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.cache import BoundedCache
from gis.kinds import ZONE_FIELDS
from gis.store import LayerVersion, Store
from gis.store.base import CATALOGUE_COLUMNS
from gis.zones import OPEN_END

__all__ = ["CRS84", "CRS_URIS", "Layer", "LayerCache", "to_crs84_bbox", "geometry_json"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: CRSs served (Part 2): URI -> EPSG code (None for CRS84, the store's own lon/lat).
CRS_URIS: dict[str, int | None] = {
    CRS84: None,
    "http://www.opengis.net/def/crs/EPSG/0/4326": 4326,
    "http://www.opengis.net/def/crs/EPSG/0/4490": 4490,
}
#: Properties every feature carries, from the zone's common fields (attributes are added after them).
COMMON_PROPERTIES = tuple(name for name in ZONE_FIELDS if name not in ("kind", "attributes"))

_DECIMALS = 7
_CACHE_SIZE = 32


def _transformer(epsg: int, inverse: bool = False) -> Transformer:
    """CRS84 <-> EPSG:code in the authority's axis order (latitude first for 4326 and 4490)."""
    source, target = ("OGC:CRS84", f"EPSG:{epsg}") if not inverse else (f"EPSG:{epsg}", "OGC:CRS84")
    return Transformer.from_crs(source, target)


_TRANSFORMERS = {(code, inverse): _transformer(code, inverse) for code in (4326, 4490) for inverse in (False, True)}


def geometry_json(geometries: np.ndarray, epsg: int | None) -> list[dict[str, Any]]:
    """GeoJSON geometry objects of CRS84 geometries, reprojected to ``epsg`` (authority axis order) if given."""
    if epsg is not None:
        transformer = _TRANSFORMERS[(epsg, False)]

        def project(coords: np.ndarray) -> np.ndarray:
            first, second = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack((first, second))

        geometries = shapely.transform(geometries, project)
    geometries = shapely.transform(geometries, lambda coords: np.round(coords, _DECIMALS))
    return [shapely.geometry.mapping(g) for g in geometries]


def to_crs84_bbox(bbox: tuple[float, float, float, float], epsg: int | None) -> tuple[float, float, float, float]:
    """A bbox given in ``epsg`` (authority axis order) as lon/lat; CRS84 boxes pass through."""
    if epsg is None:
        return bbox
    return _TRANSFORMERS[(epsg, True)].transform_bounds(*bbox)


#: Degrees by which a store's envelope may lie outside the true one (single-precision R-tree bounds).
_ENVELOPE_SLACK = 1e-4


@dataclass
class Layer:
    """The features of one kind in force on one date, as a catalogue (ids, dates, envelopes, no geometry):
    counting, selecting and paging cost the catalogue, and only a page's features (and, for a bbox, those
    whose envelope crosses its edge) are read from the store, so a page costs the same in a layer of any size.
    """

    kind: str
    version: LayerVersion | None
    store: Store
    catalogue: pd.DataFrame  # Store.catalogue, of the features valid on the date
    ids: list[str]
    position: dict[str, int]

    @property
    def illustrative(self) -> int:
        """Features whose geometry is illustrative (示意)."""
        return int((self.catalogue["geometry_source"] == "illustrative").sum())

    @cached_property
    def bbox(self) -> list[float] | None:
        """The layer's extent (lon/lat), exact: the store's envelopes may be rounded outwards, so the features
        on the edges of their extent are read to take theirs."""
        if not len(self.catalogue):
            return None
        c = self.catalogue
        edges = ((c["minx"] <= c["minx"].min() + _ENVELOPE_SLACK) | (c["miny"] <= c["miny"].min() + _ENVELOPE_SLACK)
                 | (c["maxx"] >= c["maxx"].max() - _ENVELOPE_SLACK)
                 | (c["maxy"] >= c["maxy"].max() - _ENVELOPE_SLACK)).to_numpy()
        geometries = self.read(np.flatnonzero(edges)).geometry.values
        return [round(float(v), _DECIMALS) for v in shapely.total_bounds(geometries)]

    def select(self, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
        """Positions of the features intersecting ``bbox`` (lon/lat), in layer order; all without a bbox.

        A feature whose envelope lies inside the box intersects it; only those whose envelope crosses its
        edge are read to be tested exactly."""
        if bbox is None:
            return np.arange(len(self.catalogue))
        c = self.catalogue
        minx, miny, maxx, maxy = (c[name].to_numpy() for name in ("minx", "miny", "maxx", "maxy"))
        meets = (minx <= bbox[2]) & (maxx >= bbox[0]) & (miny <= bbox[3]) & (maxy >= bbox[1])
        inside = (minx >= bbox[0]) & (maxx <= bbox[2]) & (miny >= bbox[1]) & (maxy <= bbox[3])
        crossing = np.flatnonzero(meets & ~inside)
        if len(crossing):
            hit = shapely.intersects(self.read(crossing).geometry.values, shapely.box(*bbox))
            inside[crossing[hit]] = True
        return np.flatnonzero(inside)

    def read(self, positions: np.ndarray) -> gpd.GeoDataFrame:
        """The features at these positions of the layer, in that order, read from the store."""
        fids = self.catalogue["fid"].to_numpy()[np.asarray(positions, dtype=np.int64)]
        return self.store.features_by_id([self.version] if self.version else [], fids)

    def page(self, positions: np.ndarray) -> tuple[list[str], list[dict[str, Any]], np.ndarray]:
        """(ids, properties, geometries in CRS84 with RFC 7946 winding) of the features at these positions."""
        zones = self.read(positions)
        geometries = shapely.orient_polygons(np.asarray(zones.geometry.values, dtype=object), exterior_cw=False)
        properties = []
        for record in zones.drop(columns=zones.geometry.name).to_dict("records"):
            common = {name: record[name] for name in COMMON_PROPERTIES}
            extra = {key: value for key, value in (record["attributes"] or {}).items() if key not in common}
            properties.append({**common, **extra})
        return [str(p["zone_id"]) for p in properties], properties, geometries


def _layer(store: Store, kind: str, day: str) -> Layer:
    version = store.in_force(day).get(kind)
    catalogue = store.catalogue([version]) if version else pd.DataFrame(columns=list(CATALOGUE_COLUMNS))
    if len(catalogue):
        starts = catalogue["valid_from"].fillna("0000-01-01")
        ends = catalogue["valid_to"].fillna(OPEN_END)
        catalogue = catalogue[((starts <= day) & (day < ends)).to_numpy()].reset_index(drop=True)
    ids = [str(zone_id) for zone_id in catalogue["zone_id"]]
    return Layer(kind=kind, version=version, store=store, catalogue=catalogue, ids=ids,
                 position={zone_id: i for i, zone_id in enumerate(ids)})


class LayerCache:
    """Layers read once per (store location, kind, version in force, date), least recently used dropped."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._layers: BoundedCache[Layer] = BoundedCache(_CACHE_SIZE)

    def get(self, kind: str, day: dt.date) -> Layer:
        """The layer of ``kind`` in force on ``day``."""
        version = self.store.in_force(day).get(kind)
        key = (self.store.location, kind, version.version if version else None, day.isoformat())
        layer = self._layers.get(key)
        if layer is not None:
            return layer
        layer = _layer(self.store, kind, day.isoformat())
        # An import between in_force() and the read is possible: file the layer under what it really holds.
        return self._layers.put((*key[:2], layer.version.version if layer.version else None, key[3]), layer)
