"""The store interface shared by the GeoPackage and PostGIS back ends.

A store holds versioned layers, one layer per zone kind. Importing a layer creates a new version of it; no
version is ever overwritten or deleted. A version is in force from its ``effective_from`` date until the
next version's, so a check can be re-run against the layers in force on a past date. A write is one
transaction: an import that fails or is killed midway leaves the store as it was.

A version is the list of its features, in the order of the import. A feature is stored once: one identical
(same geometry WKB, same fields) to a feature already stored for the kind is linked to the new version
rather than stored again, so a new version costs what changed. Each stored feature keeps the digests of its
geometry and fields taken at import, so that ``verify_store`` can name a feature that changed since.

An import that would only copy a version kept (the same features by ``content_digest``, and nothing it states
about the version differing) creates none: the history stays a list of real changes, not of files imported twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import InputError, Notice, ReadOnlyStoreError, VersionNotFoundError
from gis.kinds import KINDS, ZONE_FIELDS, get_kind
from gis.zones import (OPEN_END, attributes_json, empty_zones, feature_digests, outside_coverage, validate_zones,
                       written_day, zone_frame)

__all__ = ["CATALOGUE_COLUMNS", "ImportedVersion", "LayerVersion", "Snapshot", "Store", "iso_day", "content_digest",
           "hex_digests", "linked_zones", "valid_on"]


@dataclass(frozen=True)
class LayerVersion:
    """One imported version of one layer."""

    kind: str
    version: int
    imported_at: str  # UTC, ISO 8601
    effective_from: str  # ISO date from which this version is in force
    source: str  # file name or description of where the features came from
    feature_count: int
    content_sha256: str  # digest of the stored features, to detect any change
    note: str | None = None
    coverage_wkb: str | None = None  # hex WKB of the area where the layer is complete; None = the whole store area
    notices: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The version as plain data."""
        return asdict(self)

    @property
    def coverage(self) -> shapely.Geometry | None:
        """Where this layer version is complete: outside it, a site is "not checked" against the layer."""
        return shapely.from_wkb(self.coverage_wkb) if self.coverage_wkb else None


#: Columns of the ``layer_versions`` table, in order (``notices`` last), shared by the back ends.
VERSION_COLUMNS = tuple(f.name for f in fields(LayerVersion))


@dataclass(frozen=True)
class ImportedVersion(LayerVersion):
    """What ``Store.import_layer`` gives back: the version it created, or (``created`` False) the version kept
    that the import would only have copied, so a caller can say that nothing changed and why."""

    created: bool = True
    message: str = ""  # what happened, Chinese first: the version created, or the one kept and why


@dataclass(frozen=True)
class Snapshot:
    """The layers in force at one date: a stable key for caching prepared geometries, and the features
    (those in force on the date, from ``Store.snapshot``; or every feature of the versions, from
    ``Store.features``, when an engine serves several dates)."""

    as_of: str
    versions: dict[str, LayerVersion]
    zones: gpd.GeoDataFrame

    @property
    def key(self) -> tuple[tuple[str, int], ...]:
        """The versions in force, as (kind, version) pairs: what identifies the snapshot's content."""
        return tuple(sorted((kind, v.version) for kind, v in self.versions.items()))


def content_digest(zones: gpd.GeoDataFrame) -> str:
    """SHA-256 over the features in a canonical form: column by column, rows in order, geometry as WKB."""
    digest = hashlib.sha256()
    for name in ZONE_FIELDS:
        values = zones[name].tolist()
        if name == "attributes":
            values = [attributes_json(v) for v in values]
        digest.update(json.dumps([name, values], ensure_ascii=False, default=str).encode())
    for wkb in shapely.to_wkb(zones.geometry.values):
        digest.update(wkb)
    return digest.hexdigest()


def hex_digests(zones: gpd.GeoDataFrame) -> tuple[list[str], list[str]]:
    """Per feature, the digests of its geometry and of its fields as stored beside it (hex text)."""
    geometry, fields = feature_digests(zones)
    return [d.hex() for d in geometry], [d.hex() for d in fields]


def linked_zones(rows: list[tuple], wkb=bytes) -> gpd.GeoDataFrame:
    """Zones from rows of (version id, position, geometry, then ``ZONE_FIELDS`` with the attributes as JSON
    text), in the order they were imported in: version by version, each in its own order. ``wkb`` takes the
    WKB out of a back end's geometry value."""
    if not rows:
        return empty_zones()
    rows = sorted(rows, key=lambda row: (row[0], row[1]))
    records = [dict(zip(ZONE_FIELDS, row[3:])) for row in rows]
    for record in records:
        record["attributes"] = json.loads(record["attributes"]) if record["attributes"] else {}
    return zone_frame(records, list(shapely.from_wkb([wkb(row[2]) for row in rows])))


#: What ``Store.catalogue`` gives of each feature: its id in the store, what selects it (id, dates, source),
#: the digests of its geometry and fields (hex; None where the store keeps none) and its envelope (lon/lat; a
#: store may round it outwards, never inwards).
CATALOGUE_COLUMNS = ("fid", "zone_id", "valid_from", "valid_to", "geometry_source", "geometry_digest", "fields_digest",
                     "minx", "miny", "maxx", "maxy")


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def valid_on(zones: gpd.GeoDataFrame, day: str) -> gpd.GeoDataFrame:
    """The features of ``zones`` valid on ``day`` (ISO) by their own valid_from/valid_to (valid_to excluded)."""
    if not len(zones):
        return zones
    starts = zones["valid_from"].fillna("0000-01-01")
    ends = zones["valid_to"].fillna(OPEN_END)
    return zones[(starts <= day) & (day < ends)].reset_index(drop=True)


class Store(ABC):
    """A versioned store of zone layers."""

    location: str  # how the store is told apart and named on the command line: a path, a URL without password
    open_location: str  # what ``open_store`` needs to open it again elsewhere (e.g. on a Dask worker): private
    name: str  # how results and answers show it: a file or database name, never a path, a URL or a password
    read_only: bool

    # -- what back ends implement ------------------------------------------------------------------------
    @abstractmethod
    def versions(self, kind: str | None = None) -> list[LayerVersion]:
        """Every version of every layer (or of one kind), oldest first."""

    @abstractmethod
    def _read_versions(self, versions: list[LayerVersion]) -> gpd.GeoDataFrame:
        """The features of the given layer versions (ZONE_FIELDS + geometry, attributes as dicts)."""

    @abstractmethod
    def _write_version(self, zones: gpd.GeoDataFrame, version: LayerVersion,
                       unless: Callable[[], LayerVersion | None] | None = None) -> tuple[LayerVersion, bool]:
        """Append one layer version atomically, storing only the features not stored yet for the kind; the back
        end assigns the version number under a lock. Returns it and True; or, where ``unless`` (asked under
        that lock, so that concurrent imports see each other) names a version kept, that one and False,
        having written nothing."""

    @abstractmethod
    def _members(self, version: LayerVersion) -> list[tuple[int, str | None, str | None, str | None]]:
        """The features linked to ``version``, in its order: (feature id, zone id, geometry digest, fields
        digest as taken at import). A zone id of None: the feature linked is missing from the store; digests of
        None: the store keeps none (an older store opened read-only)."""

    # -- shared behaviour ---------------------------------------------------------------------------------
    def in_force(self, as_of: str | dt.date | None = None) -> dict[str, LayerVersion]:
        """For each kind, the version in force on ``as_of`` (default: today)."""
        day = iso_day(as_of)
        chosen: dict[str, LayerVersion] = {}
        for version in self.versions():
            if version.effective_from <= day:
                current = chosen.get(version.kind)
                if current is None or (version.effective_from, version.version) >= (
                    current.effective_from, current.version
                ):
                    chosen[version.kind] = version
        return chosen

    def snapshot(self, as_of: str | dt.date | None = None, kinds: list[str] | None = None) -> Snapshot:
        """The features in force on ``as_of``: versions in force, then each feature's valid_from/valid_to."""
        day = iso_day(as_of)
        versions = self.in_force(day)
        if kinds is not None:
            for kind in kinds:
                get_kind(kind)
            versions = {k: v for k, v in versions.items() if k in kinds}
        return Snapshot(as_of=day, versions=versions, zones=valid_on(self._read_versions(list(versions.values())), day))

    def features(self, versions: list[LayerVersion],
                 bounds: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Every feature of ``versions`` (whatever its own valid_from/valid_to) whose envelope meets
        ``bounds`` (lon/lat degrees; None: all), in storage order.

        Back ends read through their spatial index; this default reads the versions once and keeps them."""
        key = tuple(sorted((v.kind, v.version) for v in versions))
        cached = getattr(self, "_features_cache", None)
        if cached is None or cached[0] != key:
            cached = self._features_cache = (key, self._read_versions(versions))
        zones = cached[1]
        if bounds is None or zones.empty:
            return zones
        b = zones.geometry.bounds
        meets = (b["minx"] <= bounds[2]) & (b["maxx"] >= bounds[0]) & (b["miny"] <= bounds[3]) & (b["maxy"] >= bounds[1])
        return zones[meets.to_numpy()].reset_index(drop=True)

    def catalogue(self, versions: list[LayerVersion]) -> pd.DataFrame:
        """One row per feature of ``versions``, in storage order, without its geometry (``CATALOGUE_COLUMNS``):
        what a pager needs to count, select and page a layer of any size before it reads any geometry
        (``features_by_id``). This default reads the versions once and keeps them."""
        zones = self.features(versions)
        frame = pd.DataFrame({name: zones[name].to_numpy() for name in CATALOGUE_COLUMNS[1:5]})
        frame.insert(0, "fid", np.arange(len(zones), dtype=np.int64))
        frame["geometry_digest"], frame["fields_digest"] = hex_digests(zones) if len(zones) else ([], [])
        bounds = shapely.bounds(zones.geometry.values) if len(zones) else np.empty((0, 4))
        for i, name in enumerate(CATALOGUE_COLUMNS[7:]):
            frame[name] = bounds[:, i]
        return frame

    def features_by_id(self, versions: list[LayerVersion], fids) -> gpd.GeoDataFrame:
        """The features of ``versions`` with these store ids (``catalogue``'s ``fid``), in the order given:
        only those rows are read."""
        zones = self.features(versions)
        return zones.iloc[np.asarray(fids, dtype=np.int64)].reset_index(drop=True)

    def read(self, kind: str, version: int | None = None) -> gpd.GeoDataFrame:
        """All features of one layer version (default: the newest), whatever their validity dates."""
        get_kind(kind)
        available = self.versions(kind)
        if version is None and available:
            return self._read_versions([available[-1]])
        for candidate in available:
            if candidate.version == version:
                return self._read_versions([candidate])
        raise VersionNotFoundError(
            f"图层 {kind} 没有第 {version} 版 / layer '{kind}' has no version {version}" if version
            else f"图层 {kind} 还没有任何版本 / layer '{kind}' has no version yet",
            field="version", value=version,
            fix=("现有版本 / versions available: " + ", ".join(str(v.version) for v in available)) if available
            else f"先导入该图层（图层类型 {kind}） / import a layer of kind {kind} first",
        )

    def import_layer(
        self,
        zones: gpd.GeoDataFrame,
        kind: str,
        *,
        source: str,
        effective_from: str | dt.date | None = None,
        note: str | None = None,
        coverage: shapely.Geometry | None = None,
        notices: list[Notice] | None = None,
    ) -> ImportedVersion:
        """Validate ``zones`` and store them as a new version of layer ``kind``.

        Earlier versions stay as they are. Validation happens before anything is written, and the write
        is one transaction, so a failed import leaves the store unchanged. ``coverage`` (lon/lat polygons)
        says where the layer is complete; without it the layer counts as complete everywhere.

        An import that would only copy the version in force on its date (default today) creates nothing and
        gives that version back with ``created`` False: same features, source and coverage, and the same date
        and note where they are given. The same features from another date are a re-issue: a new version.
        """
        if self.read_only:
            raise ReadOnlyStoreError(
                f"图层库 {self.name} 为只读 / the store {self.name} is read-only", field="store", value=self.name,
                fix="新建一个可写的图层库（默认数据集的副本）并用 «store» 指定 / make a writable copy of the store "
                    "and give it as «store»",
            )
        get_kind(kind)
        validated, found = validate_zones(zones, kind=kind, source=source)
        pending = LayerVersion(
            kind=kind,
            version=0,  # assigned by the back end inside its transaction
            imported_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            effective_from=iso_day(effective_from, field="effective_from"),
            source=source,
            feature_count=len(validated),
            content_sha256=content_digest(validated),
            note=note,
            coverage_wkb=_coverage_wkb(coverage),
        )

        def copied() -> LayerVersion | None:
            return self._copied_version(pending, dated=effective_from is not None, noted=note is not None)

        copy_of = copied()  # asked again under the back end's lock: one file imported twice at once makes one version
        if copy_of is not None:
            return self._imported(copy_of, created=False)
        digest, effective = pending.content_sha256, pending.effective_from
        kept = self.versions(kind)
        same = [v for v in kept if v.content_sha256 == digest]
        if same:  # kept as asked (its date or coverage may be the point), but said: often a file imported twice
            found.append(Notice(
                code="same_content", level="info", source=source, value=same[-1].version,
                message=f"要素与第 {same[-1].version} 版完全相同（{same[-1].source}） / the features are those of version "
                        f"{same[-1].version} ({same[-1].source}), unchanged"))
        later = min((v for v in kept if v.effective_from > effective),
                    key=lambda v: (v.effective_from, -v.version), default=None)
        if later is not None:  # a backdated import: in force only until a version already kept takes over
            found.append(Notice(
                code="in_force_until_later", level="warning", source=source, field="effective_from", value=effective,
                message=f"本版自 {effective} 起生效，但第 {later.version} 版自 {later.effective_from} 起生效：本版只在此前现行 / "
                        f"this version takes effect on {effective}, but version {later.version} takes effect on "
                        f"{later.effective_from}: this one is in force only until then",
                fix="如本版应为现行版本，请给出晚于该日期的生效日期 / give an effective date after that one if this "
                    "version is to be the one in force"))
        all_notices = [*(notices or []), *found, *outside_coverage(validated, coverage, source)]
        stored, created = self._write_version(validated, replace(pending, notices=[n.to_dict() for n in all_notices]),
                                              unless=copied)
        return self._imported(stored, created=created)

    def _copied_version(self, pending: LayerVersion, *, dated: bool, noted: bool) -> LayerVersion | None:
        """The version in force on ``pending``'s date that ``pending`` would only copy, or None.

        Compared by the digests taken at import, never feature by feature, so it costs the same for a layer of
        any size. What the import left to its default (the date, the note) is taken as that version's; a date
        given must be its own, as a version with the same features from a new date is a re-issue."""
        current = self.in_force(pending.effective_from).get(pending.kind)
        if current is None or current.content_sha256 != pending.content_sha256:
            return None
        same = (current.source == pending.source and current.coverage_wkb == pending.coverage_wkb
                and (not dated or current.effective_from == pending.effective_from)
                and (not noted or current.note == pending.note))
        return current if same else None

    def _imported(self, version: LayerVersion, *, created: bool) -> ImportedVersion:
        """The answer of an import, with what happened said in words (whether the version kept is in force)."""
        n, day = version.version, version.effective_from
        if created:
            message = f"已新建第 {n} 版（自 {day} 起生效） / version {n} created (in force from {day})"
        elif getattr(self.in_force().get(version.kind), "version", None) == n:
            message = f"与现行第 {n} 版内容相同，未新建版本 / identical to version {n} in force; no new version"
        else:
            message = (f"与第 {n} 版（自 {day} 起生效）内容相同，未新建版本 / identical to version {n} (in force from "
                       f"{day}); no new version")
        return ImportedVersion(**version.to_dict(), created=created, message=message)

    def summary(self, as_of: str | dt.date | None = None) -> list[dict]:
        """One row per known kind: label, version in force, feature count, versions kept, source."""
        in_force = self.in_force(as_of)
        counts: dict[str, int] = {}
        for version in self.versions():
            counts[version.kind] = counts.get(version.kind, 0) + 1
        rows = []
        for kind, spec in KINDS.items():
            current = in_force.get(kind)
            rows.append({
                "kind": kind,
                "label": spec.label_zh,
                "version": current.version if current else None,
                "features": current.feature_count if current else 0,
                "versions": counts.get(kind, 0),
                "effective_from": current.effective_from if current else None,
                "source": current.source if current else None,
            })
        return rows

    def close(self) -> None:
        """Release connections (no-op where there are none)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _coverage_wkb(coverage: shapely.Geometry | None) -> str | None:
    if coverage is None:
        return None
    if coverage.is_empty or coverage.geom_type not in {"Polygon", "MultiPolygon"}:
        raise InputError(
            "图层的覆盖范围必须是非空的面 / a layer's coverage must be a non-empty polygon", field="coverage",
            value=coverage.geom_type,
            fix="以经纬度的面给出图层数据完整的区域 / give the area where the layer is complete as a polygon in "
                "lon/lat",
        )
    return shapely.to_wkb(shapely.make_valid(coverage), hex=True)


def iso_day(value: str | dt.date | None, field: str = "as_of") -> str:
    """A date as ISO text (default today, UTC), also as officers write it (2024/07/01, 2024.7.1, 2024年7月1日); a
    malformed one is an InputError naming ``field``."""
    if value is None:
        return _today()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        day = written_day(value)
    except ValueError:
        day = None  # perhaps another ISO 8601 form (2024-W27-1)
    try:
        return day or dt.date.fromisoformat(str(value)).isoformat()  # "" is no day
    except ValueError:
        raise InputError(
            "日期应写作 YYYY-MM-DD / a date must be written YYYY-MM-DD", field=field, value=value,
            fix=f"例如 «{field}» 2019-06-30 / e.g. «{field}» 2019-06-30"
        ) from None
