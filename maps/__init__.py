"""ecozone maps: folium maps of layers and check results, with JavaScript and CSS served locally.

``maps.build`` has the maps (``layers_map``, ``check_map``, ``batch_map``, ``check_page``); ``render`` turns
one into a page that loads nothing from another host.
"""
