"""gzip for answers that are large and compress well (OGC API features, collections, vector tiles), when the
client accepts it: a router opts in with ``route_class=CompressedRoute``.

Compression runs in a worker thread: a page of a thousand features is megabytes, and compressing it on the event
loop would hold back every other request meanwhile (a check answers in milliseconds).

The gzip body and the plain one are two representations of one resource: a strong ETag must tell them apart
(RFC 9110 8.8.3), so the gzip one's tag ends ``-gzip`` (as nginx and Apache mark theirs), every answer that may be
either says ``Vary: Accept-Encoding``, and ``not_modified`` takes either tag in If-None-Match.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["CompressedRoute", "accepts_gzip", "gzip_etag", "gzipped", "not_modified"]

#: Smaller bodies are sent as they are: compressing them gains less than the header costs.
MIN_BYTES = 1024
_LEVEL = 5


def accepts_gzip(request: Request) -> bool:
    """Whether the request's Accept-Encoding takes gzip: named with a quality above 0, or else ``*`` with one (a
    gzip named with q=0 refuses it whatever ``*`` says, RFC 9110 12.5.3)."""
    qualities = {}
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip()
            try:
                qualities[coding.strip().lower()] = float(quality or 1)
            except ValueError:
                qualities[coding.strip().lower()] = 1.0
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def gzip_etag(tag: str) -> str:
    """The ETag of the gzip representation of the body tagged ``tag``: ``"abc"`` -> ``"abc-gzip"``."""
    return tag[:-1] + '-gzip"' if tag.endswith('"') else tag + "-gzip"


def not_modified(request: Request, tag: str, headers: dict[str, str]) -> Response | None:
    """A 304 (with ``headers``, and the tag as the client sent it) when If-None-Match names ``tag`` or its gzip
    form (compared weakly, as RFC 9110 13.1.2 asks); None when the body must be sent."""
    sent = {part.strip().removeprefix("W/") for part in request.headers.get("if-none-match", "").split(",")}
    for known in (tag, gzip_etag(tag)):
        if known in sent or "*" in sent:
            return Response(status_code=304, headers={**headers, "ETag": known, "Vary": "Accept-Encoding"})
    return None


async def gzipped(request: Request, response: Response) -> Response:
    """``response`` gzipped when the client accepts it and its body is worth it (its ETag, if any, then in the
    gzip form); as it is otherwise."""
    body = getattr(response, "body", None)
    if not body or "content-encoding" in response.headers or response.status_code in (204, 304):
        return response
    response.headers["vary"] = "Accept-Encoding"
    if len(body) < MIN_BYTES or not accepts_gzip(request):
        return response
    compressed = await run_in_threadpool(gzip.compress, body, _LEVEL)
    headers = {key: value for key, value in response.headers.items() if key != "content-length"}
    headers["content-encoding"] = "gzip"
    if "etag" in headers:
        headers["etag"] = gzip_etag(headers["etag"])
    return Response(compressed, status_code=response.status_code, headers=headers, background=response.background)


class CompressedRoute(APIRoute):
    """A route whose answers are gzipped when the client accepts it (``gzipped``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, its answer gzipped when the client accepts it and the body is worth it."""
        handler = super().get_route_handler()

        async def compressed(request: Request) -> Response:
            return await gzipped(request, await handler(request))

        return compressed
