/* The planner map: data overlays, filters kept in the URL, estate list, figures, search, time view.
 *
 * The Folium map (basemaps, controls) is on the page as window.GeoApp; this script fetches the
 * GeoJSON API and fills the overlays. When an Amap basemap (GCJ-02 tiles) is chosen, every overlay
 * is fetched again in GCJ-02, shifted by the server's one encoder.
 */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("page-config").textContent);
  const ui = JSON.parse(document.getElementById("ui-strings").textContent);
  const {map, control, basemaps} = window.GeoApp;
  const {buildPopup, formatter, el} = window.GeoAppPopup;
  const fmt = formatter(cfg.locale);
  const statusBy = Object.fromEntries(cfg.labels.statuses.map((s) => [s.code, s]));
  const form = document.getElementById("filters");
  // Many polygons draw faster on one canvas; a few stay SVG (crisper, and testable per path).
  const CANVAS_ABOVE = 3000;
  // Above this many estates the map draws only those in view, and where more than this many are in
  // view (a province at zoom 7: 20,000 sub-pixel polygons, all redrawn after every pan) it draws one
  // status ring per street office instead. The demo's 168 estates are always drawn as they are.
  const DRAW_BUDGET = 3000;
  // Office names as permanent labels help with a district's nine; hundreds only cover the map.
  const PERMANENT_LABELS_MAX = 40;

  const state = {coords: cfg.defaultCoords || "wgs84", features: [], timeYear: null, requestId: 0};
  // Level of detail: every feature's lon/lat box (4 numbers per feature), the polygons made so far by
  // id (made lazily, the first time their estate comes into view), and the street-office rings.
  const lod = {boxes: new Float64Array(0), layers: new Map(), drawn: new Set(), summaries: L.layerGroup(),
               mode: "all"};
  window.GeoAppState = state;

  // ---------------------------------------------------------------- layers
  const district = L.geoJSON(null, {style: {color: "#37474f", weight: 3, fill: false, dashArray: "8 6"},
                                    interactive: false});
  let permanentLabels = true;
  const offices = L.geoJSON(null, {
    style: {color: "#5c6bc0", weight: 2, fillOpacity: 0.03},
    onEachFeature: (f, layer) => layer.bindTooltip(el("span", {}, f.properties.name), permanentLabels
      ? {permanent: true, direction: "center", className: "area-label", interactive: false} : {sticky: true}),
    interactive: false,
  });
  const zones = L.geoJSON(null, {
    style: {color: "#8e24aa", weight: 1.5, fill: false, dashArray: "4 4"},
    onEachFeature: (f, layer) => layer.bindTooltip(el("span", {}, f.properties.name), {sticky: true}),
  });
  const facilities = L.markerClusterGroup ? L.markerClusterGroup({disableClusteringAtZoom: 16, showCoverageOnHover: false})
                                          : L.layerGroup();
  let estates = newEstateLayer(0);
  // The one overlay in the layer control: the estates' polygons and, zoomed out, the office rings.
  const estatesOverlay = L.layerGroup([estates, lod.summaries]);

  function newEstateLayer(count) {
    return L.geoJSON(null, {
      renderer: count > CANVAS_ABOVE ? L.canvas({padding: 0.5}) : L.svg(),
      style: estateStyle,
      onEachFeature: bindEstate,
    });
  }

  function currentStatus(props) {
    if (state.timeYear === null) return props.status;
    // Status as of the end of the chosen year, from the estate's own dates.
    const end = String(state.timeYear) === cfg.asOf.slice(0, 4) ? cfg.asOf : `${state.timeYear}-12-31`;
    if (props.acceptance_date && props.acceptance_date <= end) return "accepted";
    if (props.completion_date && props.completion_date <= end) return "completed";
    if (props.start_date && props.start_date <= end) return "under_construction";
    if (props.batch && props.batch <= state.timeYear) return "planned";
    return "unscheduled";
  }

  function estateStyle(feature) {
    const status = currentStatus(feature.properties);
    const color = (statusBy[status] || {color: "#000"}).color;
    // Under construction: the more is done, the more solid the fill.
    const progress = Number(feature.properties.progress_pct) || 0;
    const fillOpacity = status === "under_construction" ? 0.25 + 0.6 * progress / 100 : 0.65;
    return {color, weight: 1, fillColor: color, fillOpacity};
  }

  function bindEstate(feature, layer) {
    // The tooltip is built on first hover: building 20,000 up front costs a few hundred ms.
    layer.bindTooltip(() => {
      const tip = el("div");
      tip.appendChild(el("b", {}, feature.properties.name));
      tip.appendChild(el("br"));
      tip.appendChild(document.createTextNode((statusBy[feature.properties.status] || {}).label || ""));
      return tip;
    }, {sticky: true});
    layer.on("click", () => openPopup(feature.id, layer));
    lod.layers.set(feature.id, layer);
  }

  async function openPopup(id, layer) {
    const response = await fetch(`${cfg.urls.estate}${id}?coords=${state.coords}`);
    if (!response.ok) return;
    const feature = await response.json();
    // Scroll inside the popup rather than let a long record run off a phone screen.
    const maxHeight = Math.max(200, Math.min(480, map.getSize().y - 120));
    const popup = L.popup({maxWidth: 360, minWidth: 260, maxHeight, autoPanPaddingTopLeft: [20, 70],
                            autoPanPaddingBottomRight: [20, 20]})
      .setContent(buildPopup(feature, cfg, ui));
    if (layer) layer.unbindPopup().bindPopup(popup).openPopup();
    else popup.setLatLng(L.geoJSON(feature).getBounds().getCenter()).openOn(map);
  }

  [[district, ui.layer_district], [offices, ui.layer_offices], [zones, ui.layer_zones],
   [facilities, ui.layer_facilities]].forEach(([layer, name]) => { layer.addTo(map); control.addOverlay(layer, name); });
  estatesOverlay.addTo(map);
  control.addOverlay(estatesOverlay, ui.layer_estates);

  // ---------------------------------------------------------------- filters <-> URL
  const FILTERS = ["street_office", "batch", "status", "item", "q"];

  function paramsFromForm() {
    const p = new URLSearchParams();
    const data = new FormData(form);
    FILTERS.forEach((name) => {
      const values = data.getAll(name).map((v) => String(v).trim()).filter(Boolean);
      if (values.length) p.set(name, values.join(","));
    });
    return p;
  }

  function formFromUrl() {
    const p = new URLSearchParams(location.search);
    form.elements.street_office.value = p.get("street_office") || "";
    form.elements.batch.value = p.get("batch") || "";
    form.elements.item.value = p.get("item") || "";
    form.elements.q.value = p.get("q") || "";
    const statuses = new Set((p.get("status") || "").split(",").filter(Boolean));
    form.querySelectorAll("input[name=status]").forEach((box) => { box.checked = statuses.has(box.value); });
  }

  function writeUrl(params) {
    const current = new URLSearchParams(location.search);
    ["lang", "estate"].forEach((name) => { if (current.get(name)) params.set(name, current.get(name)); });
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }

  // ---------------------------------------------------------------- loading
  async function fetchJson(url) {
    const response = await fetch(url, {headers: {Accept: "application/json"}});
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  async function loadContext() {
    const [d, o, z, f] = await Promise.all(["district", "street_offices", "zones", "facilities"]
      .map((name) => fetchJson(`${cfg.urls.layers}${name}?coords=${state.coords}`)));
    district.clearLayers().addData(d);
    permanentLabels = o.features.length <= PERMANENT_LABELS_MAX;
    offices.clearLayers().addData(o);
    zones.clearLayers().addData(z);
    facilities.clearLayers();
    L.geoJSON(f, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {radius: 6, color: "#fff", weight: 1, fillOpacity: 0.9,
        fillColor: feature.properties.kind === "public_toilet" ? "#6d4c41" : "#3949ab"}),
      onEachFeature: (feature, layer) => layer.bindTooltip(el("span", {}, feature.properties.name)),
    }).eachLayer((layer) => facilities.addLayer(layer));
  }

  async function loadEstates({fit} = {}) {
    const params = paramsFromForm();
    writeUrl(new URLSearchParams(params));
    const requestId = ++state.requestId;
    params.set("view", "map");
    params.set("coords", state.coords);
    document.body.classList.add("loading");
    const data = await fetchJson(`${cfg.urls.estates}?${params}`);
    if (requestId !== state.requestId) return; // a newer filter change won
    state.features = data.features;
    estatesOverlay.removeLayer(estates);
    estates = newEstateLayer(data.features.length);
    estatesOverlay.addLayer(estates);
    indexFeatures(data.features);
    if (lod.mode === "all") estates.addData(data);
    else syncView();
    document.body.classList.remove("loading");
    document.getElementById("map-ready").dataset.count = String(data.features.length);
    updateLegend();
    renderList();
    loadFigures();
    updateOfficeLink();
    if (fit) fitToSelection();
  }

  function fitToSelection() {
    const office = form.elements.street_office.value;
    let bounds = null;
    if (office) offices.eachLayer((l) => { if (l.feature.properties.name === office) bounds = l.getBounds(); });
    if (!bounds && state.features.length && paramsFromForm().toString()) bounds = boxBounds(0, state.features.length);
    if (bounds && bounds.isValid()) map.fitBounds(bounds, {padding: [20, 20], maxZoom: 17});
  }

  async function loadFigures() {
    const params = paramsFromForm();
    params.set("group_by", "status");
    if (cfg.locale === "en") params.set("lang", "en");
    const total = (await fetchJson(`${cfg.urls.stats}?${params}`)).total;
    const set = (id, text) => { document.getElementById(id).textContent = text; };
    set("fig-estates", fmt.int(total.estates));
    set("fig-households", fmt.int(total.households));
    set("fig-floor", fmt.num(total.floor_area_m2 / 10000, 2));
    set("fig-investment", fmt.num(total.investment_wan));
    set("fig-progress", total.progress_pct === null ? "—" : `${fmt.num(total.progress_pct)} %`);
  }

  function updateLegend() {
    const counts = {};
    state.features.forEach((f) => { const s = currentStatus(f.properties); counts[s] = (counts[s] || 0) + 1; });
    document.querySelectorAll("#map-legend .count").forEach((node) => {
      node.textContent = String(counts[node.dataset.status] || 0);
    });
  }

  function updateOfficeLink() {
    const link = document.getElementById("office-link");
    const office = cfg.offices.find((o) => o.name === form.elements.street_office.value);
    link.hidden = !office;
    if (office) link.href = cfg.urls.officePage + encodeURIComponent(office.code);
  }

  // ---------------------------------------------------------------- level of detail
  function indexFeatures(features) {
    lod.layers.clear();
    lod.drawn.clear();
    lod.summaries.clearLayers();
    lod.mode = features.length > DRAW_BUDGET ? "lod" : "all";
    const boxes = lod.boxes = new Float64Array(features.length * 4);
    features.forEach((f, i) => {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      const visit = (c) => {
        if (typeof c[0] === "number") {
          if (c[0] < x0) x0 = c[0]; if (c[0] > x1) x1 = c[0];
          if (c[1] < y0) y0 = c[1]; if (c[1] > y1) y1 = c[1];
        } else c.forEach(visit);
      };
      if (f.geometry) visit(f.geometry.coordinates);
      boxes.set([x0, y0, x1, y1], i * 4);
    });
  }

  function boxBounds(from, to) {  // the lon/lat bounds of features [from, to)
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const b = lod.boxes;
    for (let i = from * 4; i < to * 4; i += 4) {
      if (b[i] < x0) x0 = b[i]; if (b[i + 1] < y0) y0 = b[i + 1];
      if (b[i + 2] > x1) x1 = b[i + 2]; if (b[i + 3] > y1) y1 = b[i + 3];
    }
    return L.latLngBounds([y0, x0], [y1, x1]);
  }

  function inView() {  // indexes of the features whose box meets the view plus a margin
    const v = map.getBounds().pad(0.25);
    const w = v.getWest(), s = v.getSouth(), e = v.getEast(), n = v.getNorth();
    const b = lod.boxes, found = [];
    for (let i = 0; i < b.length; i += 4) {
      if (b[i] <= e && b[i + 2] >= w && b[i + 1] <= n && b[i + 3] >= s) found.push(i / 4);
    }
    return found;
  }

  function syncView() {
    if (lod.mode !== "lod") return;
    const visible = inView();
    if (visible.length > DRAW_BUDGET) {
      lod.drawn.forEach((id) => estates.removeLayer(lod.layers.get(id)));
      lod.drawn.clear();
      if (!lod.summaries.getLayers().length) drawSummaries();
      return;
    }
    lod.summaries.clearLayers();
    const keep = new Set();
    visible.forEach((i) => {
      const f = state.features[i];
      keep.add(f.id);
      if (lod.drawn.has(f.id)) return;
      const layer = lod.layers.get(f.id);
      if (layer) estates.addLayer(layer).setStyle(estateStyle(f));  // restyled: the year may have changed
      else estates.addData(f);
    });
    lod.drawn.forEach((id) => { if (!keep.has(id)) estates.removeLayer(lod.layers.get(id)); });
    lod.drawn = keep;
  }

  function drawSummaries() {
    const groups = new Map();
    state.features.forEach((f, i) => {
      const name = f.properties.street_office;
      if (!groups.has(name)) groups.set(name, {name, indexes: [], counts: {}});
      const g = groups.get(name);
      g.indexes.push(i);
      const status = currentStatus(f.properties);
      g.counts[status] = (g.counts[status] || 0) + 1;
    });
    groups.forEach((g) => {
      let x = 0, y = 0;
      g.indexes.forEach((i) => { x += lod.boxes[i * 4] + lod.boxes[i * 4 + 2]; y += lod.boxes[i * 4 + 1] + lod.boxes[i * 4 + 3]; });
      const n = g.indexes.length;
      const marker = L.marker([y / (2 * n), x / (2 * n)], {icon: summaryIcon(g.counts, n), keyboard: true, title: g.name});
      marker.bindTooltip(() => summaryTooltip(g), {direction: "top"});
      marker.on("click", () => {
        let bounds = null;
        g.indexes.forEach((i) => {
          const b = L.latLngBounds([lod.boxes[i * 4 + 1], lod.boxes[i * 4]], [lod.boxes[i * 4 + 3], lod.boxes[i * 4 + 2]]);
          bounds = bounds ? bounds.extend(b) : b;
        });
        map.fitBounds(bounds, {padding: [20, 20], maxZoom: 17});
      });
      lod.summaries.addLayer(marker);
    });
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
    return node;
  }

  function summaryIcon(counts, total) {
    // A ring cut by status, the office's estate count inside: the map's colours, one symbol per office.
    const size = Math.round(Math.min(52, 26 + 8 * Math.log10(Math.max(1, total))));
    const mid = size / 2, r = mid - 4, around = 2 * Math.PI * r;
    const ring = svg("svg", {width: size, height: size, viewBox: `0 0 ${size} ${size}`});
    ring.appendChild(svg("circle", {cx: mid, cy: mid, r: mid - 1, fill: "#fff", "fill-opacity": 0.9}));
    let done = 0;
    cfg.labels.statuses.forEach((s) => {
      const n = counts[s.code] || 0;
      if (!n) return;
      const arc = around * n / total;
      ring.appendChild(svg("circle", {cx: mid, cy: mid, r, fill: "none", stroke: s.color, "stroke-width": 6,
        "stroke-dasharray": `${arc} ${around - arc}`, "stroke-dashoffset": -done,
        transform: `rotate(-90 ${mid} ${mid})`}));
      done += arc;
    });
    const box = el("div", {class: "summary-ring"});
    box.appendChild(ring);
    box.appendChild(el("span", {class: "summary-count"}, fmt.int(total)));
    return L.divIcon({html: box, className: "office-summary", iconSize: [size, size]});
  }

  function summaryTooltip(g) {
    const tip = el("div");
    tip.appendChild(el("b", {}, g.name));
    tip.appendChild(document.createTextNode(` · ${fmt.int(g.indexes.length)}`));
    cfg.labels.statuses.forEach((s) => {
      if (!g.counts[s.code]) return;
      tip.appendChild(el("br"));
      tip.appendChild(document.createTextNode(`${s.label}: ${fmt.int(g.counts[s.code])}`));
    });
    tip.appendChild(el("br"));
    tip.appendChild(el("i", {}, ui.zoom_in_for_estates));
    return tip;
  }

  map.on("moveend", syncView);

  // ---------------------------------------------------------------- list
  const LIST_LIMIT = 300;
  const collator = new Intl.Collator("zh-CN"); // one collator: localeCompare builds one per call

  function renderList() {
    const list = document.getElementById("estate-list");
    list.replaceChildren();
    const sorted = [...state.features].sort((a, b) => collator.compare(a.properties.name, b.properties.name));
    sorted.slice(0, LIST_LIMIT).forEach((f) => {
      const item = el("li");
      const button = el("button", {type: "button", class: "estate-item", "data-id": String(f.id)});
      const status = statusBy[f.properties.status] || {label: f.properties.status, color: "#000"};
      const dot = el("span", {class: "dot"});
      dot.style.background = status.color;
      button.appendChild(dot);
      button.appendChild(el("span", {class: "name"}, f.properties.name));
      button.appendChild(el("span", {class: "meta"}, `${f.properties.street_office} · ${status.label}`));
      button.addEventListener("click", () => focusEstate(f.id));
      item.appendChild(button);
      list.appendChild(item);
    });
    const more = state.features.length - LIST_LIMIT;
    document.getElementById("list-count").textContent = more > 0
      ? `${fmt.int(state.features.length)} (${ui.list_first} ${LIST_LIMIT})` : fmt.int(state.features.length);
  }

  function drawnLayer(id) {  // the estate's polygon when it is on the map
    const layer = lod.layers.get(id);
    return layer && estates.hasLayer(layer) ? layer : null;
  }

  async function focusEstate(id) {
    const index = state.features.findIndex((f) => f.id === id);
    if (index >= 0) {
      map.flyToBounds(boxBounds(index, index + 1), {maxZoom: 17, duration: 0.6});
      map.once("moveend", () => { syncView(); openPopup(id, drawnLayer(id)); });
      return;
    }
    // Not among the filtered estates: fetch it in the current coordinates and show it anyway.
    const feature = await fetchJson(`${cfg.urls.estate}${id}?coords=${state.coords}`);
    map.flyToBounds(L.geoJSON(feature).getBounds(), {maxZoom: 17, duration: 0.6});
    map.once("moveend", () => openPopup(id, null));
  }

  window.GeoAppPlanner = {focusEstate, loadEstates, state};
  document.dispatchEvent(new CustomEvent("geoapp:planner", {detail: {map, cfg, ui, state, el, focusEstate,
    restyle: () => {
      estates.setStyle(estateStyle);
      if (lod.summaries.getLayers().length) { lod.summaries.clearLayers(); drawSummaries(); }
      updateLegend();
    }}}));

  // ---------------------------------------------------------------- events
  form.addEventListener("change", (event) => {
    if (!event.target.name) return; // the search box picks an estate, it does not filter
    loadEstates({fit: event.target.name === "street_office"});
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); loadEstates({fit: true}); });
  document.getElementById("reset").addEventListener("click", () => {
    form.reset();
    form.elements.q.value = "";
    loadEstates();
  });
  document.getElementById("sidebar-toggle").addEventListener("click", () => {
    document.body.classList.toggle("sidebar-open");
    setTimeout(() => map.invalidateSize(), 250);
  });
  map.on("baselayerchange", (event) => {
    const coords = basemaps[event.name] || "wgs84";
    if (coords === state.coords) return;
    state.coords = coords;
    Promise.all([loadContext(), loadEstates()]);
  });

  formFromUrl();
  const focus = Number(new URLSearchParams(location.search).get("estate"));
  Promise.all([loadContext(), loadEstates({fit: !focus})]).then(() => {
    document.getElementById("map-ready").dataset.ready = "1";
    if (focus) focusEstate(focus); // a link to one estate on the map (?estate=<id>)
  });
})();
