/* Inspections on the planner map: an "Inspections" overlay (each estate's latest inspection where
 * the inspector stood, coloured by verdict) and the latest inspection in an estate's popup.
 *
 * Hooked on the `geoapp:planner` event planner.js dispatches, so planner.js needs no change; this
 * script must be loaded before it. Only for signed-in users: inspection records name people.
 * Everything from the data goes in as text nodes.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  const urls = {latest: script.dataset.latest, estate: script.dataset.estate};
  const texts = JSON.parse(script.dataset.texts);
  const verdicts = Object.fromEntries(texts.verdicts.map((v) => [v.code, v]));

  document.addEventListener("geoapp:planner", (event) => {
    const {map, state, el} = event.detail;
    const control = window.GeoApp.control;
    const layer = L.layerGroup();
    let coords = null;

    // The day in Beijing time, as the pages show it ("en-CA" writes YYYY-MM-DD).
    const beijingDay = new Intl.DateTimeFormat("en-CA", {timeZone: "Asia/Shanghai"});

    function describe(props) {
      const verdict = verdicts[props.verdict] || {label: props.verdict};
      const day = beijingDay.format(new Date(props.inspected_at));
      return `${texts.latest}: ${verdict.label} · ${day} · ${props.inspector}`
        + (props.problems ? ` · ${texts.problems} ${props.problems}` : "");
    }

    async function load() {
      if (coords === state.coords) return;
      coords = state.coords;
      const response = await fetch(`${urls.latest}?coords=${coords}`, {headers: {Accept: "application/json"}});
      if (!response.ok) return; // signed out meanwhile: the overlay stays as it was
      const data = await response.json();
      layer.clearLayers();
      data.features.forEach((f) => {
        const [lon, lat] = f.geometry.coordinates;
        const color = (verdicts[f.properties.verdict] || {color: "#455a64"}).color;
        L.circleMarker([lat, lon], {radius: 6, color: "#fff", weight: 1.5, fillColor: color, fillOpacity: 0.95,
                                    className: "inspection-marker"})
          .bindTooltip(el("span", {}, describe(f.properties)))
          .on("click", () => event.detail.focusEstate(f.properties.estate_id))
          .addTo(layer);
      });
    }

    control.addOverlay(layer, texts.title);
    layer.addTo(map);
    load();
    // planner.js switches state.coords in its own handler, which runs after this one.
    map.on("baselayerchange", () => setTimeout(load, 0));

    map.on("popupopen", async (e) => {
      const box = e.popup.getContent();
      if (!(box instanceof Node) || !box.classList.contains("estate-popup") || box.querySelector(".popup-inspection")) return;
      const note = el("div", {class: "popup-inspection"}, "…");
      box.insertBefore(note, box.querySelector(".links"));
      const response = await fetch(`${urls.estate}${box.dataset.estateId}/inspections?limit=1`,
                                   {headers: {Accept: "application/json"}});
      if (!response.ok) { note.remove(); return; }
      const found = (await response.json()).features;
      note.textContent = found.length ? describe(found[0].properties) : texts.none;
      e.popup.update();
    });
  });
})();
