"""The PostGIS back end: the same store in a PostgreSQL schema (``ecozone`` by default; another one with
``?schema=name`` in the URL, e.g. ``postgresql://user@host/db?schema=ecozone_test``).

Tables mirror the GeoPackage layout: ``zones`` (geometry(Geometry, 4326), attributes as jsonb, a GiST
index) and ``layer_versions``. An import is one transaction (COPY of the features plus the version row)
under a table lock, so version numbers never collide and an interrupted import leaves nothing behind.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from gis.errors import StoreError, StoreNotFoundError
from gis.kinds import ZONE_FIELDS
from gis.store.base import VERSION_COLUMNS, LayerVersion, Store
from gis.zones import attributes_json, empty_zones, zone_frame

__all__ = ["PostGISStore", "DEFAULT_SCHEMA"]

DEFAULT_SCHEMA = "ecozone"

_TEXT_FIELDS = [f for f in ZONE_FIELDS if f != "attributes"]


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreNotFoundError(
            f"cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]})", field="store",
            value=_redact(url), fix="check host, port, database, user and password in the postgresql:// URL",
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
        self._versions_cache: tuple[tuple | None, list[LayerVersion]] = (None, [])
        self.conn = _connect(url)
        found = self.conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name IN ('zones', 'layer_versions')",
            (schema,),
        ).fetchone()[0]
        if found != 2:
            self.conn.close()
            raise StoreNotFoundError(
                f"the database has no ecozone store in schema '{schema}'", field="store", value=self.location,
                fix=f"create one with 'ecozone layers init {self.location}'",
            )

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
                    f"schema '{schema}' already exists; ecozone never overwrites a store", field="store",
                    value=_location(url, schema), fix="open it with --store, or create the store in another "
                                                      "database or schema (?schema=name in the URL)",
                )
            s = sql.Identifier(schema)
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
                conn.execute(sql.SQL(
                    "CREATE TABLE {}.zones (id bigserial PRIMARY KEY, zone_id text NOT NULL, kind text NOT NULL, "
                    "version integer NOT NULL, name text NOT NULL, name_en text, subtype text, jurisdiction text, "
                    "attributes jsonb NOT NULL, source_doc text, source_quote text, geometry_source text NOT NULL, "
                    "valid_from text, valid_to text, geom geometry(Geometry, 4326) NOT NULL)"
                ).format(s))
                conn.execute(sql.SQL("CREATE INDEX ON {}.zones (kind, version)").format(s))
                conn.execute(sql.SQL("CREATE INDEX ON {}.zones USING gist (geom)").format(s))
                conn.execute(sql.SQL(
                    "CREATE TABLE {}.layer_versions (id bigserial, kind text NOT NULL, version integer NOT NULL, "
                    "imported_at text NOT NULL, effective_from text NOT NULL, source text NOT NULL, "
                    "feature_count integer NOT NULL, content_sha256 text NOT NULL, note text, coverage_wkb text, notices jsonb, "
                    "PRIMARY KEY (kind, version))"
                ).format(s))
        return cls(url, schema=schema)

    @property
    def open_location(self) -> str:
        return self.url if self.schema == DEFAULT_SCHEMA else _with_schema(self.url, self.schema)

    def close(self) -> None:
        self.conn.close()

    def versions(self, kind: str | None = None) -> list[LayerVersion]:
        # Coverage polygons make these rows megabytes long and every check asks for them, so the rows are kept
        # and re-read only when the table changed. It is append-only (no version is ever rewritten or deleted),
        # so (row count, last id) changes with every committed import, whoever made it.
        table = sql.Identifier(self.schema, "layer_versions")
        token = self.conn.execute(sql.SQL("SELECT count(*), max(id) FROM {}").format(table)).fetchone()
        if token != self._versions_cache[0]:
            query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
                sql.SQL(", ").join(map(sql.Identifier, VERSION_COLUMNS)), table)
            rows = [LayerVersion(**{**dict(zip(VERSION_COLUMNS, row)), "notices": row[-1] or []})
                    for row in self.conn.execute(query).fetchall()]
            self._versions_cache = (token, rows)
        return [v for v in self._versions_cache[1] if kind is None or v.kind == kind]

    def features(self, versions: list[LayerVersion],
                 bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Every feature of ``versions`` whose envelope meets ``bounds``, through the GiST index."""
        return self._read_versions(versions, bounds)

    def _read_versions(self, versions: list[LayerVersion],
                       bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        if not versions:
            return empty_zones()
        near = sql.SQL(" AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)") if bounds else sql.SQL("")
        query = sql.SQL(
            "SELECT {fields}, attributes::text, ST_AsBinary(geom) FROM {schema}.zones "
            "WHERE (kind, version) IN (SELECT * FROM unnest(%s::text[], %s::int[])){near} ORDER BY id"
        ).format(
            fields=sql.SQL(", ").join(map(sql.Identifier, _TEXT_FIELDS)), schema=sql.Identifier(self.schema),
            near=near,
        )
        params = [[v.kind for v in versions], [v.version for v in versions], *(bounds or ())]
        rows = self.conn.execute(query, params).fetchall()
        if not rows:
            return empty_zones()
        records = [dict(zip(_TEXT_FIELDS, row[: len(_TEXT_FIELDS)])) for row in rows]
        for record, row in zip(records, rows):
            record["attributes"] = json.loads(row[-2])
        return zone_frame(records, list(shapely.from_wkb([bytes(row[-1]) for row in rows])))

    def _write_version(self, zones: gpd.GeoDataFrame, version: LayerVersion) -> LayerVersion:
        s = sql.Identifier(self.schema)
        ewkb = shapely.to_wkb(shapely.set_srid(zones.geometry.values, 4326), hex=True, include_srid=True)
        with self.conn.transaction():
            # One importer at a time per store; readers are not blocked.
            self.conn.execute(sql.SQL("LOCK TABLE {}.layer_versions IN SHARE ROW EXCLUSIVE MODE").format(s))
            number = self.conn.execute(
                sql.SQL("SELECT COALESCE(MAX(version), 0) + 1 FROM {}.layer_versions WHERE kind = %s").format(s),
                (version.kind,),
            ).fetchone()[0]
            stored = LayerVersion(**{**version.to_dict(), "version": number})
            columns = [*_TEXT_FIELDS, "attributes", "version", "geom"]
            copy_sql = sql.SQL("COPY {}.zones ({}) FROM STDIN").format(
                s, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with self.conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for record, geom in zip(zones.drop(columns="geometry").to_dict("records"), ewkb):
                    copy.write_row(
                        [*(record[f] for f in _TEXT_FIELDS), attributes_json(record["attributes"]), number, geom]
                    )
            record = stored.to_dict()
            record["notices"] = json.dumps(record["notices"], ensure_ascii=False)
            self.conn.execute(
                sql.SQL("INSERT INTO {}.layer_versions ({}) VALUES ({})").format(
                    s, sql.SQL(", ").join(map(sql.Identifier, VERSION_COLUMNS)),
                    sql.SQL(", ").join([sql.Placeholder()] * len(VERSION_COLUMNS)),
                ),
                [record[c] for c in VERSION_COLUMNS],
            )
        return stored
