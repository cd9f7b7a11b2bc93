"""Limits on what a request may carry, and uploaded files written where the ``gis`` readers can open them.

The body size is enforced while the body streams in, before any parser sees it: a declared
``Content-Length`` over the limit is answered 413 at once, and a chunked body is cut off as soon as it
passes the limit (a layer import with a write key has a limit of its own). The vertex limit is checked on the
parsed site, before any coordinate work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import key_matches
from api.errors import PROBLEM_JSON, ApiProblem
from gis.errors import LimitExceededError
from gis.sites.model import RawSite

log = logging.getLogger("ecozone.api")

__all__ = ["BodySizeLimit", "check_vertices", "save_uploads", "stall_guard"]

_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


#: The path of a layer import (under any root path): its body may be as large as ``import_max_bytes``.
_IMPORT_PATH = re.compile(r"/layers/[^/]+/versions/?$")


def _too_large(size: int, limit: int, *, complete: bool, setting: str) -> ApiProblem:
    """The 413 of a body of ``size`` bytes (only its first ``size``, when it was cut off there: ``complete``
    false) over ``limit``: the value is what was sent, the message says both."""
    sent_zh = f"{size:,} 字节" if complete else f"超过 {size:,} 字节（未收完即停止接收）"
    sent_en = f"{size:,} bytes" if complete else f"more than {size:,} bytes (cut off before its end)"
    return ApiProblem(413, f"请求内容为 {sent_zh}，超过本服务器的上限 {limit:,} 字节 / the request body is {sent_en}, "
                           f"more than this server accepts ({limit:,} bytes)",
                      field="body", value=size if complete else f"more than {size}", kind="content-too-large",
                      fix=f"将输入拆分为较小的文件，或请运维人员调高 {setting} / split the input into smaller files, or ask "
                          f"the operator to raise {setting}")


class BodySizeLimit:
    """ASGI middleware refusing request bodies over their limit with 413 problem+json: ``max_bytes``, or for a
    layer import sent with a write key ``import_max_bytes`` (an official layer is tens to hundreds of MB, a site
    or a register a few MB; without a write key the import is refused anyway, so its body gets no more room)."""

    def __init__(self, app: ASGIApp, max_bytes: int, import_max_bytes: int | None = None,
                 write_keys: list[str] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.import_max_bytes = max(import_max_bytes or max_bytes, max_bytes)
        self.write_keys = list(write_keys or [])

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The limit of this request's body and the setting that raises it."""
        if scope["method"] == "POST" and self.write_keys and _IMPORT_PATH.search(scope["path"]):
            key = dict(scope["headers"]).get(b"x-api-key")
            if key and key_matches(key.decode("latin-1"), self.write_keys):
                return self.import_max_bytes, "ECOZONE_IMPORT_MAX_BYTES"
        return self.max_bytes, "ECOZONE_UPLOAD_MAX_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, stopping its body at the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            body = _too_large(int(declared), limit, complete=True, setting=setting).body()
            body["instance"] = scope["path"]
            content = json.dumps(body, ensure_ascii=False).encode()  # UTF-8 text, as every other problem
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                    (b"content-length", str(len(content)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": content})
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(received, limit, complete=not message.get("more_body", False), setting=setting)
            return message

        await self.app(scope, limited, send)


def stall_guard(receive: Receive, stall_s: float) -> Receive:
    """``receive`` for a request whose body may go ``stall_s`` seconds without a byte, then ends as if its client
    had gone (``http.disconnect``, which every reader of the body takes as the end): a client that sends its
    headers and then trickles, or nothing, would hold a connection and a file handle for ever."""
    complete = False

    async def guarded() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout(stall_s):
                message = await receive()
        except TimeoutError:
            log.info("a request body stalled for %g s; the request is dropped", stall_s)
            complete = True
            return {"type": "http.disconnect"}
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return guarded


def check_vertices(raw: RawSite, limit: int, *, field: str = "site") -> None:
    """Refuse a parsed site with more vertices than ``limit`` (LimitExceededError, answered 413)."""
    count = sum(len(ring.coords) for plot in raw.plots for part in plot.parts for ring in part.rings)
    if count > limit:
        raise LimitExceededError(
            f"地块有 {count:,} 个顶点，本服务器核查的地块最多 {limit:,} 个顶点 / the site has {count:,} vertices; this "
            f"server checks sites of at most {limit:,}", source=raw.source, field=field, value=count,
            fix="简化边界（如在 QGIS 中按 1 米简化）或分成几个地块 / simplify the boundary (e.g. to 1 m in QGIS) or split it "
                "into plots",
        )


def _safe_name(name: str | None, field: str) -> str:
    given = Path(name or "").name
    base = _UNSAFE.sub("_", given).strip(" .")
    if not base:
        raise ApiProblem(400, "上传的文件没有可用的文件名 / an uploaded file has no usable name", field=field, value=name,
                         fix="发送文件时带上文件名和扩展名，例如 拐点坐标.txt / send the file with its name and extension, "
                             "e.g. 拐点坐标.txt")
    if "." in given and given.rpartition(".")[2].strip() and not Path(base).suffix:
        # '..csv' passes a check of its extension, then is saved as 'csv': the readers go by the extension, and a
        # job would fail long after the answer said it was queued
        raise ApiProblem(400, f"上传的文件名「{name}」去掉首尾的点和空格后没有扩展名 / the uploaded file's name '{name}' "
                              "has no extension once its leading and trailing dots and spaces are removed",
                         field=field, value=name, fix="把文件改名为带名称和扩展名的文件名再发送，例如 清单.csv / rename the "
                                                      "file to a name and an extension, e.g. 清单.csv, and send it again")
    # at most 200 bytes (file systems take 255), the extension kept: the readers go by it, and a shapefile's
    # parts cut alike keep one stem
    suffix = Path(base).suffix if len(Path(base).suffix.encode()) <= 16 else ""
    stem = base[: len(base) - len(suffix)].encode()[: 200 - len(suffix.encode())].decode("utf-8", "ignore")
    return stem + suffix


async def save_uploads(files: list[Any], folder: Path, *, field: str = "file") -> list[Path]:
    """Write uploaded files into ``folder`` under their own (sanitised) names, for readers that need sidecars."""
    paths = []
    for upload in files:
        if not isinstance(upload, UploadFile):
            raise ApiProblem(400, f"表单项 {field} 应为文件（multipart/form-data，带文件名） / '{field}' must be a file "
                             "part (multipart/form-data with a filename)", field=field,
                             fix=f"例如 / send it as: curl -F {field}=@path/to/file ...")
        path = folder / _safe_name(upload.filename, field)
        with open(path, "wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        paths.append(path)
    return paths
