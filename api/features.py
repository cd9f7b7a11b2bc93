"""The zone layers as GeoJSON features for OGC API - Features: one layer per zone kind, paged and filtered.

A layer's catalogue (ids, dates, envelopes; no geometry) is read from the store once per (store, kind, versions
in force, days) and kept; a page reads only its own features, so paging a layer of 40,000 polygons costs what
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
    """The features of one kind in force on one day or on some day of a span, as a catalogue (ids, dates,
    envelopes, no geometry): counting, selecting and paging cost the catalogue, and only a page's features (and,
    for a bbox, those whose envelope crosses its edge) are read from the store, so a page costs the same in a
    layer of any size.
    """

    kind: str
    versions: list[LayerVersion]  # those in force in the span, oldest first: one for a day
    store: Store
    catalogue: pd.DataFrame  # Store.catalogue of the features in force, plus version_index (into versions)
    ids: list[str]
    position: dict[str, int]

    @property
    def version(self) -> LayerVersion | None:
        """The version in force at the end of the span (on the day)."""
        return self.versions[-1] if self.versions else None

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
        """The features at these positions of the layer, in that order, read from the store (version by version:
        a store's fid may be its position in a version)."""
        positions = np.asarray(positions, dtype=np.int64)
        fids = self.catalogue["fid"].to_numpy()[positions]
        if len(self.versions) <= 1:
            return self.store.features_by_id(self.versions, fids)
        which = self.catalogue["version_index"].to_numpy()[positions]
        order = np.argsort(which, kind="stable")
        parts = [self.store.features_by_id([self.versions[i]], fids[which == i]) for i in np.unique(which)]
        return pd.concat(parts, ignore_index=True).iloc[np.argsort(order)].reset_index(drop=True)

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


def _in_force(store: Store, kind: str, first: str, last: str) -> list[tuple[LayerVersion, str]]:
    """The versions of ``kind`` in force some day from ``first`` to ``last`` (ISO days, inclusive), oldest first,
    each with the day it stopped being in force (exclusive; ``OPEN_END`` if it still is): as ``Store.in_force``
    chooses, a version is in force from its effective_from until the next one's."""
    ranked = sorted(store.versions(kind), key=lambda v: (v.effective_from, v.version))
    ends = [later.effective_from for later in ranked[1:]] + [OPEN_END]
    return [(v, end) for v, end in zip(ranked, ends) if v.effective_from < end and v.effective_from <= last
            and first < end]


def _pinned(versions: list[LayerVersion]) -> list[tuple[LayerVersion, str]]:
    """Pinned versions as ``_in_force`` gave them when the layer was first served, each with the day it stopped
    being in force among them: a later version (imported since) no longer changes what they answer. The last
    one's end was after the span, so OPEN_END stands for it."""
    ranked = sorted(versions, key=lambda v: (v.effective_from, v.version))
    ends = [later.effective_from for later in ranked[1:]] + [OPEN_END]
    return list(zip(ranked, ends))


def _layer(store: Store, kind: str, first: str, last: str, pinned: list[LayerVersion] | None = None) -> Layer:
    """The features of ``kind`` in force some day from ``first`` to ``last`` (inclusive): a feature is in force
    while its version is and its own valid_from/valid_to say so (valid_to excluded); of a zone in force in
    several versions, the latest is kept. ``pinned``: these versions stand for those in force."""
    versions, parts = [], []
    chosen = _in_force(store, kind, first, last) if pinned is None else _pinned(pinned)
    for i, (version, end) in enumerate(chosen):
        part = store.catalogue([version])
        begins = part["valid_from"].fillna("0000-01-01").clip(lower=version.effective_from).to_numpy(dtype=str)
        stops = part["valid_to"].fillna(OPEN_END).clip(upper=end).to_numpy(dtype=str)
        versions.append(version)
        parts.append(part[(begins <= last) & (first < stops) & (begins < stops)].assign(version_index=i))
    if not parts:
        catalogue = pd.DataFrame(columns=[*CATALOGUE_COLUMNS, "version_index"])
    elif len(parts) == 1:
        catalogue = parts[0].reset_index(drop=True)
    else:
        catalogue = pd.concat(parts, ignore_index=True).drop_duplicates("zone_id", keep="last").reset_index(drop=True)
    ids = [str(zone_id) for zone_id in catalogue["zone_id"]]
    return Layer(kind=kind, versions=versions, store=store, catalogue=catalogue, ids=ids,
                 position={zone_id: i for i, zone_id in enumerate(ids)})


class LayerCache:
    """Layers read once per (store location, kind, versions in force, days), least recently used dropped."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._layers: BoundedCache[Layer] = BoundedCache(_CACHE_SIZE)

    def get(self, kind: str, first: dt.date | None, last: dt.date | None,
            pinned: list[LayerVersion] | None = None) -> Layer:
        """The layer of ``kind`` in force some day from ``first`` to ``last`` (inclusive; None: open), on one day
        if they are the same; or, ``pinned``, the layer those versions made over that span (what a first page
        answered, so that its next links page the same features whatever was imported since)."""
        span = (first.isoformat() if first else "0000-01-01", last.isoformat() if last else OPEN_END)
        chosen = _in_force(self.store, kind, *span) if pinned is None else _pinned(pinned)
        key = (self.store.location, kind, tuple(v.version for v, _ in chosen), span)
        layer = self._layers.get(key)
        if layer is not None:
            return layer
        layer = _layer(self.store, kind, *span, pinned)
        # An import between the key and the read is possible: file the layer under what it really holds.
        return self._layers.put((*key[:2], tuple(v.version for v in layer.versions), span), layer)
