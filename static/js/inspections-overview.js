/* The map of /inspections: each estate's latest inspection as a dot coloured by verdict, and the
 * estates overdue for a visit as grey dots. Names go in as text nodes, never as HTML. */
(function () {
  "use strict";
  const node = document.getElementById("overview-map");
  const data = JSON.parse(document.getElementById("overview-data").textContent);
  if (!node || typeof L === "undefined") return;
  const map = L.map(node);
  if (data.tile) L.tileLayer(data.tile.url, {subdomains: data.tile.subdomains, attribution: data.attribution, maxZoom: 19}).addTo(map);
  const label = (text) => { const span = document.createElement("span"); span.textContent = text; return span; };
  const group = L.featureGroup().addTo(map);
  data.overdue.forEach((p) => L.circleMarker([p.lat, p.lon], {radius: 5, color: "#607d8b", fillOpacity: 0.5, weight: 1})
    .bindTooltip(label(`${p.name} · ${p.text}`)).addTo(group));
  data.latest.forEach((p) => L.circleMarker([p.lat, p.lon], {radius: 7, color: "#fff", weight: 1.5, fillColor: p.color, fillOpacity: 0.95})
    .bindTooltip(label(`${p.name} · ${p.text}`)).addTo(group));
  const bounds = group.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, {padding: [20, 20], maxZoom: 16});
  else map.setView(data.center, 11);
  window.inspectionsOverviewMap = map;
})();
