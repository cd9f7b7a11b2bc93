"""The zone layers as GeoJSON features for OGC API - Features: one layer per zone kind, paged and filtered.

A layer is read from the store once per (store, kind, version in force, date) and kept with a spatial index,
so paging through it costs a slice. Geometries are served as RFC 7946 GeoJSON in CRS84 (lon/lat, exterior
rings counter-clockwise, 7 decimals ≈ 1 cm), or, per OGC API - Features Part 2, in EPSG:4326 or EPSG:4490
(CGCS2000) in their authority axis order (latitude first).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from gis.cache import BoundedCache
from gis.kinds import ZONE_FIELDS
from gis.store import LayerVersion, Store

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


@dataclass
class Layer:
    """The features of one kind in force on one date, indexed for bbox queries."""

    kind: str
    version: LayerVersion | None
    ids: list[str]
    properties: list[dict[str, Any]]
    geometries: np.ndarray  # CRS84, RFC 7946 winding
    tree: shapely.STRtree
    position: dict[str, int]

    @property
    def bbox(self) -> list[float] | None:
        """The lon/lat extent of the features, None when there are none."""
        if not len(self.geometries):
            return None
        return [round(float(v), _DECIMALS) for v in shapely.total_bounds(self.geometries)]

    def select(self, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
        """Positions of the features intersecting ``bbox`` (lon/lat), in layer order; all without a bbox."""
        if bbox is None:
            return np.arange(len(self.geometries))
        return np.sort(self.tree.query(shapely.box(*bbox), predicate="intersects"))


def _layer(store: Store, kind: str, day: str) -> Layer:
    snapshot = store.snapshot(day, kinds=[kind])
    zones = snapshot.zones
    geometries = shapely.orient_polygons(np.asarray(zones.geometry.values, dtype=object), exterior_cw=False)
    properties = []
    for record in zones.drop(columns=zones.geometry.name).to_dict("records"):
        common = {name: record[name] for name in COMMON_PROPERTIES}
        extra = {key: value for key, value in (record["attributes"] or {}).items() if key not in common}
        properties.append({**common, **extra})
    ids = [str(p["zone_id"]) for p in properties]
    return Layer(kind=kind, version=snapshot.versions.get(kind), ids=ids, properties=properties,
                 geometries=geometries, tree=shapely.STRtree(geometries),
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
