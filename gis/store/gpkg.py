"""The GeoPackage back end: one file, readable by QGIS and GDAL as it is.

Layout (``ecozone-gpkg-2``): a feature table ``zones`` holding every feature once (its ``version`` column is
the version that first stored it; ``geometry_digest`` and ``fields_digest`` are the feature's digests taken
at import), ``layer_versions`` (attributes), ``layer_features`` linking each version to its features in
order (``version_id`` = ``layer_versions.id``, ``fid`` = ``zones.fid``, ``position``), and ``zones_rtree``,
an SQLite R*Tree of every stored feature's envelope through which a check reads only the zones near its
site. A new version stores only the features that are not stored yet for its kind and links the others.

An import is staged into a temporary GeoPackage written by GDAL (the new features only), then copied into the
store in one SQLite transaction together with its links and its ``layer_versions`` row: a process killed
while staging leaves the store untouched, one killed inside the transaction is rolled back by SQLite.

A store of the first layout (``ecozone-gpkg-1``: every version's features in full, told apart by ``kind``
and ``version``) is converted in one transaction when first opened for writing; opened read-only, its
links are made in memory (a temporary table of the connection), so it is read as it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gis.errors import StoreError, StoreNotFoundError, VersionNotFoundError
from gis.kinds import ZONE_FIELDS
from gis.store.base import CATALOGUE_COLUMNS, VERSION_COLUMNS, LayerVersion, Store, hex_digests, linked_zones
from gis.zones import attributes_json, empty_zones

__all__ = ["GeoPackageStore"]

_LAYER_OPTIONS = {"SPATIAL_INDEX": "NO", "GEOMETRY_NAME": "geom"}
_FORMAT = "ecozone-gpkg-2"
_FIRST_FORMAT = "ecozone-gpkg-1"
_RTREE = "CREATE VIRTUAL TABLE zones_rtree USING rtree(id, minx, maxx, miny, maxy)"
_VERSIONS_TABLE = (
    "CREATE TABLE {name} (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, version INTEGER NOT NULL, "
    "imported_at TEXT NOT NULL, effective_from TEXT NOT NULL, source TEXT NOT NULL, feature_count INTEGER NOT NULL, "
    "content_sha256 TEXT NOT NULL, note TEXT, coverage_wkb TEXT, notices TEXT, UNIQUE (kind, version))"
)
#: Not registered in gpkg_contents: GDAL reads only tables with a rowid, and this one is kept compact without.
_LINKS_TABLE = (
    "CREATE {temp}TABLE layer_features (version_id INTEGER NOT NULL, fid INTEGER NOT NULL, "
    "position INTEGER NOT NULL, PRIMARY KEY (version_id, fid)) WITHOUT ROWID"
)
#: The links of a first-layout store: each version's rows, in the order they were written.
_FIRST_LAYOUT_LINKS = (
    "SELECT v.rowid, z.fid, ROW_NUMBER() OVER (PARTITION BY z.kind, z.version ORDER BY z.fid) - 1 "
    "FROM main.zones z JOIN main.layer_versions v ON v.kind = z.kind AND v.version = z.version"
)
_DIGESTS = ("geometry_digest", "fields_digest")
_FIELDS = ", ".join(f"z.{name}" for name in ZONE_FIELDS)
#: Bytes of the envelope after a GeoPackage geometry blob's 8-byte header, by its envelope indicator.
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _to_storage(zones: gpd.GeoDataFrame, version: int, digests: tuple[list[str], list[str]]) -> gpd.GeoDataFrame:
    stored = zones.copy()
    stored["attributes"] = pd.Series([attributes_json(a) for a in zones["attributes"]], index=zones.index, dtype=object)
    stored["version"] = pd.Series([version] * len(zones), index=zones.index, dtype="int64")
    for name, values in zip(_DIGESTS, digests):
        stored[name] = pd.Series(values, index=zones.index, dtype=object)
    return stored


class GeoPackageStore(Store):
    """A store in one GeoPackage file."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.open_location = str(self.path.absolute())  # a worker started in another folder opens the same file
        self.name = self.path.name
        self.read_only = read_only
        self._versions_cache: tuple[tuple | None, list[LayerVersion], dict] = (None, [], {})
        self._local = threading.local()  # per-thread reader connection for versions()
        self._first_layout = False
        if not self.path.is_file():
            raise StoreNotFoundError(
                "该路径没有图层库 / no store at this path", field="store", value=self.location,
                fix="检查路径，或在此新建图层库（默认数据集的副本） / check the path, or create a store there (a copy of "
                    "the default dataset)",
            )
        with contextlib.closing(self._connect()) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"zones", "layer_versions", "ecozone_meta"} <= tables:
                raise StoreNotFoundError(
                    "该 GeoPackage 不是 ecozone 图层库 / this GeoPackage is not an ecozone store", field="store",
                    value=self.location, fix="要使用其中的要素，请把它作为图层导入一个图层库 / to use its features, "
                                             "import the file as a layer into a store",
                )
            layout = _layout(con, self.location)
            if not read_only and (layout != _FORMAT or "zones_rtree" not in tables):
                _upgrade(con)
                layout = _FORMAT
                tables.add("zones_rtree")
        self._indexed = "zones_rtree" in tables
        self._first_layout = layout == _FIRST_FORMAT

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        else:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        if self._first_layout:  # read as it is: the links of its versions, made for this connection
            con.execute(_LINKS_TABLE.format(temp="TEMP "))
            con.execute(f"INSERT INTO temp.layer_features {_FIRST_LAYOUT_LINKS}")
        return con

    @classmethod
    def create(cls, path: str | os.PathLike) -> GeoPackageStore:
        """Create an empty store; refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise StoreError(
                "该路径已有文件，ecozone 不会覆盖 / a file already exists at this path; ecozone never overwrites one",
                field="store", value=str(path),
                fix="换一个文件名，或用 «store» 打开已有的图层库 / choose a new file name, or open the existing store "
                    "as «store»",
            )
        if path.suffix.lower() != ".gpkg":
            raise StoreError(
                "图层库为 GeoPackage 时，文件名须以 .gpkg 结尾 / a GeoPackage store needs the .gpkg extension",
                field="store", value=str(path),
                fix=f"改用 {path.with_suffix('.gpkg')} / use {path.with_suffix('.gpkg')}",
            )
        template = _to_storage(empty_zones(), 0, ([], []))
        pyogrio.write_dataframe(
            template, path, layer="zones", driver="GPKG", geometry_type="Unknown", promote_to_multi=False,
            layer_options=_LAYER_OPTIONS,
        )
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
            con.execute("BEGIN")
            con.execute(_VERSIONS_TABLE.format(name="layer_versions"))
            con.execute(_LINKS_TABLE.format(temp=""))
            con.execute("CREATE TABLE ecozone_meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute("INSERT INTO ecozone_meta VALUES ('format', ?)", (_FORMAT,))
            con.execute("CREATE INDEX zones_geometry_digest ON zones (geometry_digest)")
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
        """See ``Store.versions``."""
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
                query = f"SELECT {', '.join(VERSION_COLUMNS)}, rowid FROM layer_versions ORDER BY rowid"
                rows = con.execute(query).fetchall()
                found = [LayerVersion(**{**dict(zip(VERSION_COLUMNS, row)), "notices": json.loads(row[-2] or "[]")})
                         for row in rows]
                ids = {(v.kind, v.version): row[-1] for v, row in zip(found, rows)}
                self._versions_cache = (token, found, ids)
            self._local.data_version = data_version
        return [v for v in self._versions_cache[1] if kind is None or v.kind == kind]

    def _version_ids(self, versions: list[LayerVersion]) -> list[int]:
        """The ``layer_versions.id`` of each version (what ``layer_features`` links by)."""
        ids = self._versions_cache[2]
        if any((v.kind, v.version) not in ids for v in versions):
            self.versions()
            ids = self._versions_cache[2]
        for v in versions:
            if (v.kind, v.version) not in ids:
                raise VersionNotFoundError(f"图层库中没有图层 {v.kind} 的第 {v.version} 版 / layer '{v.kind}' has no "
                                           f"version {v.version} in this store", field="version", value=v.version,
                                           fix="用 ecozone layers versions 列出已有版本 / list them: ecozone layers "
                                               "versions")
        return [ids[(v.kind, v.version)] for v in versions]

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
        ids = self._version_ids(versions)
        rows = self._reader().execute(
            f"SELECT lf.version_id, lf.position, z.geom, {_FIELDS} FROM layer_features lf "
            f"JOIN zones z ON z.fid = lf.fid WHERE lf.version_id IN ({', '.join('?' * len(ids))})", ids,
        ).fetchall()
        return linked_zones(rows, _wkb)

    def features(self, versions: list[LayerVersion],
                 bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Every feature of ``versions`` whose envelope meets ``bounds``, read through ``zones_rtree``: the
        cost of a check's read follows the zones near its site, not the size of the store."""
        if not self._indexed or bounds is None or not versions:
            return super().features(versions, bounds)
        ids = self._version_ids(versions)
        # CROSS JOIN keeps SQLite's order: the R-tree's few candidates first, then their links and rows.
        query = (f"SELECT lf.version_id, lf.position, z.geom, {_FIELDS} FROM zones_rtree r "
                 f"CROSS JOIN layer_features lf CROSS JOIN zones z "
                 f"WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ? "
                 f"AND lf.version_id IN ({', '.join('?' * len(ids))}) AND lf.fid = r.id AND z.fid = r.id")
        rows = self._reader().execute(query, (bounds[2], bounds[0], bounds[3], bounds[1], *ids)).fetchall()
        return linked_zones(rows, _wkb)

    def catalogue(self, versions: list[LayerVersion]) -> pd.DataFrame:
        """The features of ``versions`` without their geometries, envelopes from ``zones_rtree`` (rounded
        outwards to single precision)."""
        if not self._indexed or not versions:
            return super().catalogue(versions)
        ids = self._version_ids(versions)
        digests = "NULL, NULL" if self._first_layout else "z.geometry_digest, z.fields_digest"
        rows = self._reader().execute(
            f"SELECT lf.fid, z.zone_id, z.valid_from, z.valid_to, z.geometry_source, {digests}, "
            f"r.minx, r.miny, r.maxx, r.maxy "
            f"FROM layer_features lf JOIN zones z ON z.fid = lf.fid JOIN zones_rtree r ON r.id = lf.fid "
            f"WHERE lf.version_id IN ({', '.join('?' * len(ids))}) ORDER BY lf.version_id, lf.position", ids,
        ).fetchall()
        return pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))

    def features_by_id(self, versions: list[LayerVersion], fids) -> gpd.GeoDataFrame:
        """See ``Store.features_by_id``: read by fid from the zones table."""
        if not self._indexed:
            return super().features_by_id(versions, fids)
        fids = [int(fid) for fid in fids]
        order = {fid: i for i, fid in enumerate(fids)}
        rows = self._reader().execute(
            f"SELECT z.fid, z.geom, {_FIELDS} FROM zones z WHERE z.fid IN ({', '.join('?' * len(fids))})", fids,
        ).fetchall() if fids else []
        return linked_zones([(0, order[row[0]], *row[1:]) for row in rows], _wkb)

    def _members(self, version: LayerVersion) -> list[tuple[int, str | None, str | None, str | None]]:
        digests = "NULL, NULL" if self._first_layout else "z.geometry_digest, z.fields_digest"
        rows = self._reader().execute(
            f"SELECT lf.fid, z.zone_id, {digests} FROM layer_features lf LEFT JOIN zones z ON z.fid = lf.fid "
            f"WHERE lf.version_id = ? ORDER BY lf.position", self._version_ids([version]),
        ).fetchall()
        return [tuple(row) for row in rows]

    def _reader(self) -> sqlite3.Connection:
        """This thread's reading connection (kept, as opening one costs more than a small query)."""
        con = getattr(self._local, "connection", None)
        if con is None:
            con = self._local.connection = self._connect()
        return con

    def _write_version(self, zones: gpd.GeoDataFrame, version: LayerVersion,
                       unless: Callable[[], LayerVersion | None] | None = None) -> tuple[LayerVersion, bool]:
        digests = hex_digests(zones)
        staging = self.path.with_name(f".{self.path.name}.import-{uuid.uuid4().hex}.gpkg")
        columns = ", ".join(["geom", *ZONE_FIELDS, *_DIGESTS])
        same = ("z.kind = i.kind AND z.geometry_digest = i.geometry_digest AND z.fields_digest = i.fields_digest")
        try:
            with contextlib.closing(self._connect()) as con:
                con.execute("CREATE TEMP TABLE incoming (position INTEGER PRIMARY KEY, kind TEXT, "
                            "geometry_digest TEXT, fields_digest TEXT)")
                con.executemany("INSERT INTO temp.incoming VALUES (?, ?, ?, ?)",
                                zip(range(len(zones)), zones["kind"], *digests))
                # Only features not stored yet are staged. A feature found now stays (nothing is ever deleted);
                # one stored meanwhile by another import is not stored twice (NOT EXISTS below).
                stored = {row[0] for row in con.execute(
                    f"SELECT i.position FROM temp.incoming i WHERE EXISTS (SELECT 1 FROM main.zones z WHERE {same})")}
                new = [i for i in range(len(zones)) if i not in stored]
                pyogrio.write_dataframe(
                    _to_storage(zones.iloc[new], 0, ([digests[0][i] for i in new], [digests[1][i] for i in new])),
                    staging, layer="zones", driver="GPKG", geometry_type="Unknown", promote_to_multi=False,
                    layer_options=_LAYER_OPTIONS,
                )
                con.execute("ATTACH DATABASE ? AS staging", (str(staging),))
                try:
                    con.execute("BEGIN IMMEDIATE")  # one writer at a time; version numbers cannot collide
                    kept = unless() if unless is not None else None  # read with every other import committed
                    if kept is not None:
                        con.execute("ROLLBACK")
                        return kept, False
                    number = con.execute(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM layer_versions WHERE kind = ?",
                        (version.kind,),
                    ).fetchone()[0]
                    stored_version = LayerVersion(**{**version.to_dict(), "version": number})
                    record = stored_version.to_dict()
                    record["notices"] = json.dumps(record["notices"], ensure_ascii=False)
                    version_id = con.execute(
                        f"INSERT INTO layer_versions ({', '.join(VERSION_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
                        [record[c] for c in VERSION_COLUMNS],
                    ).lastrowid
                    first = con.execute("SELECT COALESCE(MAX(fid), 0) FROM main.zones").fetchone()[0]
                    con.execute(
                        f"INSERT INTO main.zones ({columns}, version) SELECT {columns}, ? FROM staging.zones i "
                        f"WHERE NOT EXISTS (SELECT 1 FROM main.zones z WHERE {same}) ORDER BY i.fid",
                        (number,),
                    )
                    _index_envelopes(con, after=first)
                    # fid is NOT NULL: a feature neither stored before nor staged fails the whole import.
                    con.execute(
                        f"INSERT INTO main.layer_features (version_id, fid, position) SELECT ?, "
                        f"(SELECT MIN(z.fid) FROM main.zones z WHERE {same}), i.position FROM temp.incoming i",
                        (version_id,),
                    )
                    self._update_extent(con, zones.iloc[new])
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                finally:
                    con.execute("DETACH DATABASE staging")
        finally:
            staging.unlink(missing_ok=True)
        return stored_version, True

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


def _layout(con: sqlite3.Connection, location: str) -> str:
    """The store's layout, refusing one this ecozone does not know (made by a newer one)."""
    row = con.execute("SELECT value FROM ecozone_meta WHERE key = 'format'").fetchone()
    layout = row[0] if row else None
    if layout not in (_FORMAT, _FIRST_FORMAT):
        raise StoreError(
            f"图层库的结构为 {layout}，当前版本的 ecozone 不认识 / the store has layout '{layout}', which this "
            f"ecozone does not know", field="store", value=location,
            fix="用建立该图层库的 ecozone 打开，或升级 ecozone / open it with the ecozone that made it, or upgrade "
                "ecozone",
        )
    return layout


def _upgrade(con: sqlite3.Connection) -> None:
    """Bring a store to the current layout in one transaction: the R-tree if missing, and a first-layout store's
    versions turned into links to features stored once, each with its digests (the features stay as they are)."""
    con.execute("BEGIN IMMEDIATE")  # another process may be upgrading it too: look again once writing
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'zones_rtree'").fetchone():
            _index_envelopes(con)
        if con.execute("SELECT value FROM ecozone_meta WHERE key = 'format'").fetchone()[0] == _FIRST_FORMAT:
            _link_first_layout(con)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def _link_first_layout(con: sqlite3.Connection) -> None:
    """Turn an ``ecozone-gpkg-1`` store into links, in the caller's transaction. Rows repeated by its versions
    stay: each version links its own rows, in their order, so every digest holds as before."""
    for name in _DIGESTS:
        con.execute(f"ALTER TABLE zones ADD COLUMN {name} TEXT")
    # Versions get an id that VACUUM keeps (an implicit rowid it may renumber): the table is written again.
    columns = ", ".join(VERSION_COLUMNS)
    con.execute(_VERSIONS_TABLE.format(name="layer_versions_linked"))
    con.execute(f"INSERT INTO layer_versions_linked (id, {columns}) "
                f"SELECT rowid, {columns} FROM layer_versions ORDER BY rowid")
    con.execute(_LINKS_TABLE.format(temp=""))
    con.execute(f"INSERT INTO main.layer_features {_FIRST_LAYOUT_LINKS}")
    con.execute("DROP TABLE layer_versions")
    con.execute("ALTER TABLE layer_versions_linked RENAME TO layer_versions")
    for kind, version in con.execute("SELECT kind, version FROM layer_versions").fetchall():
        rows = con.execute(f"SELECT fid, geom, {_FIELDS} FROM zones z WHERE kind = ? AND version = ?",
                           (kind, version)).fetchall()
        zones = linked_zones([(0, i, row[1], *row[2:]) for i, row in enumerate(rows)], _wkb)
        geometry, fields = hex_digests(zones)
        con.executemany("UPDATE zones SET geometry_digest = ?, fields_digest = ? WHERE fid = ?",
                        zip(geometry, fields, [row[0] for row in rows]))
    con.execute("CREATE INDEX zones_geometry_digest ON zones (geometry_digest)")
    con.execute("UPDATE ecozone_meta SET value = ? WHERE key = 'format'", (_FORMAT,))


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
