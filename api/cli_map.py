"""``ecozone map -o FILE.html``: the layers map as one self-contained HTML file (no network needed to open it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gis.errors import EcozoneError
from gis.store import open_store

__all__ = ["map_command"]


def map_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.", dir_okay=False)],
    store: Annotated[str | None, typer.Option("--store", help="GeoPackage path or postgresql:// URL "
                                                              "(default: the embedded dataset).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD: the layers in force then.")] = None,
    basemap: Annotated[str | None, typer.Option("--basemap", help="Tile URL with {z}/{x}/{y}, e.g. an intranet "
                                                                  "tile server (default: no basemap).")] = None,
    tianditu_key: Annotated[str | None, typer.Option("--tianditu-key", help="天地图 key: draw 天地图's vector map "
                                                                            "(needs internet when viewed).")] = None,
    detail: Annotated[int, typer.Option("--detail", min=0, max=3, help="Display levels of the large layers to "
                                                                       "include: 0 lightest, 3 finest.")] = 2,
) -> None:
    """Write the map of every layer (一张图) as one HTML file with Leaflet and the data inlined."""
    from api.cli import fail
    from maps.build import Basemap, layers_map, render

    if basemap and tianditu_key:
        raise typer.BadParameter("give --basemap or --tianditu-key, not both")
    try:
        tiles = (Basemap.tianditu(tianditu_key) if tianditu_key else Basemap.tiles(basemap) if basemap else None)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    try:
        with open_store(store) as opened:
            html = render(layers_map(opened, as_of, basemap=tiles, inline_levels=detail))
    except EcozoneError as error:
        fail(error)
    output.write_text(html, encoding="utf-8")
    typer.echo(f"{output}：{len(html.encode()) / 1e6:.1f} MB，离线可用" + ("" if tiles is None else "（底图需联网）"))
