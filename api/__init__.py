"""ecozone interfaces: the command line and (later) the HTTP API. Thin: parse, call ``gis``, format."""
