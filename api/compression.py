"""gzip for answers that are large and compress well (OGC API features, collections, vector tiles), when the
client accepts it: a router opts in with ``route_class=CompressedRoute``.

Compression runs in a worker thread: a page of a thousand features is megabytes, and compressing it on the event
loop would hold back every other request meanwhile (a check answers in milliseconds).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["CompressedRoute", "accepts_gzip", "gzipped"]

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


async def gzipped(request: Request, response: Response) -> Response:
    """``response`` gzipped when the client accepts it and its body is worth it; as it is otherwise."""
    body = getattr(response, "body", None)
    if not body or "content-encoding" in response.headers or response.status_code in (204, 304):
        return response
    response.headers["vary"] = "Accept-Encoding"
    if len(body) < MIN_BYTES or not accepts_gzip(request):
        return response
    compressed = await run_in_threadpool(gzip.compress, body, _LEVEL)
    headers = {key: value for key, value in response.headers.items() if key != "content-length"}
    headers["content-encoding"] = "gzip"
    return Response(compressed, status_code=response.status_code, headers=headers, background=response.background)


class CompressedRoute(APIRoute):
    """A route whose answers are gzipped when the client accepts it (``gzipped``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, its answer gzipped when the client accepts it and the body is worth it."""
        handler = super().get_route_handler()

        async def compressed(request: Request) -> Response:
            return await gzipped(request, await handler(request))

        return compressed
