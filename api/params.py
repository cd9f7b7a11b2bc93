"""Parameter types the routes share, stricter than pydantic's lax parsing where a request must say what it means.

``IsoDate``: a date written ``YYYY-MM-DD`` and nothing else. Lax parsing would also read ``0`` as 1970-01-01
and ``1e9`` as a day in 2001: a typo would silently check against the layers of another date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["IsoDate"]

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value  # pydantic checks the day exists
    raise ValueError("a date is written YYYY-MM-DD, e.g. 2024-06-30")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_day)]
