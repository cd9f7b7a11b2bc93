"""``ecozone map -o FILE.html``: the layers map as one self-contained HTML file (no network needed to open it).

The file carries the vector tiles of an extent (default: every zone) from zoom 2 to ``--max-zoom``, zoom by zoom
while the file stays within ``--max-mb``, and the popups of the zones in them while it does; a closer view is drawn
from the deepest tiles, magnified. The map opens on ``--bbox``. What did not fit is said on the command line and in
the map's legend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli_options import BasemapOption, StoreOption, TiandituKeyOption, open_cli_store
from gis.errors import EcozoneError

__all__ = ["map_command"]


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        box = tuple(float(part) for part in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
        raise typer.BadParameter(f"--bbox needs west,south,east,north in degrees, west < east and south < north; "
                                 f"got {text!r} (e.g. --bbox 85.5,44.0,86.5,44.6)")
    return box


def map_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.", dir_okay=False)],
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD: the layers in force then.")] = None,
    basemap: BasemapOption = None,
    tianditu_key: TiandituKeyOption = None,
    max_zoom: Annotated[int, typer.Option("--max-zoom", min=2, max=16, help="Deepest zoom of the tiles put in the "
                                          "file (8: about 450 m a pixel in Xinjiang; each zoom more is about 4 times "
                                          "the tiles).")] = 8,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Only this extent, west,south,east,north in degrees "
                                             "(default: every zone), e.g. 85.5,44.0,86.5,44.6; the map opens on "
                                             "it.")] = None,
    max_mb: Annotated[float, typer.Option("--max-mb", min=1, help="Size bound of the whole file, MB (Leaflet and "
                                          "the page code included): tiles and popups go in while it holds.")] = 20,
) -> None:
    """Write the map of every layer (一张图) as one HTML file with Leaflet and the tiles inlined."""
    from api.cli import fail
    from maps.build import Basemap, layers_map, render

    if basemap and tianditu_key:
        raise typer.BadParameter("--basemap 与 --tianditu-key 只能给出其一 / give --basemap or --tianditu-key, not both")
    try:
        tiles = (Basemap.tianditu(tianditu_key) if tianditu_key else Basemap.tiles(basemap) if basemap else None)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    extent = _bbox(bbox)
    try:
        with open_cli_store(store) as opened:
            m = layers_map(opened, as_of, basemap=tiles, max_zoom=max_zoom, bounds=extent,
                           max_bytes=int(max_mb * 1e6))
            html = render(m)
    except EcozoneError as error:
        fail(error)
    output.write_text(html, encoding="utf-8")
    embedded = m.ecozone_tiles
    first, last = embedded.zooms or (None, None)
    zooms = (f"含第 {first}–{last} 级图块（{len(embedded.tiles)} 个）", f"tiles of zooms {first}–{last} "
             f"({len(embedded.tiles)})") if embedded.zooms else ("无图块", "no tiles")
    online = ("（底图需联网）", " (the basemap needs the internet)") if tiles is not None else ("", "")
    typer.echo(f"{output}：{len(html.encode()) / 1e6:.1f} MB，{zooms[0]}，离线可用{online[0]} / {len(html.encode()) / 1e6:.1f} "
               f"MB, {zooms[1]}, works offline{online[1]}")
    for text in embedded.left_out:
        typer.echo(f"未包含：{text}")
