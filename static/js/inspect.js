/* The inspector's phone page: where am I, which estates are near, and the inspection form.
 *
 * Position comes from the phone (watchPosition, with its accuracy drawn as a circle) or by hand
 * (tap the map, or type coordinates). Estates within the chosen radius come from
 * /api/estates/nearby, nearest first, with geodesic distance and direction. Everything from the
 * data goes into the page as text nodes, never as HTML. Sending is the outbox's job
 * (inspect-outbox.js): a form that cannot be sent now stays on the phone.
 */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("inspect-config").textContent);
  const ui = JSON.parse(document.getElementById("inspect-ui").textContent);
  const outbox = window.GeoAppOutbox;
  outbox.user = cfg.user;  // the outbox sends only this inspector's forms
  const $ = (id) => document.getElementById(id);
  const lang = cfg.locale === "en" ? "en" : "zh-CN";
  const itemLabel = Object.fromEntries(cfg.labels.items.map((i) => [i.code, i.label]));

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const state = {position: null, estate: null, nearbyRequest: 0, watch: null};
  window.GeoAppInspect = state;  // for tests and the console

  // ------------------------------------------------------------------ map
  const map = L.map("inspect-map", {zoomControl: true}).setView(cfg.center, 13);
  cfg.tiles.forEach((t) => L.tileLayer(t.url, {subdomains: t.subdomains, attribution: cfg.attribution, maxZoom: 19}).addTo(map));
  const accuracyCircle = L.circle(cfg.center, {radius: 0, color: "#1e88e5", weight: 1, fillOpacity: 0.12, interactive: false});
  const positionDot = L.circleMarker(cfg.center, {radius: 7, color: "#fff", weight: 2, fillColor: "#1e88e5", fillOpacity: 1});
  const estatesLayer = L.geoJSON(null, {style: () => ({color: "#fb8c00", weight: 2, fillOpacity: 0.15}),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(el("span", {}, f.properties.name));
      layer.on("click", () => openForm(f.id));
    }}).addTo(map);
  map.on("click", (event) => setPosition(event.latlng.lng, event.latlng.lat, null, "manual"));

  function formatDistance(metres) {
    if (metres < 1000) return `${Math.round(metres)} m`;
    return `${(metres / 1000).toLocaleString(lang, {maximumFractionDigits: 1})} km`;
  }

  function direction(bearing) {
    return cfg.compass[Math.round((((bearing % 360) + 360) % 360) / 45) % 8];
  }

  // ------------------------------------------------------------------ position
  function setPosition(lon, lat, accuracy, source) {
    state.position = {lon, lat, accuracy: accuracy === null ? null : Math.round(accuracy * 10) / 10, source};
    const latlng = [lat, lon];
    positionDot.setLatLng(latlng).addTo(map);
    accuracyCircle.setLatLng(latlng).setRadius(accuracy || 0);
    if (accuracy) accuracyCircle.addTo(map); else accuracyCircle.remove();
    const where = `${lon.toFixed(6)}, ${lat.toFixed(6)}`;
    $("position-status").textContent = source === "gps"
      ? `${ui.located}: ${where} (${ui.accuracy} ± ${Math.round(accuracy)} m)` : `${ui.manual}: ${where}`;
    $("position-status").dataset.source = source;
    if (source !== "gps" && state.watch !== null) { navigator.geolocation.clearWatch(state.watch); state.watch = null; }
    loadNearby(true);
  }

  function locate() {
    if (!navigator.geolocation) { $("position-status").textContent = ui.no_position; return; }
    $("position-status").textContent = ui.locating;
    if (state.watch !== null) navigator.geolocation.clearWatch(state.watch);
    let first = true;
    state.watch = navigator.geolocation.watchPosition((p) => {
      const moved = !state.position || Math.abs(p.coords.longitude - state.position.lon) > 1e-5
        || Math.abs(p.coords.latitude - state.position.lat) > 1e-5;
      if (!moved && !first) return;
      setPosition(p.coords.longitude, p.coords.latitude, p.coords.accuracy, "gps");
      if (first) map.setView([p.coords.latitude, p.coords.longitude], 16, {animate: false});
      first = false;
    }, () => {
      $("position-status").textContent = ui.no_position;
      document.querySelector("details.manual").open = true;
    }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 10000});
  }

  // ------------------------------------------------------------------ nearby estates
  async function loadNearby(keepView) {
    if (!state.position) return;
    const id = ++state.nearbyRequest;
    const params = new URLSearchParams({lon: state.position.lon, lat: state.position.lat,
                                        radius_m: $("radius").value, limit: 50});
    const response = await fetch(`${cfg.urls.nearby}?${params}`, {headers: {Accept: "application/json"}});
    if (!response.ok || id !== state.nearbyRequest) return;
    const data = await response.json();
    estatesLayer.clearLayers().addData(data);
    renderNearby(data.features);
    if (!keepView && data.features.length) map.fitBounds(estatesLayer.getBounds().extend(positionDot.getLatLng()), {maxZoom: 17});
  }

  function renderNearby(features) {
    const list = $("nearby-list");
    list.replaceChildren();
    $("nearby-count").textContent = `(${features.length})`;
    if (!features.length) list.appendChild(el("li", {class: "empty"}, ui.nothing_near));
    features.forEach((f) => {
      const p = f.properties;
      const status = cfg.labels.statuses.find((s) => s.code === p.status) || {label: p.status, color: "#000"};
      const button = el("button", {type: "button", class: "nearby-estate", "data-id": String(f.id)});
      button.appendChild(el("span", {class: "name"}, p.name));
      const where = p.distance_m === 0 || p.bearing_deg === null ? ui.inside : `${direction(p.bearing_deg)} ${formatDistance(p.distance_m)}`;
      button.appendChild(el("span", {class: "distance"}, where));
      const meta = el("span", {class: "meta"});
      const dot = el("span", {class: "dot"});
      dot.style.background = status.color;
      meta.appendChild(dot);
      meta.appendChild(document.createTextNode(`${status.label} · ${p.code}`));
      button.appendChild(meta);
      button.addEventListener("click", () => openForm(f.id));
      const item = el("li");
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  // ------------------------------------------------------------------ the form
  async function openForm(id) {
    const response = await fetch(`${cfg.urls.estate}${id}`, {headers: {Accept: "application/json"}});
    if (!response.ok) return;
    const estate = await response.json();
    state.estate = estate;
    const p = estate.properties;
    $("form-estate-name").textContent = p.name;
    $("form-estate-meta").textContent = `${p.code} · ${p.street_office}`;
    const planned = (p.items_planned || "").split(",").filter(Boolean);
    const done = new Set((p.items_done || "").split(",").filter(Boolean));
    const box = $("checklist-items");
    box.replaceChildren();
    if (!planned.length) box.appendChild(el("p", {class: "empty"}, ui.no_items));
    planned.forEach((code) => {
      const row = el("div", {class: "check-row", "data-item": code});
      row.appendChild(el("span", {class: "item-name"}, itemLabel[code] || code));
      const choices = el("span", {class: "choices"});
      cfg.labels.checklist.forEach((s) => {
        const label = el("label", {class: `choice state-${s.code}`});
        const input = el("input", {type: "radio", name: `item-${code}`, value: s.code});
        if ((done.has(code) ? "done" : "in_progress") === s.code) input.checked = true;
        label.appendChild(input);
        label.appendChild(document.createTextNode(s.label));
        choices.appendChild(label);
      });
      row.appendChild(choices);
      box.appendChild(row);
    });
    const verdicts = $("verdict-options");
    verdicts.replaceChildren();
    cfg.labels.verdicts.forEach((v) => {
      const label = el("label", {class: `choice verdict-${v.code}`});
      label.appendChild(el("input", {type: "radio", name: "verdict", value: v.code}));
      label.appendChild(document.createTextNode(v.label));
      verdicts.appendChild(label);
    });
    $("progress").value = p.progress_pct === null || p.progress_pct === undefined ? "" : Math.round(p.progress_pct);
    $("notes").value = "";
    $("photos").value = "";
    $("form-error").hidden = true;
    $("inspection-form").hidden = false;
    document.querySelector(".nearby").hidden = true;
    $("inspection-form").scrollIntoView({block: "start"});
  }

  function closeForm() {
    $("inspection-form").hidden = true;
    document.querySelector(".nearby").hidden = false;
    state.estate = null;
  }

  function showError(text) {
    $("form-error").textContent = text;
    $("form-error").hidden = false;
  }

  function collect() {
    const form = $("inspection-form");
    const verdict = form.querySelector("input[name=verdict]:checked");
    if (!verdict) { showError(ui.choose_verdict); return null; }
    const checklist = {};
    form.querySelectorAll(".check-row").forEach((row) => {
      const chosen = row.querySelector("input:checked");
      if (chosen) checklist[row.dataset.item] = chosen.value;
    });
    const files = [...$("photos").files];
    const position = state.position || {lon: cfg.center[1], lat: cfg.center[0], accuracy: null};
    return {
      estateName: state.estate.properties.name,
      inspection: {lon: position.lon, lat: position.lat, accuracy_m: position.accuracy, checklist,
                   progress_estimate_pct: $("progress").value === "" ? null : Number($("progress").value),
                   notes: $("notes").value, verdict: verdict.value, device_time: new Date().toISOString()},
      photos: files.map((f) => ({name: f.name, type: f.type, blob: f})),
    };
  }

  $("inspection-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = collect();
    if (!data) return;
    const button = $("submit-inspection");
    button.disabled = true;
    $("position-status").textContent = ui.sending;
    const entry = {client_id: outbox.newClientId(), url: `${cfg.urls.estate}${state.estate.id}/inspections`,
                   estate_id: state.estate.id, estate_name: data.estateName, inspection: data.inspection,
                   photos: data.photos, user: cfg.user};
    try {
      const result = await outbox.submit(entry);
      if (result.outcome === "refused") { showError(`${ui.refused}: ${result.message}`); return; }
      if (result.outcome === "sent") addSent(entry, new Date());
      else if (result.outcome === "auth") showNote(ui.sign_in_again);
      else showNote(ui.saved_offline);
      closeForm();
    } finally {
      button.disabled = false;
      renderOutbox();
    }
  });
  $("cancel-inspection").addEventListener("click", closeForm);

  // ------------------------------------------------------------------ outbox view
  const sentLog = [];

  function showNote(text) { $("position-status").textContent = text; }

  function addSent(entry, when) {
    sentLog.unshift({name: entry.estate_name, when});
    showNote(`${ui.sent}: ${entry.estate_name}`);
  }

  async function renderOutbox() {
    const entries = (await outbox.all()).filter((e) => e.user === cfg.user);  // this inspector's own
    const pending = entries.filter((e) => e.status === "pending");
    const badge = $("outbox-badge");
    badge.hidden = !pending.length;
    badge.textContent = `${ui.pending} (${pending.length})`;
    badge.dataset.count = String(pending.length);
    const list = $("outbox-list");
    list.replaceChildren();
    entries.forEach((e) => {
      const item = el("li", {class: `outbox-item ${e.status}`, "data-client-id": e.client_id});
      item.appendChild(el("span", {class: "name"}, e.estate_name));
      item.appendChild(el("span", {class: "state"}, e.status === "pending" ? ui.pending : `${ui.refused}: ${e.error || ""}`));
      if (e.status === "refused") {
        const discard = el("button", {type: "button"}, ui.discard);
        discard.addEventListener("click", async () => { await outbox.remove(e.client_id); renderOutbox(); });
        item.appendChild(discard);
      }
      list.appendChild(item);
    });
    sentLog.slice(0, 10).forEach((s) => {
      const item = el("li", {class: "outbox-item sent"});
      item.appendChild(el("span", {class: "name"}, s.name));
      item.appendChild(el("span", {class: "state"}, `${ui.sent} ${s.when.toLocaleTimeString(lang)}`));
      list.appendChild(item);
    });
  }

  outbox.onChange((event) => {
    if (event.type === "sent") addSent(event.entry, new Date());
    if (event.type === "auth") showNote(ui.sign_in_again);
    if (event.type === "flushed" || event.type === "changed") renderOutbox();
  });
  $("outbox-badge").addEventListener("click", () => outbox.flush());

  // ------------------------------------------------------------------ controls
  $("radius").addEventListener("change", () => loadNearby(false));
  $("locate").addEventListener("click", locate);
  $("manual-go").addEventListener("click", () => {
    const lon = Number($("manual-lon").value.replace(",", ".")), lat = Number($("manual-lat").value.replace(",", "."));
    if (!$("manual-lon").value || !$("manual-lat").value || !Number.isFinite(lon) || !Number.isFinite(lat)
        || Math.abs(lon) > 180 || Math.abs(lat) > 90) { showNote(ui.bad_coordinates); return; }
    map.setView([lat, lon], 16, {animate: false});
    setPosition(lon, lat, null, "manual");
  });

  locate();
  renderOutbox().then(() => outbox.flush());
})();
