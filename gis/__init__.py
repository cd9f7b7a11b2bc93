"""ecozone core: zone layers and their store, CRS handling, site reading, overlap and rules.

No HTTP and no folium here: ``api`` and ``maps`` build on this package.
"""

__version__ = "0.1.0"
