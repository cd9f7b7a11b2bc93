"""Decoding text files that come as UTF-8 (with or without BOM) or GBK/GB18030, the two habits in China."""

from __future__ import annotations

from gis.errors import FormatError

__all__ = ["decode"]

_LABELS = {"utf-8-sig": "UTF-8", "gb18030": "GBK/GB18030"}


def decode(data: bytes, *, encoding: str | None, source: str) -> tuple[str, str]:
    """Decode bytes with the given encoding, or detect UTF-8 vs GB18030 (a superset of GBK and GB2312).

    UTF-8 is tried first because GB18030 decodes almost any byte string, while valid UTF-8 that is
    really GBK is vanishingly rare for Chinese text. Returns the text and the encoding used.
    """
    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for name in candidates:
        try:
            return data.decode(name), _LABELS.get(name, name.upper())
        except LookupError:
            raise FormatError(
                f"unknown text encoding {name!r}", source=source, field="encoding", value=name,
                fix="use one of utf-8, gbk, gb18030",
            ) from None
        except UnicodeDecodeError as err:
            if encoding:
                line = data[: err.start].count(b"\n") + 1
                raise FormatError(
                    f"the file is not valid {encoding}", source=source, row=line,
                    value=data[err.start : err.start + 4].hex(" "),
                    fix="omit --encoding to let ecozone detect UTF-8 or GBK",
                ) from None
    raise FormatError(
        "the file is neither UTF-8 nor GBK/GB18030 text", source=source,
        fix="save it as UTF-8 or GBK text, or pass --encoding",
    )
