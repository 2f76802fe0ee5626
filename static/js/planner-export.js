/* "Export what I see": the planner's filters (kept in the URL by planner.js), optionally the map's
 * view as a bbox, a format and coordinates -> GET /api/export/estates, the same request
 * `geo-app export` makes from the same filters. The count the dialog shows is the server's answer
 * to a HEAD of that very request (the map's own list knows nothing of the view), so it is the
 * number of features the file will hold. The file is fetched as a stream so the dialog can show
 * how much has arrived and how fast, then saved under the server's name for it.
 * Loaded before planner.js, which announces itself with the "geoapp:planner" event.
 */
(function () {
  "use strict";
  const FILTERS = ["street_office", "batch", "status", "item", "q"];

  document.addEventListener("geoapp:planner", (event) => {
    const dialog = document.getElementById("export-dialog");
    if (dialog) setUpExport(dialog, event.detail);
  });

  function setUpExport(dialog, {map, cfg, state}) {
    const msg = dialog.dataset;
    const form = document.getElementById("export-form");
    const status = document.getElementById("export-status");
    const progress = document.getElementById("export-progress");
    const go = document.getElementById("export-go");
    const number = new Intl.NumberFormat(cfg.locale === "en" ? "en" : "zh-CN");
    let counting = 0; // the latest count asked for: an earlier answer arriving later is dropped

    async function describe() {
      const inView = form.elements.in_view.checked;
      const show = (count) => {
        document.getElementById("export-what").textContent =
          `${msg.msgCount} ${count}${inView ? ` (${msg.msgInView})` : ""}`;
      };
      const asked = ++counting;
      // Without the view the map's own list is the answer; with it, only the server knows.
      show(inView ? "…" : number.format(state.features.length));
      status.textContent = "";
      go.disabled = true;
      const response = await fetch(exportUrl(dialog.dataset.url, form, map, state, cfg), {method: "HEAD"})
        .catch(() => null);
      if (asked !== counting) return;
      go.disabled = false;
      if (!response || !response.ok) {
        status.textContent = `${msg.msgFailed}: ${response ? response.status : ""}`;
        return;
      }
      const total = Number(response.headers.get("X-Feature-Count"));
      show(number.format(total));
      if (total === 0) { // an empty file saved without a word helps nobody
        status.textContent = msg.msgNone;
        go.disabled = true;
      }
    }

    document.getElementById("export-open").addEventListener("click", () => {
      form.elements.coords.value = state.coords; // what the map shows: GCJ-02 over Amap tiles
      // One street office chosen: its estates may also be taken by its boundary (within_office).
      document.getElementById("export-by-boundary-row").hidden = !officeCode(cfg);
      if (!officeCode(cfg)) form.elements.by_boundary.checked = false;
      dialog.showModal();
      describe();
    });
    form.elements.in_view.addEventListener("change", describe);
    form.elements.by_boundary.addEventListener("change", describe);
    go.addEventListener("click", () => download(exportUrl(dialog.dataset.url, form, map, state, cfg)));

    async function download(url) {
      go.disabled = true;
      progress.hidden = false;
      status.textContent = msg.msgWaiting;
      try {
        const response = await fetch(url);
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          status.textContent = `${msg.msgFailed}: ${body.description || response.status}`;
          return;
        }
        const parts = await readAll(response, (received, seconds) => {
          status.textContent = `${megabytes(received)} MB ${msg.msgReceived} · ${megabytes(received / seconds)} MB/s`;
        });
        const count = number.format(Number(response.headers.get("X-Feature-Count")));
        save(new Blob(parts, {type: response.headers.get("Content-Type")}), fileName(response));
        status.textContent = `${msg.msgDone}: ${count} · ${megabytes(parts.reduce((n, p) => n + p.length, 0))} MB`;
      } catch (error) {
        status.textContent = `${msg.msgFailed}: ${error.message}`;
      } finally {
        go.disabled = false;
        progress.hidden = true;
      }
    }
  }

  // The code of the one street office the map is filtered to, or null.
  function officeCode(cfg) {
    const name = new URLSearchParams(location.search).get("street_office");
    const office = name && !name.includes(",") ? cfg.offices.find((o) => o.name === name) : null;
    return office ? office.code : null;
  }

  function exportUrl(base, form, map, state, cfg) {
    const page = new URLSearchParams(location.search);
    const params = new URLSearchParams();
    FILTERS.forEach((name) => { if (page.get(name)) params.set(name, page.get(name)); });
    if (form.elements.by_boundary.checked && officeCode(cfg)) {
      // The office's estates by geometry (those inside it, or overlapping it most), as
      // /api/street-offices/<code>/estates lists them, instead of by their street_office field.
      params.delete("street_office");
      params.set("within_office", officeCode(cfg));
    }
    params.set("format", form.elements.format.value);
    params.set("coords", form.elements.coords.value);
    if (form.elements.in_view.checked) {
      const b = map.getBounds();
      const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v)).toFixed(7);
      params.set("bbox", [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180),
                          clamp(b.getNorth(), 90)].join(","));
      // The view's corners are in the basemap's coordinates: GCJ-02 over Amap tiles.
      if (state.coords !== "wgs84") params.set("bbox_coords", state.coords);
    }
    return `${base}?${params}`;
  }

  async function readAll(response, onProgress) {
    const reader = response.body.getReader();
    const parts = [];
    const started = performance.now();
    let received = 0;
    for (;;) {
      const {done, value} = await reader.read();
      if (done) return parts;
      parts.push(value);
      received += value.length;
      onProgress(received, Math.max((performance.now() - started) / 1000, 0.001));
    }
  }

  function fileName(response) {
    const header = response.headers.get("Content-Disposition") || "";
    const encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (encoded) return decodeURIComponent(encoded[1]);
    const plain = /filename="([^"]+)"/i.exec(header);
    return plain ? plain[1] : "export";
  }

  function save(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }

  function megabytes(bytes) {
    return (bytes / 1e6).toFixed(1);
  }
})();
