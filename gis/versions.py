"""Choosing one version of a layer: by its number, or by a date (the version in force then); and the date a
choice ``KIND:N`` stands for (``layer_version_date``), read the same way by ``ecozone rescreen --layer`` and
``POST /rescreen``'s ``layer``."""

from __future__ import annotations

import datetime as dt
import re

from gis.errors import InputError, UnknownKindError, VersionNotFoundError
from gis.kinds import get_kind
from gis.store import LayerVersion, Store
from gis.store.base import iso_day

__all__ = ["layer_version_date", "pick_version"]

_NUMBER = re.compile(r"^v?(\d+)$", re.IGNORECASE)


def pick_version(store: Store, kind: str, ref: int | str | dt.date | None, *, field: str = "version") -> LayerVersion:
    """The version ``ref`` of layer ``kind``: a number (``3`` or ``v3``), a date (the version in force on it),
    or None (the newest). ``field`` names the option in errors."""
    get_kind(kind)
    available = store.versions(kind)
    numbers = ", ".join(f"{v.version} ({v.effective_from})" for v in available)
    if not available:
        raise VersionNotFoundError(f"图层 {kind} 还没有任何版本 / layer '{kind}' has no version yet", field=field,
                                   value=ref, fix="先导入一个版本 / import one first (layers import)")
    if ref is None:
        return available[-1]
    text = ref.isoformat() if isinstance(ref, dt.date) else str(ref).strip()
    number = _NUMBER.match(text)
    if number:
        for version in available:
            if version.version == int(number.group(1)):
                return version
        raise VersionNotFoundError(f"图层 {kind} 没有第 {text} 版 / layer '{kind}' has no version {text}", field=field,
                                   value=ref, fix=f"已有版本（生效日期） / versions (in force from): {numbers}")
    try:
        day = iso_day(text)
    except InputError:
        raise InputError("图层版本应写作版本号或日期 YYYY-MM-DD / a layer version is a number or a date YYYY-MM-DD",
                         field=field, value=ref,
                         fix=f"如 2 或 2021-06-30；已有版本（生效日期） / e.g. 2 or 2021-06-30; versions (in force from): "
                             f"{numbers}") from None
    current = store.in_force(day).get(kind)
    if current is None:
        raise VersionNotFoundError(f"图层 {kind} 在 {day} 没有生效的版本 / no version of layer '{kind}' was in force "
                                   f"on {day}", field=field, value=ref,
                                   fix=f"给出更晚的日期或版本号；已有版本（生效日期） / give a later date or a version "
                                       f"number; versions (in force from): {numbers}")
    return current


def layer_version_date(store: Store, choice: str, *, field: str = "layer") -> str:
    """The date ``KIND:N`` (``ecological_redline:2``) stands for: the day version N of layer KIND comes into force
    (its ``effective_from``). One reading for the command line and the API, so that a choice means one date
    wherever it is made; every problem names ``field`` (an unknown kind too, which ``get_kind`` calls ``kind``)."""
    kind, _, number = str(choice).partition(":")
    kind, number = kind.strip(), number.strip()
    if not kind or not _NUMBER.match(number):
        raise InputError("图层版本写作 图层类型:版本号 / a layer version is KIND:N", field=field, value=choice,
                         fix="例如 ecological_redline:2；已有的版本见图层管理页或 ecozone layers versions / e.g. "
                             "ecological_redline:2; the versions: the layers page, or ecozone layers versions")
    try:
        get_kind(kind)
    except UnknownKindError as error:
        raise UnknownKindError(error.message, field=field, value=choice, fix=error.fix) from None
    try:
        return pick_version(store, kind, number, field=field).effective_from
    except VersionNotFoundError as error:  # a choice given in a field is bad input, not a missing resource
        raise InputError(error.message, field=field, value=choice, fix=error.fix) from None
