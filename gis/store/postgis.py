"""The PostGIS back end: the same store in a PostgreSQL schema (``ecozone`` by default; another one with
``?schema=name`` in the URL, e.g. ``postgresql://user@host/db?schema=ecozone_test``).

Tables mirror the GeoPackage layout: ``zones`` holds every feature once (geometry(Geometry, 4326), attributes
as jsonb, a GiST index, the digests of its geometry and fields taken at import; ``version`` is the version that
first stored it), ``layer_versions``, and ``layer_features``: for each version the ids of its features in order,
as one array (a row per link would cost PostgreSQL's 24-byte row header per feature and version, more than a
1 % change adds).
An import is one transaction under a table lock (the version row, a COPY of the features not stored yet for
the kind, the links), so version numbers never collide and an interrupted import leaves nothing behind.

A schema made before features were shared (every version's rows in full, told apart by ``kind`` and
``version``, no ``layer_features``) is converted in one transaction when first opened for writing; opened
read-only, its links are made in a temporary table of the session, so it is read as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from gis.errors import StoreError, StoreNotFoundError, VersionNotFoundError
from gis.kinds import ZONE_FIELDS
from gis.store.base import CATALOGUE_COLUMNS, VERSION_COLUMNS, LayerVersion, Store, hex_digests, linked_zones
from gis.zones import attributes_json, empty_zones

__all__ = ["PostGISStore", "DEFAULT_SCHEMA"]

DEFAULT_SCHEMA = "ecozone"
_LINKS_TABLE = sql.SQL(
    "CREATE TABLE {0}.layer_features (version_id bigint PRIMARY KEY REFERENCES {0}.layer_versions (id), "
    "fids bigint[] NOT NULL CHECK (array_position(fids, NULL) IS NULL))"
)

_TEXT_FIELDS = [f for f in ZONE_FIELDS if f != "attributes"]
_DIGESTS = ("geometry_digest", "fields_digest")
#: The zone fields as read (attributes as JSON text), in ``ZONE_FIELDS`` order.
_FIELDS = sql.SQL(", ").join(sql.SQL("z.attributes::text") if f == "attributes" else sql.SQL("z.") + sql.Identifier(f)
                             for f in ZONE_FIELDS)
_SAME = sql.SQL("z.kind = i.kind AND z.geometry_digest = i.geometry_digest AND z.fields_digest = i.fields_digest")


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreNotFoundError(
            f"无法连接 PostgreSQL 数据库 / cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]})",
            field="store", value=_redact(url),
            fix="检查 postgresql:// 地址中的主机、端口、数据库、用户名和密码 / check host, port, database, user and "
                "password in the postgresql:// URL",
        ) from None


def _split_schema(url: str, schema: str | None) -> tuple[str, str]:
    """The connection URL without ecozone's own ``schema`` parameter (libpq refuses parameters it does not
    know), and the schema: the argument, else the URL's, else ``DEFAULT_SCHEMA``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    in_url = [value for key, value in query if key == "schema"]
    rest = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "schema"])))
    return rest, schema or (in_url[-1] if in_url else DEFAULT_SCHEMA)


def _with_schema(url: str, schema: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode({"schema": schema})


def _location(url: str, schema: str) -> str:
    """How the store is told apart (cache keys, the command line's messages): the URL without its password,
    with a schema that is not the default as ``?schema=`` (so two stores in one database never share a cache
    entry)."""
    return _redact(url) if schema == DEFAULT_SCHEMA else _with_schema(_redact(url), schema)


#: Connection parameters that carry a secret, wherever the URL gives them (user info or query).
_SECRETS = {"password", "sslpassword"}


def _redact(url: str) -> str:
    """The URL without its passwords (``user:password@`` and ``?password=``/``?sslpassword=``), for messages."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    query = [(key, "***" if key in _SECRETS else value) for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hosts}", query=urlencode(query, safe="*")))


def _name(url: str, schema: str) -> str:
    """How answers show the store: the database name, and the schema when it is not the default."""
    try:
        database = conninfo_to_dict(url).get("dbname") or "postgres"
    except psycopg.ProgrammingError:
        database = "postgres"
    return database if schema == DEFAULT_SCHEMA else f"{database} (schema {schema})"


class PostGISStore(Store):
    """A store in a PostgreSQL/PostGIS schema."""

    def __init__(self, url: str, *, schema: str | None = None, read_only: bool = False) -> None:
        url, schema = _split_schema(url, schema)
        self.url = url
        self.schema = schema
        self.location = _location(url, schema)
        self.name = _name(url, schema)
        self.read_only = read_only
        self._versions_cache: tuple[tuple | None, list[LayerVersion], dict] = (None, [], {})
        self.conn = _connect(url)
        found = {row[0] for row in self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name IN ('zones', 'layer_versions', 'layer_features')",
            (schema,),
        ).fetchall()}
        if not {"zones", "layer_versions"} <= found:
            self.conn.close()
            raise StoreNotFoundError(
                f"数据库的 {schema} 模式中没有 ecozone 图层库 / the database has no ecozone store in schema "
                f"'{schema}'", field="store", value=self.location,
                fix=f"用 ecozone layers init {self.location} 建立 / create one with 'ecozone layers init "
                    f"{self.location}'",
            )
        self._links = sql.Identifier(schema, "layer_features")
        self._digested = True
        if "layer_features" not in found:
            if read_only:  # read as it is: the links of its versions, made for this session
                self._links, self._digested = sql.Identifier("pg_temp", "layer_features"), False
                self.conn.execute(sql.SQL("CREATE TEMP TABLE layer_features AS {}").format(self._first_links()))
            else:
                self._link_first_layout()

    @classmethod
    def create(cls, url: str, *, schema: str | None = None) -> PostGISStore:
        """Create an empty store schema (and the postgis extension if missing); refuses an existing one."""
        url, schema = _split_schema(url, schema)
        with _connect(url) as conn:
            exists = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            ).fetchone()
            if exists:
                raise StoreError(
                    f"模式 {schema} 已存在，ecozone 不会覆盖图层库 / schema '{schema}' already exists; ecozone never overwrites a "
                    "store", field="store", value=_location(url, schema),
                    fix="用 «store» 打开它，或在另一个数据库或模式（URL 中的 ?schema=名称）中新建 / open it as «store», or "
                        "create the store in another database or schema (?schema=name in the URL)",
                )
            s = sql.Identifier(schema)
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
                conn.execute(sql.SQL(
                    "CREATE TABLE {}.zones (id bigserial PRIMARY KEY, zone_id text NOT NULL, kind text NOT NULL, "
                    "version integer NOT NULL, name text NOT NULL, name_en text, subtype text, jurisdiction text, "
                    "attributes jsonb NOT NULL, source_doc text, source_quote text, geometry_source text NOT NULL, "
                    "valid_from text, valid_to text, geom geometry(Geometry, 4326) NOT NULL, "
                    "geometry_digest text NOT NULL, fields_digest text NOT NULL)"
                ).format(s))
                conn.execute(sql.SQL("CREATE INDEX ON {}.zones (geometry_digest)").format(s))
                conn.execute(sql.SQL("CREATE INDEX ON {}.zones USING gist (geom)").format(s))
                conn.execute(sql.SQL(
                    "CREATE TABLE {}.layer_versions (id bigserial UNIQUE, kind text NOT NULL, version integer NOT NULL, "
                    "imported_at text NOT NULL, effective_from text NOT NULL, source text NOT NULL, "
                    "feature_count integer NOT NULL, content_sha256 text NOT NULL, note text, coverage_wkb text, notices jsonb, "
                    "PRIMARY KEY (kind, version))"
                ).format(s))
                conn.execute(_LINKS_TABLE.format(s))
        return cls(url, schema=schema)

    @property
    def open_location(self) -> str:
        """The URL that opens this store again, with its schema."""
        return self.url if self.schema == DEFAULT_SCHEMA else _with_schema(self.url, self.schema)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def versions(self, kind: str | None = None) -> list[LayerVersion]:
        """See ``Store.versions``."""
        # Coverage polygons make these rows megabytes long and every check asks for them, so the rows are kept
        # and re-read only when the table changed. It is append-only (no version is ever rewritten or deleted),
        # so (row count, last id) changes with every committed import, whoever made it.
        table = sql.Identifier(self.schema, "layer_versions")
        token = self.conn.execute(sql.SQL("SELECT count(*), max(id) FROM {}").format(table)).fetchone()
        if token != self._versions_cache[0]:
            query = sql.SQL("SELECT {}, id FROM {} ORDER BY id").format(
                sql.SQL(", ").join(map(sql.Identifier, VERSION_COLUMNS)), table)
            rows = self.conn.execute(query).fetchall()
            found = [LayerVersion(**{**dict(zip(VERSION_COLUMNS, row)), "notices": row[-2] or []}) for row in rows]
            self._versions_cache = (token, found, {(v.kind, v.version): row[-1] for v, row in zip(found, rows)})
        return [v for v in self._versions_cache[1] if kind is None or v.kind == kind]

    def _version_ids(self, versions: list[LayerVersion]) -> list[int]:
        """The ``layer_versions.id`` of each version (what ``layer_features`` links by)."""
        if any((v.kind, v.version) not in self._versions_cache[2] for v in versions):
            self.versions()
        ids = self._versions_cache[2]
        for v in versions:
            if (v.kind, v.version) not in ids:
                raise VersionNotFoundError(f"图层库中没有图层 {v.kind} 的第 {v.version} 版 / layer '{v.kind}' has no "
                                           f"version {v.version} in this store", field="version", value=v.version,
                                           fix="用 ecozone layers versions 列出已有版本 / list them: ecozone layers "
                                               "versions")
        return [ids[(v.kind, v.version)] for v in versions]

    def features(self, versions: list[LayerVersion],
                 bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Every feature of ``versions`` whose envelope meets ``bounds``, through the GiST index."""
        return self._read_versions(versions, bounds)

    def _members_of(self) -> sql.Composable:
        """Each version's features: rows ``lf.version_id``, ``m.position``, ``m.fid``."""
        return sql.SQL("{} lf CROSS JOIN LATERAL unnest(lf.fids) WITH ORDINALITY AS m(fid, position)").format(
            self._links)

    def _read_versions(self, versions: list[LayerVersion],
                       bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        if not versions:
            return empty_zones()
        zones = sql.Identifier(self.schema, "zones")
        if bounds:
            # The GiST index's candidates, then those of them the versions hold, then only their rows are read (the
            # fences keep the planner, which takes an unnested array for 10 rows, from reading every member's row).
            query = sql.SQL(
                "WITH near AS MATERIALIZED (SELECT id FROM {zones} "
                "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)), "
                "chosen AS MATERIALIZED (SELECT lf.version_id, m.position, m.fid FROM {members} "
                "WHERE lf.version_id = ANY(%s) AND m.fid IN (SELECT id FROM near)) "
                "SELECT c.version_id, c.position, ST_AsBinary(z.geom), {fields} FROM chosen c "
                "JOIN {zones} z ON z.id = c.fid")
        else:
            query = sql.SQL("SELECT lf.version_id, m.position, ST_AsBinary(z.geom), {fields} FROM {members} "
                            "JOIN {zones} z ON z.id = m.fid WHERE lf.version_id = ANY(%s)")
        query = query.format(zones=zones, fields=_FIELDS, members=self._members_of())
        return linked_zones(self.conn.execute(query, [*(bounds or ()), self._version_ids(versions)]).fetchall())

    def catalogue(self, versions: list[LayerVersion]) -> pd.DataFrame:
        """The features of ``versions`` without their geometries, envelopes from their bounding boxes."""
        if not versions:
            return super().catalogue(versions)
        query = sql.SQL(
            "SELECT m.fid, z.zone_id, z.valid_from, z.valid_to, z.geometry_source, {digests}, ST_XMin(b), ST_YMin(b), "
            "ST_XMax(b), ST_YMax(b) FROM {members} JOIN {zones} z ON z.id = m.fid "
            "CROSS JOIN LATERAL Box2D(z.geom) AS b WHERE lf.version_id = ANY(%s) ORDER BY lf.version_id, m.position"
        ).format(members=self._members_of(), zones=sql.Identifier(self.schema, "zones"),
                 digests=sql.SQL("z.geometry_digest, z.fields_digest" if self._digested else "NULL, NULL"))
        rows = self.conn.execute(query, [self._version_ids(versions)]).fetchall()
        return pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))

    def features_by_id(self, versions: list[LayerVersion], fids) -> gpd.GeoDataFrame:
        """See ``Store.features_by_id``: read by fid from the zones table."""
        fids = [int(fid) for fid in fids]
        order = {fid: i for i, fid in enumerate(fids)}
        query = sql.SQL("SELECT z.id, ST_AsBinary(z.geom), {fields} FROM {zones} z WHERE z.id = ANY(%s)").format(
            fields=_FIELDS, zones=sql.Identifier(self.schema, "zones"))
        rows = self.conn.execute(query, [fids]).fetchall() if fids else []
        return linked_zones([(0, order[row[0]], *row[1:]) for row in rows])

    def _members(self, version: LayerVersion) -> list[tuple[int, str | None, str | None, str | None]]:
        digests = sql.SQL("z.geometry_digest, z.fields_digest" if self._digested else "NULL, NULL")
        query = sql.SQL(
            "SELECT m.fid, z.zone_id, {digests} FROM {members} LEFT JOIN {zones} z ON z.id = m.fid "
            "WHERE lf.version_id = %s ORDER BY m.position"
        ).format(digests=digests, members=self._members_of(), zones=sql.Identifier(self.schema, "zones"))
        return [tuple(row) for row in self.conn.execute(query, self._version_ids([version])).fetchall()]

    def _write_version(self, zones: gpd.GeoDataFrame, version: LayerVersion,
                       unless: Callable[[], LayerVersion | None] | None = None) -> tuple[LayerVersion, bool]:
        s = sql.Identifier(self.schema)
        geometry, fields = hex_digests(zones)
        with self.conn.transaction():
            # One importer at a time per store; readers are not blocked.
            self.conn.execute(sql.SQL("LOCK TABLE {}.layer_versions IN SHARE ROW EXCLUSIVE MODE").format(s))
            kept = unless() if unless is not None else None  # read with every other import committed
            if kept is not None:
                return kept, False
            number = self.conn.execute(
                sql.SQL("SELECT COALESCE(MAX(version), 0) + 1 FROM {}.layer_versions WHERE kind = %s").format(s),
                (version.kind,),
            ).fetchone()[0]
            stored = LayerVersion(**{**version.to_dict(), "version": number})
            record = stored.to_dict()
            record["notices"] = json.dumps(record["notices"], ensure_ascii=False)
            version_id = self.conn.execute(
                sql.SQL("INSERT INTO {}.layer_versions ({}) VALUES ({}) RETURNING id").format(
                    s, sql.SQL(", ").join(map(sql.Identifier, VERSION_COLUMNS)),
                    sql.SQL(", ").join([sql.Placeholder()] * len(VERSION_COLUMNS)),
                ),
                [record[c] for c in VERSION_COLUMNS],
            ).fetchone()[0]
            self.conn.execute("CREATE TEMP TABLE incoming (position integer PRIMARY KEY, kind text, "
                              "geometry_digest text, fields_digest text) ON COMMIT DROP")
            self._copy(sql.SQL("COPY incoming FROM STDIN"), zip(range(len(zones)), zones["kind"], geometry, fields))
            self.conn.execute("ANALYZE incoming")
            new = [row[0] for row in self.conn.execute(sql.SQL(
                "SELECT i.position FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM {}.zones z WHERE {}) "
                "ORDER BY i.position").format(s, _SAME)).fetchall()]
            added = zones.iloc[new]
            ewkb = shapely.to_wkb(shapely.set_srid(added.geometry.values, 4326), hex=True, include_srid=True)
            columns = [*_TEXT_FIELDS, "attributes", "version", "geom", *_DIGESTS]
            self._copy(
                sql.SQL("COPY {}.zones ({}) FROM STDIN").format(s, sql.SQL(", ").join(map(sql.Identifier, columns))),
                ([*(record[f] for f in _TEXT_FIELDS), attributes_json(record["attributes"]), number, wkb,
                  geometry[i], fields[i]]
                 for record, wkb, i in zip(added.drop(columns="geometry").to_dict("records"), ewkb, new)),
            )
            # No id may be NULL (a CHECK): a feature neither stored before nor copied now fails the whole import.
            self.conn.execute(sql.SQL(
                "INSERT INTO {links} (version_id, fids) SELECT %s, COALESCE(array_agg("
                "(SELECT min(z.id) FROM {zones} z WHERE {same}) ORDER BY i.position), '{{}}') FROM incoming i"
            ).format(links=self._links, zones=sql.Identifier(self.schema, "zones"), same=_SAME), (version_id,))
        return stored, True

    def _copy(self, statement: sql.Composable, rows: Iterable) -> None:
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def _first_links(self) -> sql.Composable:
        """The links of a schema made before features were shared: each version's rows, in their order."""
        return sql.SQL(
            "SELECT v.id AS version_id, array_agg(z.id ORDER BY z.id) AS fids FROM {zones} z "
            "JOIN {versions} v ON v.kind = z.kind AND v.version = z.version GROUP BY v.id"
        ).format(zones=sql.Identifier(self.schema, "zones"), versions=sql.Identifier(self.schema, "layer_versions"))

    def _link_first_layout(self) -> None:
        """Turn a schema made before features were shared into links, in one transaction. Rows repeated by its
        versions stay: each version links its own rows, in their order, so every digest holds as before."""
        s = sql.Identifier(self.schema)
        with self.conn.transaction():
            self.conn.execute(sql.SQL("LOCK TABLE {}.layer_versions IN SHARE ROW EXCLUSIVE MODE").format(s))
            if self.conn.execute("SELECT to_regclass(%s)", (f'"{self.schema}".layer_features',)).fetchone()[0]:
                return  # another process converted it meanwhile
            self.conn.execute(sql.SQL("ALTER TABLE {}.zones ADD COLUMN geometry_digest text, "
                                      "ADD COLUMN fields_digest text").format(s))
            self.conn.execute(sql.SQL("ALTER TABLE {}.layer_versions ADD UNIQUE (id)").format(s))
            self.conn.execute(_LINKS_TABLE.format(s))
            self.conn.execute(sql.SQL("INSERT INTO {} {}").format(self._links, self._first_links()))
            self.conn.execute("CREATE TEMP TABLE digests (id bigint, geometry_digest text, fields_digest text) "
                              "ON COMMIT DROP")
            for version in self.versions():  # each version's rows are its own: each row gets its digests once
                geometry, fields = hex_digests(self._read_versions([version]))
                fids = [member[0] for member in self._members(version)]
                self._copy(sql.SQL("COPY digests FROM STDIN"), zip(fids, geometry, fields))
            self.conn.execute(sql.SQL("UPDATE {}.zones z SET geometry_digest = d.geometry_digest, "
                                      "fields_digest = d.fields_digest FROM digests d WHERE z.id = d.id").format(s))
            self.conn.execute(sql.SQL("ALTER TABLE {}.zones ALTER COLUMN geometry_digest SET NOT NULL, "
                                      "ALTER COLUMN fields_digest SET NOT NULL").format(s))
            self.conn.execute(sql.SQL("CREATE INDEX ON {}.zones (geometry_digest)").format(s))
