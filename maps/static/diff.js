/* ecozone change-report page: the parts a layer gained and lost between two versions, in two colours, over the
 * administrative units drawn by ecozone.js, with the totals panel built by the server (maps/diff_map.py).
 */
(function () {
  "use strict";

  var diff = { drawn: null };
  window.ecozoneDiff = diff;

  /** Draw ``data.features`` ({change, geometry, popup}) and put ``data.panel`` (HTML) in a panel. */
  diff.show = function (data) {
    var ez = window.ecozone;
    var map = ez.map;
    var groups = {};
    var counts = {};
    Object.keys(data.colors).forEach(function (change) {
      groups[change] = L.featureGroup();
      counts[change] = 0;
    });
    data.features.forEach(function (feature) {
      var color = data.colors[feature.change];
      L.geoJSON(feature.geometry, {
        pane: "ez-result",
        style: { color: color, weight: 2, fillColor: color, fillOpacity: 0.55 }
      }).bindPopup(feature.popup, { maxWidth: 380 }).addTo(groups[feature.change]);
      counts[feature.change] += 1;
    });
    var overlays = {};
    var all = L.featureGroup();
    Object.keys(groups).forEach(function (change) {
      groups[change].addTo(map);
      all.addLayer(groups[change]);
      overlays['<span class="ez-swatch" style="background:' + data.colors[change] + '"></span>' +
        ez.esc(data.labels[change])] = groups[change];
    });
    L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
    var panel = L.control({ position: "topleft" });
    panel.onAdd = function () {
      var div = L.DomUtil.create("div", "ez-verdict ez-diff");
      div.id = "ez-diff";
      div.innerHTML = data.panel;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    panel.addTo(map);
    if (all.getLayers().length && all.getBounds().isValid()) {
      map.fitBounds(all.getBounds(), { maxZoom: 12, paddingTopLeft: [380, 20], paddingBottomRight: [40, 40] });
    }
    diff.drawn = counts;
  };
}());
