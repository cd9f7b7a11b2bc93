"""What operating the server needs: ``/health`` for probes, ``/docs`` and ``/redoc`` with local assets, the icon.

Swagger UI and ReDoc are vendored in ``api/static`` (versions and licences in its README) and served under
``/docs/static``, so the API documentation renders on an intranet with no internet. None of these routes needs
a key, even when reads do: a container's health probe has no key, and they show nothing of the layers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from api.deps import StateDep
from gis.evidence import ecozone_version
from gis.store import is_postgres_url

__all__ = ["STATIC", "router", "Health"]

#: Vendored Swagger UI and ReDoc, and the icon (``api/static/README.md``).
STATIC = Path(__file__).resolve().parents[1] / "static"
#: Longest wait for the store to answer a health probe, seconds: a store that takes longer is not healthy.
HEALTH_TIMEOUT_S = 10

#: The docs pages may load nothing but this server's files: ReDoc's sidebar links a logo on Redocly's CDN,
#: which the browser then does not even ask for (offline it would fail anyway).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")

log = logging.getLogger("ecozone.api")

router = APIRouter()


class StoreHealth(BaseModel):
    """The layer store as a probe sees it: what kind it is and what it holds, never where it is."""

    kind: Literal["embedded", "geopackage", "postgis"] = Field(
        description="embedded: the read-only dataset shipped with ecozone; else the back end of the configured store.")
    name: str = Field(description="The store's name in every answer (file or database name, or ECOZONE_STORE_LABEL).")
    answers: bool = Field(description="Whether the store answered the probe's query.")
    layer_versions: int | None = Field(None, description="Versions of all layers it holds (None when it did not answer).")
    in_force: dict[str, int] = Field(default_factory=dict, description="The version of each layer in force today.")


class Health(BaseModel):
    """``GET /health``: 200 when the store answers, 503 when it does not."""

    status: Literal["ok", "unavailable"]
    version: str = Field(description="The ecozone version serving.")
    store: StoreHealth


@router.get("/health", tags=["operations"], response_model=Health, summary="服务状态 / Health",
            responses={503: {"model": Health, "description": "The layer store does not answer."}})
async def health(state: StateDep) -> JSONResponse:
    """Whether the server can check sites: the store answers a query. For load balancers and container probes."""
    store, settings = state.store, state.settings
    kind = "embedded" if settings.store is None else "postgis" if is_postgres_url(settings.store) else "geopackage"
    answer = StoreHealth(kind=kind, name=store.name, answers=False)
    try:
        with anyio.fail_after(HEALTH_TIMEOUT_S):
            versions, in_force = await anyio.to_thread.run_sync(
                lambda: (store.versions(), store.in_force()), abandon_on_cancel=True, limiter=state.probe)
        answer = answer.model_copy(update={"answers": True, "layer_versions": len(versions),
                                           "in_force": {k: v.version for k, v in sorted(in_force.items())}})
    except Exception:  # any failure of the store is the probe's answer; its text may name hosts, so it is logged
        log.exception("health probe: the store %s did not answer", store.name)
    body = Health(status="ok" if answer.answers else "unavailable", version=ecozone_version(), store=answer)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if answer.answers else 503,
                        headers={"Cache-Control": "no-store"})


def _static(request: Request, name: str) -> str:
    return request.url_for("docs_static", path=name).path


@router.get("/docs", include_in_schema=False, name="swagger_ui_html")  # the name FastAPI gives it
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on this server's OpenAPI document, its script and style served from here."""
    page = get_swagger_ui_html(
        openapi_url=request.url_for("openapi").path, title=f"{request.app.title} – 接口文档",
        swagger_js_url=_static(request, "swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=_static(request, "swagger-ui/swagger-ui.css"),
        swagger_favicon_url=request.url_for("favicon").path, oauth2_redirect_url=None)
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


@router.get("/redoc", include_in_schema=False, name="redoc_html")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on this server's OpenAPI document, without Google's fonts."""
    page = get_redoc_html(
        openapi_url=request.url_for("openapi").path, title=f"{request.app.title} – 接口文档",
        redoc_js_url=_static(request, "redoc/redoc.standalone.js"),
        redoc_favicon_url=request.url_for("favicon").path, with_google_fonts=False)
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


@router.get("/favicon.ico", include_in_schema=False, name="favicon")
async def favicon() -> FileResponse:
    """ecozone's icon, for browsers' tabs and the pages that link it."""
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})
