"""``ecozone serve``: the HTTP API under uvicorn, on the embedded dataset unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (one per core is a good start).")] = 1,
    store: Annotated[str | None, typer.Option("--store", help="GeoPackage path or postgresql:// URL "
                                                              "(default: the embedded dataset).")] = None,
    jobs_dir: Annotated[Path | None, typer.Option("--jobs-dir", help="Folder of batch jobs.")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API: checks, batch jobs, the layers as OGC API - Features, and /docs.

    Every other setting comes from ECOZONE_* environment variables (see api/settings.py), e.g.
    ECOZONE_WRITE_KEYS=... to allow layer imports.
    """
    import uvicorn

    from api.settings import Settings
    from pydantic import ValidationError

    # Worker processes build their app from the environment, so options travel as ECOZONE_* variables.
    if store is not None:
        os.environ["ECOZONE_STORE"] = store
    if jobs_dir is not None:
        os.environ["ECOZONE_JOBS_DIR"] = str(jobs_dir)
    try:
        Settings()
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level)
