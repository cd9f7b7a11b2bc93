"""Zip archives (.xlsx, .kmz) and XML (KML, the parts of a workbook) opened without trusting what they declare.

A zip is refused before anything is inflated when it has too many members, a member name that could
escape a folder, or members that would inflate past a limit; a member is copied with a running cap, so a
size that lies stops the copy too. XML with a document type declaration is refused: neither an .xlsx nor
a KML needs one, and a DTD is how entity bombs and external entities (XXE) get in.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from gis.errors import FormatError
from gis.sites.limits import MAX_INFLATED_BYTES, MAX_ZIP_ENTRIES, too_many

__all__ = ["PROLOG_BYTES", "check_xml", "check_xml_members", "copy_member", "open_zip", "zip_layer"]

#: Bytes of an XML part read to find its root element (what may come before it: declaration, comments).
PROLOG_BYTES = 64 * 1024
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_ELEMENT = re.compile(rb"<[A-Za-z_:]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def open_zip(path: Path, *, source: str, kind: str, max_total: int = MAX_INFLATED_BYTES,
             max_member: int | None = None) -> zipfile.ZipFile:
    """Open a zip after checking its member count, names and declared sizes; ``kind`` names it in messages."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise FormatError(f"不是完整的 {kind} 文件 / not a readable {kind} (zip) file ({err})", source=source,
                          field="site", fix=f"重新导出或重新下载 {kind} 文件 / export or download the {kind} again") from None
    member_limit = min(max_member or max_total, max_total)
    try:
        members = archive.infolist()
        if len(members) > MAX_ZIP_ENTRIES:
            raise too_many("压缩包中的文件数", "files in the zip", len(members), MAX_ZIP_ENTRIES, source=source,
                           field="entries", fix=f"重新导出 {kind} 文件 / export the {kind} again")
        for member in members:
            _check_name(member.filename, source)
            if member.file_size > member_limit:
                raise _inflated(member.filename, member.file_size, member_limit, source)
        total = sum(member.file_size for member in members)
        if total > max_total:
            raise too_many("压缩包解压后的字节数", "bytes once inflated", total, max_total, source=source,
                           field="site", fix="拆分为较小的文件 / split it into smaller files")
    except BaseException:
        archive.close()
        raise
    return archive


def zip_layer(archive: zipfile.ZipFile, suffixes: tuple[str, ...], *, source: str) -> tuple[str, dict[str, str]]:
    """The one layer a zip holds (a member ending in one of ``suffixes``) and the members beside it by suffix
    (a shapefile's ``.dbf``, ``.shx`` …, any case). Which of several layers to take is the sender's choice, not
    ours: a zip with none or several is refused naming what it holds."""
    # a Mac's Finder adds __MACOSX/._name resource forks beside each member: they are no layers
    names = [info.filename for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
    layers = [name for name in names if PurePosixPath(name).suffix.lower() in suffixes]
    wanted = "、".join(suffixes)
    if len(layers) != 1:
        held = layers or names
        shown = "、".join(held[:10]) + ("…" if len(held) > 10 else "")
        shown_en = ", ".join(held[:10]) + (" …" if len(held) > 10 else "")
        if layers:
            message = (f"压缩包中有 {len(layers)} 个图层（{shown}），应只有一个 / the zip holds {len(layers)} layers "
                       f"({shown_en}); it should hold one")
        else:
            message = (f"压缩包中没有图层文件（{wanted}），其中有：{shown or '无'} / the zip holds no layer file "
                       f"({', '.join(suffixes)}); it holds: {shown_en or 'nothing'}")
        raise FormatError(message, source=source, field="file", value=shown or None,
                          fix=f"每个压缩包只放一个图层（{wanted}；.shp 连同其 .dbf、.shx、.prj） / zip one layer per "
                              f"file ({', '.join(suffixes)}; a .shp with its .dbf, .shx, .prj)")
    layer = layers[0]
    stem = layer[: -len(PurePosixPath(layer).suffix)]
    beside = {name[len(stem):].lower(): name for name in names
              if name[: len(stem)].lower() == stem.lower() and name != layer
              and name[len(stem):].startswith(".") and "/" not in name[len(stem):]}
    return layer, beside


def _check_name(name: str, source: str) -> None:
    """Refuse a member name that is absolute, climbs out with '..', or carries a drive or control characters."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if (not name or name.startswith(("/", "\\")) or "\\" in name or _DRIVE.match(name) or ".." in parts
            or any(ord(c) < 32 for c in name)):
        raise FormatError(
            "压缩包中的文件名不安全（绝对路径、..、盘符或控制字符） / a file name in the zip is unsafe "
            "(absolute, '..', a drive or control characters)", source=source, field=name, value=name,
            fix="用常用软件重新压缩，文件名只用相对路径 / zip the files again with ordinary relative names",
        )


def copy_member(archive: zipfile.ZipFile, name: str, target: Path, *, limit: int, source: str) -> None:
    """Inflate member ``name`` to ``target``, stopping as soon as more than ``limit`` bytes come out."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise _inflated(name, info.file_size, limit, source)
    written = 0
    try:
        with archive.open(info) as member, open(target, "wb") as out:
            while chunk := member.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise _inflated(name, written, limit, source)
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
        raise FormatError(f"压缩包中的 {name} 已损坏 / {name} in the zip is damaged ({err})", source=source,
                          field=name, fix="重新导出文件 / export the file again") from None


def _inflated(name: str, size: int, limit: int, source: str):
    return too_many(f"{name} 解压后的字节数", f"bytes in {name} once inflated", size, limit, source=source,
                    field=name, fix="拆分为较小的文件，或简化边界 / split the file, or simplify the boundaries")


def check_xml_members(archive: zipfile.ZipFile, *, source: str) -> None:
    """Refuse a zip any of whose XML members declares a DTD (an .xlsx never does)."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        try:
            with archive.open(info) as member:
                head = member.read(PROLOG_BYTES)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
            raise FormatError(f"压缩包中的 {info.filename} 已损坏 / {info.filename} in the zip is damaged ({err})",
                              source=source, field=info.filename, fix="重新导出文件 / export the file again") from None
        if head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
            check_xml(head, source=source, field=info.filename)


def check_xml(head: bytes, *, source: str, field: str) -> None:
    """Refuse XML whose prolog (what comes before the root element, in ``head``) declares a DTD."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode()
    position = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while (match := _PROLOG_ITEM.match(head, position)) and match.end() > position:
        position = match.end()
    rest = head[position:].lstrip()
    if _ELEMENT.match(rest):
        return
    if rest.startswith(b"<!DOCTYPE"):
        message = "XML 含有文档类型声明（DTD），为安全起见不予读取 / the XML declares a DTD, which ecozone refuses"
    else:
        message = "XML 的根元素前内容过长或无法识别 / the XML has no root element in its first 64 KB"
    raise FormatError(message, source=source, field=field, value=rest[:40].decode("utf-8", "replace"),
                      fix="用 Excel、WPS 或 GIS 软件重新保存文件 / save the file again from Excel, WPS or a GIS")
