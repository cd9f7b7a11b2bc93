"""GeoPackages looked at through SQLite before GDAL reads them: which tables are real feature tables, and how big.

A GeoPackage is a database, and a database can hold a view that never finishes (a recursive one) or a
table far larger than a site. Only tables registered as features in ``gpkg_contents`` and
``gpkg_geometry_columns`` that are tables, not views, are read; non-spatial tables (QGIS's
``layer_styles``) are left alone; rows and geometry bytes are counted first, and every statement runs
under a step budget, so even a hostile ``gpkg_contents`` cannot hold the reader.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gis.errors import FormatError, Notice
from gis.sites.limits import MAX_FEATURES, MAX_GEOMETRY_BYTES, MAX_LAYERS, too_many

__all__ = ["feature_tables"]

#: SQLite virtual-machine steps one look at the file may take (a few tenths of a second).
_STEPS = 20_000_000
_EVERY = 10_000

_FEATURE_TABLES = """
    SELECT c.table_name, g.column_name, m.type
    FROM gpkg_contents AS c
    JOIN gpkg_geometry_columns AS g ON g.table_name = c.table_name
    LEFT JOIN sqlite_master AS m ON m.name = c.table_name
    WHERE lower(c.data_type) = 'features'
    LIMIT ?
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def feature_tables(path: Path, *, source: str, max_features: int | None = MAX_FEATURES,
                   max_bytes: int | None = MAX_GEOMETRY_BYTES) -> tuple[list[str], list[Notice]]:
    """The feature tables of the GeoPackage at ``path`` that may be read, and notices for those skipped.

    Raises ``FormatError`` for a file that is not a GeoPackage or has no feature table, and
    ``LimitExceededError`` when the tables together hold more than ``max_features`` rows or ``max_bytes`` of
    geometry (None: no limit, for a batch of many sites; the geometry bytes are then not summed).
    """
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    except sqlite3.Error as err:
        raise _not_gpkg(source, err) from None
    calls = 0

    def budget() -> bool:
        nonlocal calls
        calls += 1
        return calls * _EVERY > _STEPS

    connection.set_progress_handler(budget, _EVERY)
    try:
        rows = connection.execute(_FEATURE_TABLES, (MAX_LAYERS + 1,)).fetchall()
        if len(rows) > MAX_LAYERS:
            raise too_many("要素表数", "feature tables", len(rows), MAX_LAYERS, source=source, field="gpkg_contents",
                           fix="只导出项目地块所在的图层 / export only the layer with the project's plots")
        tables, notices, features, size = [], [], 0, 0
        for table, column, kind in rows:
            if kind != "table":
                notices.append(Notice(
                    "gpkg_view_skipped", f"该 GeoPackage 中的 {table} 不是数据表（是视图或不存在），未读取 / "
                    f"{table} is registered as features but is not a table (a view, or missing): not read",
                    source=source, field=table, level="info",
                    fix="如需读取，把视图导出为数据表 / export the view as a table to have it read"))
                continue
            features += connection.execute(f"SELECT COUNT(*) FROM {_quoted(table)}").fetchone()[0]
            if max_features is not None and features > max_features:
                raise too_many(f"要素数（表 {table}）", f"features (table {table})", features, max_features,
                               source=source, field=table, fix="分批检查，每次一个项目 / check one project at a time")
            if max_bytes is not None:
                query = f"SELECT SUM(LENGTH({_quoted(column)})) FROM {_quoted(table)}"
                size += connection.execute(query).fetchone()[0] or 0
                if size > max_bytes:
                    raise too_many(f"几何的字节数（表 {table}）", f"bytes of geometry (table {table})", size, max_bytes,
                                   source=source, field=table,
                                   fix="简化边界（如在 QGIS 中按 1 米简化） / simplify the boundaries (e.g. to 1 m in QGIS)")
            tables.append(table)
    except sqlite3.OperationalError as err:
        if "interrupted" in str(err):
            raise FormatError("该 GeoPackage 的结构过于复杂，无法在限定时间内检查 / the GeoPackage takes too long to "
                              "inspect", source=source, field="gpkg_contents",
                              fix="在 QGIS 中把地块图层另存为新的 GeoPackage / save the layer to a new GeoPackage") from None
        raise _not_gpkg(source, err) from None
    except sqlite3.DatabaseError as err:
        raise _not_gpkg(source, err) from None
    finally:
        connection.close()
    if not tables:
        raise FormatError("该 GeoPackage 中没有可读的要素表 / the GeoPackage has no feature table to read",
                          source=source, field="gpkg_contents", value=[r[0] for r in rows][:10] or None,
                          fix="把项目地块另存为 GeoPackage 的要素图层 / save the plots as a feature layer")
    return tables, notices


def _not_gpkg(source: str, err: Exception) -> FormatError:
    return FormatError(f"不是可读的 GeoPackage / not a readable GeoPackage ({err})", source=source,
                       field="gpkg_contents", fix="在 QGIS 中重新导出为 GeoPackage / export it again as a GeoPackage")
