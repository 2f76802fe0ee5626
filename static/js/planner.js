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

  const state = {coords: cfg.defaultCoords || "wgs84", features: [], timeYear: null, requestId: 0};
  window.GeoAppState = state;

  // ---------------------------------------------------------------- layers
  const district = L.geoJSON(null, {style: {color: "#37474f", weight: 3, fill: false, dashArray: "8 6"},
                                    interactive: false});
  const offices = L.geoJSON(null, {
    style: {color: "#5c6bc0", weight: 2, fillOpacity: 0.03},
    onEachFeature: (f, layer) => layer.bindTooltip(el("span", {}, f.properties.name),
      {permanent: true, direction: "center", className: "area-label", interactive: false}),
    interactive: false,
  });
  const zones = L.geoJSON(null, {
    style: {color: "#8e24aa", weight: 1.5, fill: false, dashArray: "4 4"},
    onEachFeature: (f, layer) => layer.bindTooltip(el("span", {}, f.properties.name), {sticky: true}),
  });
  const facilities = L.markerClusterGroup ? L.markerClusterGroup({disableClusteringAtZoom: 16, showCoverageOnHover: false})
                                          : L.layerGroup();
  let estates = newEstateLayer(0);

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
  estates.addTo(map);
  control.addOverlay(estates, ui.layer_estates);

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
    map.removeLayer(estates);
    control.removeLayer(estates);
    estates = newEstateLayer(data.features.length);
    estates.addData(data);
    estates.addTo(map);
    control.addOverlay(estates, ui.layer_estates);
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
    if (!bounds && state.features.length && paramsFromForm().toString()) bounds = estates.getBounds();
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

  function layerOf(id) {
    let found = null;
    estates.eachLayer((l) => { if (l.feature.id === id) found = l; });
    return found;
  }

  async function focusEstate(id) {
    const layer = layerOf(id);
    if (layer) {
      map.flyToBounds(layer.getBounds(), {maxZoom: 17, duration: 0.6});
      map.once("moveend", () => openPopup(id, layer));
      return;
    }
    // Not among the filtered estates: fetch it in the current coordinates and show it anyway.
    const feature = await fetchJson(`${cfg.urls.estate}${id}?coords=${state.coords}`);
    map.flyToBounds(L.geoJSON(feature).getBounds(), {maxZoom: 17, duration: 0.6});
    map.once("moveend", () => openPopup(id, null));
  }

  window.GeoAppPlanner = {focusEstate, loadEstates, state};
  document.dispatchEvent(new CustomEvent("geoapp:planner", {detail: {map, cfg, ui, state, el, focusEstate,
    restyle: () => { estates.setStyle(estateStyle); updateLegend(); }}}));

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
