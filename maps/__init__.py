"""ecozone maps: folium maps of layers and check results, with JavaScript and CSS served locally."""
