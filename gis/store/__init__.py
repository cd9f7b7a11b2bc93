"""Zone-layer stores: open, create and copy them, whatever the back end.

A location is a GeoPackage path or a ``postgresql://`` URL. Without one, the embedded default dataset is
opened read-only: it ships with the package and is replaced on upgrade, so nothing is ever imported into it;
``init_store`` makes a writable copy.
"""

from __future__ import annotations

import os

from gis.errors import StoreError, StoreNotFoundError
from gis.store.base import ImportedVersion, LayerVersion, Snapshot, Store, content_digest, hex_digests

__all__ = [
    "ImportedVersion",
    "LayerVersion",
    "Snapshot",
    "Store",
    "open_store",
    "create_store",
    "init_store",
    "copy_store",
    "verify_store",
    "is_postgres_url",
]


def is_postgres_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a GeoPackage."""
    return str(location).startswith(("postgresql://", "postgres://"))


def _default_location() -> str:
    from data import default_store_path

    return str(default_store_path())


def open_store(location: str | os.PathLike | None = None, *, read_only: bool | None = None) -> Store:
    """Open an existing store; ``None`` opens the embedded default dataset read-only."""
    if location is None:
        location, read_only = _default_location(), True
        if not os.path.isfile(location):
            raise StoreNotFoundError(
                "本次安装中缺少内置的默认数据集 / the embedded default dataset is missing from this installation",
                field="store", value=location,
                fix="重新安装 ecozone，或用 python -m data.build_dataset 重建数据集 / reinstall ecozone, or rebuild "
                    "the dataset with: python -m data.build_dataset",
            )
    if is_postgres_url(location):
        from gis.store.postgis import PostGISStore

        return PostGISStore(str(location), read_only=bool(read_only))
    from gis.store.gpkg import GeoPackageStore

    if read_only is None:
        read_only = os.path.realpath(location) == os.path.realpath(_default_location())
    return GeoPackageStore(location, read_only=read_only)


def create_store(location: str | os.PathLike) -> Store:
    """Create a new, empty store; an existing file or schema is never overwritten."""
    if is_postgres_url(location):
        from gis.store.postgis import PostGISStore

        return PostGISStore.create(str(location))
    from gis.store.gpkg import GeoPackageStore

    return GeoPackageStore.create(location)


def copy_store(source: Store, target: Store) -> int:
    """Copy every version of every layer, oldest first, with its metadata; returns the versions copied."""
    if target.versions():
        raise StoreError(
            "目标图层库中已有图层，复制进去会混淆两者的版本历史 / the target store already holds layers; copying "
            "into it would mix histories",
            field="store", value=target.location, fix="复制到一个新的空图层库 / copy into a new, empty store",
        )
    copied = 0
    for version in source.versions():
        zones = source._read_versions([version])
        target._write_version(zones, version)
        copied += 1
    return copied


def init_store(location: str | os.PathLike, *, source: str | os.PathLike | None = None) -> Store:
    """Create a writable store at ``location`` holding a copy of ``source`` (default: the embedded dataset)."""
    target = create_store(location)
    with open_store(source, read_only=True) as origin:
        copy_store(origin, target)
    return target


def verify_store(store: Store) -> list[str]:
    """Re-read every layer version and compare it with the digest taken at import; returns the problems, with
    the features that differ from what was imported named (zone id, what differs)."""
    problems = []
    for version in store.versions():
        zones = store._read_versions([version])
        label = f"{version.kind} v{version.version}"
        if len(zones) != version.feature_count:
            problems.append(f"{label}: 存有 {len(zones)} 个要素，导入时为 {version.feature_count} 个 / "
                            f"{len(zones)} features stored, {version.feature_count} imported")
        elif content_digest(zones) != version.content_sha256:
            problems.append(f"{label}: 内容与导入时不同 / content differs from what was imported")
        else:
            continue
        problems += [f"{label}: {text}" for text in _differing_features(store, version, zones)]
    return problems


def _differing_features(store: Store, version: LayerVersion, zones) -> list[str]:
    """The features of a version that are missing or no longer match the digests taken when they were imported
    (``zones``: the version as read, i.e. its features still present, in order)."""
    members = store._members(version)
    geometry, fields = hex_digests(zones)
    found, present = [], 0
    for position, (fid, zone_id, geometry_digest, fields_digest) in enumerate(members, start=1):
        if zone_id is None:
            found.append(f"第 {position} 个要素（fid {fid}）已不在要素表中 / feature {position} (fid {fid}) is "
                         "missing from the feature table")
            continue
        changed = [zh_en for zh_en, stored, now in (
            (("几何", "geometry"), geometry_digest, geometry[present]),
            (("字段", "fields"), fields_digest, fields[present]),
        ) if stored is not None and stored != now]
        present += 1
        if changed:
            found.append(f"要素 {zone_id}（第 {position} 个，fid {fid}）的{'和'.join(zh for zh, _ in changed)}与导入时"
                         f"不同 / zone {zone_id}: {' and '.join(en for _, en in changed)} differ from the import")
    if not found and members and members[0][2] is not None:
        found.append("各要素与其导入时的摘要一致，但版本的要素顺序或组成不同 / every feature matches its digests, but "
                     "the version's order or membership of features differs")
    return found
