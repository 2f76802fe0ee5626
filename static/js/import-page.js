// The admin import page: draws the preview's features on a small map, and on the status page
// polls the import's progress until it ends, then reloads to show the report.
// Feature values are never inserted as HTML: the map shows outlines only.
(function () {
  "use strict";

  function drawPreview() {
    var data = document.getElementById("import-preview-data");
    var box = document.getElementById("import-map");
    if (!data || !box || typeof L === "undefined") return;
    var rows = JSON.parse(data.textContent);
    var features = rows.filter(function (r) { return r.geometry; }).map(function (r) {
      return {type: "Feature", properties: {row: r.row}, geometry: r.geometry};
    });
    var map = L.map(box, {attributionControl: false});
    var layer = L.geoJSON({type: "FeatureCollection", features: features}, {
      style: {color: "#1e88e5", weight: 2, fillOpacity: 0.25},
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 5}); },
      onEachFeature: function (f, l) { l.bindTooltip("#" + String(f.properties.row)); }
    }).addTo(map);
    if (features.length) map.fitBounds(layer.getBounds(), {maxZoom: 17});
    else map.setView([34.8, 117.3], 11);
    box.dataset.drawn = String(features.length);
  }

  function pollProgress() {
    var section = document.getElementById("import-progress");
    if (!section) return;
    var bar = document.getElementById("import-progress-bar");
    var text = document.getElementById("import-progress-text");
    function tick() {
      fetch(section.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
        if (p.total) { bar.max = p.total; bar.value = p.done; }
        // The server says it in the page's language ("Checking: 1,234 of 5,000").
        text.textContent = (p.text || p.phase) + (p.elapsed ? " · " + p.elapsed + " s" : "");
        if (p.finished) window.location.reload();
        else window.setTimeout(tick, 500);
      }).catch(function () { window.setTimeout(tick, 2000); });
    }
    tick();
  }

  drawPreview();
  pollProgress();
}());
