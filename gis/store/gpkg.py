"""The GeoPackage back end: one file, readable by QGIS and GDAL as it is.

Layout: a feature table ``zones`` (every version of every kind, with a ``version`` column), an attribute
table ``layer_versions``, and ``zones_rtree``, an SQLite R*Tree of the features' envelopes through which a
check reads only the zones near its site (kept by ecozone's own writes; a store made before it had one gets
it when first opened for writing). An import is staged into a temporary GeoPackage written by GDAL, then
copied into the store in one SQLite transaction together with its ``layer_versions`` row: a process killed
while staging leaves the store untouched, one killed inside the transaction is rolled back by SQLite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gis.errors import StoreError, StoreNotFoundError
from gis.kinds import ZONE_FIELDS
from gis.store.base import VERSION_COLUMNS, LayerVersion, Store
from gis.zones import attributes_json, empty_zones, zone_frame

__all__ = ["GeoPackageStore"]

_LAYER_OPTIONS = {"SPATIAL_INDEX": "NO", "GEOMETRY_NAME": "geom"}
_FORMAT = "ecozone-gpkg-1"
_RTREE = "CREATE VIRTUAL TABLE zones_rtree USING rtree(id, minx, maxx, miny, maxy)"
#: Bytes of the envelope after a GeoPackage geometry blob's 8-byte header, by its envelope indicator.
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _to_storage(zones: gpd.GeoDataFrame, version: int) -> gpd.GeoDataFrame:
    stored = zones.copy()
    stored["attributes"] = pd.Series([attributes_json(a) for a in zones["attributes"]], index=zones.index, dtype=object)
    stored["version"] = pd.Series([version] * len(zones), index=zones.index, dtype="int64")
    return stored


class GeoPackageStore(Store):
    """A store in one GeoPackage file."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.location = self.open_location = str(self.path)
        self.name = self.path.name
        self.read_only = read_only
        self._versions_cache: tuple[tuple | None, list[LayerVersion]] = (None, [])
        self._local = threading.local()  # per-thread reader connection for versions()
        if not self.path.is_file():
            raise StoreNotFoundError(
                "no store at this path", field="store", value=self.location,
                fix=f"create one with 'ecozone layers init {self.location}' (a copy of the default dataset)",
            )
        with contextlib.closing(self._connect()) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"zones", "layer_versions", "ecozone_meta"} <= tables:
                raise StoreNotFoundError(
                    "this GeoPackage is not an ecozone store", field="store", value=self.location,
                    fix="to bring its features in, import them: ecozone layers import FILE --kind KIND --store STORE",
                )
            if "zones_rtree" not in tables and not read_only:
                _index_envelopes(con)
                tables.add("zones_rtree")
        self._indexed = "zones_rtree" in tables

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        return sqlite3.connect(self.path, isolation_level=None, timeout=30)

    @classmethod
    def create(cls, path: str | os.PathLike) -> GeoPackageStore:
        """Create an empty store; refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise StoreError(
                "a file already exists at this path; ecozone never overwrites one", field="store",
                value=str(path), fix="choose a new file name, or open the existing store with --store",
            )
        if path.suffix.lower() != ".gpkg":
            raise StoreError(
                "a GeoPackage store needs the .gpkg extension", field="store", value=str(path),
                fix=f"use {path.with_suffix('.gpkg')}",
            )
        template = _to_storage(empty_zones(), 0)
        pyogrio.write_dataframe(
            template, path, layer="zones", driver="GPKG", geometry_type="Unknown", promote_to_multi=False,
            layer_options=_LAYER_OPTIONS,
        )
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            con.execute("BEGIN")
            con.execute(
                "CREATE TABLE layer_versions (kind TEXT NOT NULL, version INTEGER NOT NULL, "
                "imported_at TEXT NOT NULL, effective_from TEXT NOT NULL, source TEXT NOT NULL, "
                "feature_count INTEGER NOT NULL, content_sha256 TEXT NOT NULL, note TEXT, coverage_wkb TEXT, notices TEXT, "
                "PRIMARY KEY (kind, version))"
            )
            con.execute("CREATE TABLE ecozone_meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute("INSERT INTO ecozone_meta VALUES ('format', ?)", (_FORMAT,))
            con.execute("CREATE INDEX zones_kind_version ON zones (kind, version)")
            con.execute(_RTREE)
            for table in ("layer_versions", "ecozone_meta"):
                con.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                    "VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                    (table, table),
                )
            con.execute("COMMIT")
        return cls(path)

    def versions(self, kind: str | None = None) -> list[LayerVersion]:
        # Coverage polygons make these rows megabytes long and every check asks for them, so the rows are kept
        # and re-read only when the table changed. Each thread keeps a connection whose PRAGMA data_version
        # moves whenever another connection, in any process, commits; only then is the table's token asked.
        # The table is append-only (no version is ever rewritten or deleted), so (row count, last rowid)
        # changes with every import, whoever made it.
        con = self._reader()
        data_version = con.execute("PRAGMA data_version").fetchall()[0][0]
        if data_version != getattr(self._local, "data_version", None):
            token = con.execute("SELECT count(*), max(rowid) FROM layer_versions").fetchall()[0]
            if token != self._versions_cache[0]:
                query = f"SELECT {', '.join(VERSION_COLUMNS)} FROM layer_versions ORDER BY rowid"
                rows = [
                    LayerVersion(**{**dict(zip(VERSION_COLUMNS, row)), "notices": json.loads(row[-1] or "[]")})
                    for row in con.execute(query).fetchall()
                ]
                self._versions_cache = (token, rows)
            self._local.data_version = data_version
        return [v for v in self._versions_cache[1] if kind is None or v.kind == kind]

    def close(self) -> None:
        """Close this thread's reader connection (other threads' close when those threads end)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
            self._local.data_version = None

    def _read_versions(self, versions: list[LayerVersion]) -> gpd.GeoDataFrame:
        if not versions:
            return empty_zones()
        # Kinds come from layer_versions, which only ever holds validated kind names.
        where = " OR ".join(f"(kind = '{v.kind}' AND version = {int(v.version)})" for v in versions)
        frame = pyogrio.read_dataframe(self.path, layer="zones", where=where, fid_as_index=True)
        frame = frame.sort_index()
        records = frame.drop(columns=frame.geometry.name).astype(object).to_dict("records")
        for record in records:
            for name in ZONE_FIELDS:
                if isinstance(record[name], float):  # missing text comes back as NaN
                    record[name] = None
            record["attributes"] = json.loads(record["attributes"]) if record["attributes"] else {}
        return zone_frame(records, list(frame.geometry.values))

    def features(self, versions: list[LayerVersion],
                 bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Every feature of ``versions`` whose envelope meets ``bounds``, read through ``zones_rtree``: the
        cost of a check's read follows the zones near its site, not the size of the store."""
        if not self._indexed or bounds is None or not versions:
            return super().features(versions, bounds)
        # Kinds come from layer_versions, which only ever holds validated kind names.
        which = " OR ".join(f"(z.kind = '{v.kind}' AND z.version = {int(v.version)})" for v in versions)
        query = (f"SELECT z.geom, {', '.join('z.' + f for f in ZONE_FIELDS)} FROM zones_rtree r "
                 f"JOIN zones z ON z.fid = r.id WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ? "
                 f"AND ({which}) ORDER BY z.fid")
        con = self._reader()
        rows = con.execute(query, (bounds[2], bounds[0], bounds[3], bounds[1])).fetchall()
        if not rows:
            return empty_zones()
        records = [dict(zip(ZONE_FIELDS, row[1:])) for row in rows]
        for record in records:
            record["attributes"] = json.loads(record["attributes"]) if record["attributes"] else {}
        return zone_frame(records, list(shapely.from_wkb([_wkb(row[0]) for row in rows])))

    def _reader(self) -> sqlite3.Connection:
        """This thread's reading connection (kept, as opening one costs more than a small query)."""
        con = getattr(self._local, "connection", None)
        if con is None:
            con = self._local.connection = self._connect()
        return con

    def _write_version(self, zones: gpd.GeoDataFrame, version: LayerVersion) -> LayerVersion:
        staging = self.path.with_name(f".{self.path.name}.import-{uuid.uuid4().hex}.gpkg")
        try:
            pyogrio.write_dataframe(
                _to_storage(zones, 0), staging, layer="zones", driver="GPKG", geometry_type="Unknown",
                promote_to_multi=False, layer_options=_LAYER_OPTIONS,
            )
            columns = ", ".join(["geom", *ZONE_FIELDS])
            with contextlib.closing(self._connect()) as con:
                con.execute("ATTACH DATABASE ? AS staging", (str(staging),))
                try:
                    con.execute("BEGIN IMMEDIATE")  # one writer at a time; version numbers cannot collide
                    number = con.execute(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM layer_versions WHERE kind = ?",
                        (version.kind,),
                    ).fetchone()[0]
                    stored = LayerVersion(**{**version.to_dict(), "version": number})
                    first = con.execute("SELECT COALESCE(MAX(fid), 0) FROM main.zones").fetchone()[0]
                    con.execute(
                        f"INSERT INTO main.zones ({columns}, version) "
                        f"SELECT {columns}, ? FROM staging.zones ORDER BY fid",
                        (number,),
                    )
                    _index_envelopes(con, after=first)
                    record = stored.to_dict()
                    record["notices"] = json.dumps(record["notices"], ensure_ascii=False)
                    con.execute(
                        f"INSERT INTO layer_versions ({', '.join(VERSION_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
                        [record[c] for c in VERSION_COLUMNS],
                    )
                    self._update_extent(con, zones)
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                finally:
                    con.execute("DETACH DATABASE staging")
        finally:
            staging.unlink(missing_ok=True)
        return stored

    @staticmethod
    def _update_extent(con: sqlite3.Connection, zones: gpd.GeoDataFrame) -> None:
        """Keep gpkg_contents' extent and last_change true, as GIS clients read them."""
        if zones.empty:
            return
        minx, miny, maxx, maxy = zones.total_bounds
        old = con.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'zones'").fetchone()
        if old and old[0] is not None:
            minx, miny, maxx, maxy = min(minx, old[0]), min(miny, old[1]), max(maxx, old[2]), max(maxy, old[3])
        con.execute(
            "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? "
            "WHERE table_name = 'zones'",
            (float(minx), float(miny), float(maxx), float(maxy),
             dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        )


def _wkb(blob: bytes) -> bytes:
    """The WKB inside a GeoPackage geometry blob (after its header and envelope)."""
    return blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]:]


def _index_envelopes(con: sqlite3.Connection, after: int = 0) -> None:
    """Put the envelopes of the features with a fid above ``after`` into ``zones_rtree`` (made if missing),
    in the caller's transaction (or one of its own)."""
    own = not con.in_transaction
    if own:
        con.execute("BEGIN IMMEDIATE")
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'zones_rtree'").fetchone():
            con.execute(_RTREE)
        rows = con.execute("SELECT fid, geom FROM zones WHERE fid > ? ORDER BY fid", (after,)).fetchall()
        if rows:
            bounds = shapely.bounds(shapely.from_wkb([_wkb(row[1]) for row in rows]))
            con.executemany("INSERT INTO zones_rtree VALUES (?, ?, ?, ?, ?)",
                            [(row[0], b[0], b[2], b[1], b[3]) for row, b in zip(rows, bounds.tolist())])
        if own:
            con.execute("COMMIT")
    except BaseException:
        if own and con.in_transaction:
            con.execute("ROLLBACK")
        raise
