"""Stores of the first layout (``ecozone-gpkg-1`` and its PostGIS twin), written here as ecozone wrote them before
versions shared features: every version's features in full in ``zones``, told apart by ``kind`` and ``version``,
``layer_versions`` keyed by (kind, version), no ``layer_features`` and no digests; a GeoPackage also without
its R-tree."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pandas as pd
import psycopg
import pyogrio
import shapely

from gis.kinds import ZONE_FIELDS
from gis.store.base import VERSION_COLUMNS, LayerVersion, content_digest
from gis.zones import attributes_json, validate_zones

_TEXT_FIELDS = [f for f in ZONE_FIELDS if f != "attributes"]


def first_layout_versions(layers: list[tuple]) -> list[tuple[LayerVersion, object]]:
    """(version, validated zones) for each (kind, zones, effective_from) given, numbered per kind."""
    numbers: dict[str, int] = {}
    out = []
    for kind, zones, effective_from in layers:
        validated, _ = validate_zones(zones, kind=kind)
        numbers[kind] = numbers.get(kind, 0) + 1
        out.append((LayerVersion(kind=kind, version=numbers[kind], imported_at="2023-01-01T00:00:00+00:00",
                                 effective_from=effective_from, source=f"{kind}-{numbers[kind]}.shp",
                                 feature_count=len(validated), content_sha256=content_digest(validated)), validated))
    return out


def _record(version: LayerVersion) -> list:
    record = version.to_dict()
    record["notices"] = json.dumps(record["notices"], ensure_ascii=False)
    return [record[c] for c in VERSION_COLUMNS]


def write_first_layout_gpkg(path, layers: list[tuple]) -> list[tuple[LayerVersion, object]]:
    """A GeoPackage store of the first layout holding ``layers`` (kind, zones, effective_from), in that order."""
    versions = first_layout_versions(layers)
    rows = []
    for version, zones in versions:
        stored = zones.copy()
        stored["attributes"] = [attributes_json(a) for a in zones["attributes"]]
        stored["version"] = pd.Series([version.version] * len(zones), index=zones.index, dtype="int64")
        rows.append(stored)
    pyogrio.write_dataframe(pd.concat(rows, ignore_index=True), path, layer="zones", driver="GPKG",
                            geometry_type="Unknown", promote_to_multi=False,
                            layer_options={"SPATIAL_INDEX": "NO", "GEOMETRY_NAME": "geom"})
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.execute("BEGIN")
        con.execute(
            "CREATE TABLE layer_versions (kind TEXT NOT NULL, version INTEGER NOT NULL, "
            "imported_at TEXT NOT NULL, effective_from TEXT NOT NULL, source TEXT NOT NULL, "
            "feature_count INTEGER NOT NULL, content_sha256 TEXT NOT NULL, note TEXT, coverage_wkb TEXT, notices TEXT, "
            "PRIMARY KEY (kind, version))")
        con.execute("CREATE TABLE ecozone_meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT INTO ecozone_meta VALUES ('format', 'ecozone-gpkg-1')")
        con.execute("CREATE INDEX zones_kind_version ON zones (kind, version)")
        for table in ("layer_versions", "ecozone_meta"):
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES (?, 'attributes', ?)",
                        (table, table))
        con.executemany(f"INSERT INTO layer_versions VALUES ({', '.join('?' * len(VERSION_COLUMNS))})",
                        [_record(version) for version, _ in versions])
        con.execute("COMMIT")
    return versions


def write_first_layout_postgis(url: str, layers: list[tuple]) -> list[tuple[LayerVersion, object]]:
    """The same in schema ``ecozone`` of the database at ``url``."""
    versions = first_layout_versions(layers)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE SCHEMA ecozone")
        conn.execute(
            "CREATE TABLE ecozone.zones (id bigserial PRIMARY KEY, zone_id text NOT NULL, kind text NOT NULL, "
            "version integer NOT NULL, name text NOT NULL, name_en text, subtype text, jurisdiction text, "
            "attributes jsonb NOT NULL, source_doc text, source_quote text, geometry_source text NOT NULL, "
            "valid_from text, valid_to text, geom geometry(Geometry, 4326) NOT NULL)")
        conn.execute("CREATE INDEX ON ecozone.zones (kind, version)")
        conn.execute("CREATE INDEX ON ecozone.zones USING gist (geom)")
        conn.execute(
            "CREATE TABLE ecozone.layer_versions (id bigserial, kind text NOT NULL, version integer NOT NULL, "
            "imported_at text NOT NULL, effective_from text NOT NULL, source text NOT NULL, "
            "feature_count integer NOT NULL, content_sha256 text NOT NULL, note text, coverage_wkb text, notices jsonb, "
            "PRIMARY KEY (kind, version))")
        columns = [*_TEXT_FIELDS, "attributes", "version", "geom"]
        for version, zones in versions:
            ewkb = shapely.to_wkb(shapely.set_srid(zones.geometry.values, 4326), hex=True, include_srid=True)
            with conn.cursor() as cur, cur.copy(f"COPY ecozone.zones ({', '.join(columns)}) FROM STDIN") as copy:
                for record, wkb in zip(zones.drop(columns="geometry").to_dict("records"), ewkb):
                    copy.write_row([*(record[f] for f in _TEXT_FIELDS), attributes_json(record["attributes"]),
                                    version.version, wkb])
            conn.execute(f"INSERT INTO ecozone.layer_versions ({', '.join(VERSION_COLUMNS)}) "
                         f"VALUES ({', '.join(['%s'] * len(VERSION_COLUMNS))})", _record(version))
    return versions
