"""Parameter types the routes share, stricter than pydantic's lax parsing where a request must say what it means.

``IsoDate``: a date written ``YYYY-MM-DD`` and nothing else. Lax parsing would also read ``0`` as 1970-01-01
and ``1e9`` as a day in 2001: a typo would silently check against the layers of another date.
``datetime_days``: OGC API's ``datetime`` (RFC 3339 date, date-time or interval) as the days it spans; Python's
``fromisoformat`` alone would also read ``20240630`` or ``2024-W26``, which no OGC client means.
``single_query_values``: a query parameter given more than once (``?limit=5&limit=10``) is a 400 on every route;
Starlette would silently take the last value, and which one was meant is not known.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import re
import types
import typing
from typing import Annotated, Any

from fastapi import Request
from pydantic import BeforeValidator

from api.errors import ApiProblem

__all__ = ["IsoDate", "DATETIME_FORMS", "datetime_days", "datetime_param", "single_query_values"]

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: An RFC 3339 date-time: a full date, T, a time with seconds, an offset (Z or ±hh:mm).
_RFC3339_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)
#: The forms of ``datetime`` taken, as a fix names them.
DATETIME_FORMS = ("2024-06-30, 2024-06-30T12:00:00Z, 2024-06-30T12:00:00+08:00, 2024-01-01/2024-06-30, "
                  "../2024-06-30, 2024-01-01/.., 2024-01-01/, /2024-06-30")


def _iso_day(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value  # pydantic checks the day exists
    raise ValueError("日期应写作 YYYY-MM-DD，例如 2024-06-30 / a date is written YYYY-MM-DD, e.g. 2024-06-30")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_day)]


def _rfc3339(text: str) -> dt.date | dt.datetime:
    """An RFC 3339 full-date or date-time (with its offset); ValueError for any other text."""
    try:
        if _ISO_DAY.fullmatch(text):
            return dt.date.fromisoformat(text)
        if _RFC3339_TIME.fullmatch(text):
            return dt.datetime.fromisoformat(text.upper())
    except ValueError:  # a day or an hour that does not exist (2024-06-31, 25:00)
        pass
    raise ValueError(f"'{text}' 不是 RFC 3339 日期或日期时间", f"'{text}' is not an RFC 3339 date or date-time")


def _day(moment: dt.date | dt.datetime | None) -> dt.date | None:
    """The day of a moment as written: the offset is not applied, as the layers' days are calendar days where
    they apply, not UTC days."""
    return moment.date() if isinstance(moment, dt.datetime) else moment


def datetime_days(value: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day (inclusive) of an OGC API ``datetime``: one instant gives (day, day), an interval
    its two ends, ``..`` or nothing for an open end (None). ValueError (args: why in Chinese, in English) for any
    other text and for an interval that ends before it starts."""
    if "/" not in value:
        day = _day(_rfc3339(value))
        return day, day
    start, end = value.split("/", 1)
    first = None if start in ("", "..") else _rfc3339(start)
    last = None if end in ("", "..") else _rfc3339(end)
    if first is None and last is None:
        raise ValueError("区间至少要有一端", "an interval needs at least one end")
    if first is not None and last is not None:
        both_times = isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
        if (first > last) if both_times else (_day(first) > _day(last)):
            raise ValueError("区间的起点晚于终点", "the interval starts after it ends")
    return _day(first), _day(last)


def datetime_param(value: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day an OGC ``datetime`` parameter asks for (``datetime_days``), today if it is not
    given; a 400 naming it, its value and the forms taken if it cannot be read."""
    if value is None:
        today = dt.datetime.now(dt.timezone.utc).date()
        return today, today
    try:
        return datetime_days(value)
    except ValueError as error:
        zh, en = error.args
        raise ApiProblem(400, f"参数 datetime 的取值 '{value}' 无法使用：{zh}；应为 RFC 3339 日期、日期时间或区间 / datetime "
                         f"'{value}' cannot be used: {en}; it must be an RFC 3339 date, date-time or interval",
                         field="datetime", value=value, kind="invalid-parameter",
                         fix="例如 / e.g. " + DATETIME_FORMS) from None


def _repeats(annotation: Any) -> bool:
    """Whether a parameter of this type takes several values (``list[str]``, ``tuple[int, ...] | None`` ...)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_repeats(member) for member in typing.get_args(annotation))
    kind = origin or annotation
    return (isinstance(kind, type) and issubclass(kind, (collections.abc.Sequence, collections.abc.Set))
            and not issubclass(kind, (str, bytes)))


def _repeatable(route: Any) -> set[str]:
    """The query parameters ``route`` (and its dependencies) declares as lists: those may be given several times."""
    names: set[str] = set()
    pending = [route.dependant] if getattr(route, "dependant", None) is not None else []
    while pending:
        dependant = pending.pop()
        names |= {param.alias for param in dependant.query_params if _repeats(param.field_info.annotation)}
        pending.extend(dependant.dependencies)
    return names


async def single_query_values(request: Request) -> None:
    """Refuse a query parameter given more than once (400 naming it, with the values given), unless its route
    declares it as a list: Starlette would take the last value, and which one was meant is not known. A
    dependency of the whole application (``api.app.create_app``)."""
    if b"&" not in request.scope.get("query_string", b""):  # one parameter at most: nothing can repeat
        return
    params = request.query_params
    repeated = [name for name in params if len(params.getlist(name)) > 1]
    if not repeated:
        return
    allowed = _repeatable(request.scope.get("route"))
    for name in repeated:
        if name not in allowed:
            given = params.getlist(name)
            raise ApiProblem(400, f"查询参数 {name} 只能给一次，这里给了 {len(given)} 次 / query parameter '{name}' "
                             f"may be given once, it was given {len(given)} times", field=name, value=given,
                             kind="invalid-parameter", fix=f"只保留一个 {name} / keep one {name}")
