// The boundary editor: Leaflet + Geoman on the estate's current shape, saved through
// PATCH /api/estates/<id> with the version the page was loaded at, the reason, and X-CSRFToken.
// Untrusted text (names, server messages) only ever goes in through textContent.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("boundary-config").textContent);
  const texts = config.texts;
  const message = document.getElementById("boundary-message");
  const confirmButton = document.getElementById("confirm-boundary");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  let version = config.estate.version;

  const map = L.map("boundary-map");
  if (config.basemap) {
    L.tileLayer(config.basemap.url, {subdomains: config.basemap.subdomains, maxZoom: config.basemap.maxZoom,
                                     attribution: config.basemap.attribution}).addTo(map);
  }
  L.geoJSON(config.district, {style: {color: "#37474f", weight: 2, fill: false, dashArray: "6 4"},
                              pmIgnore: true, interactive: false}).addTo(map);
  L.geoJSON(config.neighbours, {
    pmIgnore: true,
    style: {color: "#757575", weight: 1, fillOpacity: 0.15},
    onEachFeature: (feature, layer) => layer.bindTooltip(() => {
      const span = document.createElement("span");
      span.textContent = `${feature.properties.name} ${feature.properties.code}`;
      return span;
    }),
  }).addTo(map);

  const editable = L.featureGroup().addTo(map);
  L.geoJSON(config.estate, {style: {color: "#e65100", weight: 3}}).eachLayer((layer) => editable.addLayer(layer));
  map.fitBounds(editable.getBounds().pad(0.6));
  map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
                      drawRectangle: true, drawCircle: false, drawText: false, cutPolygon: false,
                      rotateMode: false, dragMode: true});
  map.pm.setGlobalOptions({allowSelfIntersection: false});
  map.on("pm:create", (event) => editable.addLayer(event.layer));
  map.on("pm:remove", (event) => editable.removeLayer(event.layer));
  editable.eachLayer((layer) => layer.pm.enable({allowSelfIntersection: false}));

  function shape() {
    const polygons = [];
    editable.eachLayer((layer) => {
      const geometry = layer.toGeoJSON().geometry;
      if (geometry.type === "Polygon") polygons.push(geometry.coordinates);
      else if (geometry.type === "MultiPolygon") polygons.push(...geometry.coordinates);
    });
    if (!polygons.length) return null;
    return polygons.length === 1 ? {type: "Polygon", coordinates: polygons[0]}
                                 : {type: "MultiPolygon", coordinates: polygons};
  }

  function say(text, ok) {
    message.textContent = text;
    message.className = ok ? "hint" : "form-error";
  }

  async function save(confirmOverlap) {
    const geometry = shape();
    const reason = document.getElementById("boundary-reason").value.trim();
    if (!geometry) return say(texts.no_shape);
    if (!reason) return say(texts.need_reason);
    confirmButton.hidden = true;
    const response = await fetch(config.saveUrl, {
      method: "PATCH",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.content : ""},
      body: JSON.stringify({version, reason, geometry, confirm_overlap: confirmOverlap}),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      version = body.version;
      say(texts.saved, true);
      window.setTimeout(() => { window.location.href = config.estateUrl + "#history"; }, 600);
      return;
    }
    say(`${texts.failed} ${body.description || response.status}`);
    if (body.code === "overlap_unconfirmed") confirmButton.hidden = false;
  }

  document.getElementById("save-boundary").addEventListener("click", () => save(false));
  confirmButton.addEventListener("click", () => save(true));
})();
