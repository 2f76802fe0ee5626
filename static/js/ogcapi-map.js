// The small map of /ogcapi item pages: the page's own GeoJSON (CRS84), fitted to its features.
(function () {
  var el = document.getElementById('ogcapi-map');
  var data = document.getElementById('ogcapi-geojson');
  if (!el || !data || typeof L === 'undefined') return;
  var map = L.map(el);
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, {attribution: el.dataset.attribution, maxZoom: 19}).addTo(map);
  }
  // Circle markers for points: no marker images to fetch.
  var layer = L.geoJSON(JSON.parse(data.textContent), {
    style: {color: '#1565c0', weight: 2, fillOpacity: 0.2},
    pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, {radius: 5}); }
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, {padding: [10, 10], maxZoom: 17});
  else map.setView([34.8, 117.3], 11);
  window.ogcapiMap = map;
})();
