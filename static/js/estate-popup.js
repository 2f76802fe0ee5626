/* Estate popup and shared formatting for the planner map.
 *
 * Everything from the data is put into the page with textContent or as attribute values, never
 * as HTML: an estate named "<img src=x onerror=...>" shows as that text and runs nothing.
 */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatter(locale) {
    const lang = locale === "en" ? "en" : "zh-CN";
    return {
      int: (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString(lang)),
      num: (v, digits = 1) => (v === null || v === undefined ? "—"
        : Number(v).toLocaleString(lang, {minimumFractionDigits: digits, maximumFractionDigits: digits})),
      text: (v) => (v === null || v === undefined || v === "" ? "—" : String(v)),
    };
  }

  function progressBar(value, color) {
    const wrap = el("div", {class: "progress", role: "progressbar", "aria-valuemin": "0",
                            "aria-valuemax": "100", "aria-valuenow": String(value || 0)});
    const bar = el("div", {class: "progress-bar"});
    bar.style.width = Math.max(0, Math.min(100, Number(value) || 0)) + "%";
    bar.style.background = color;
    wrap.appendChild(bar);
    wrap.appendChild(el("span", {class: "progress-label"}, value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} %`));
    return wrap;
  }

  function itemsList(props, cfg, ui) {
    const planned = new Set((props.items_planned || "").split(",").filter(Boolean));
    const done = new Set((props.items_done || "").split(",").filter(Boolean));
    const list = el("ul", {class: "items"});
    cfg.labels.items.filter((i) => planned.has(i.code)).forEach((item) => {
      const li = el("li", {class: done.has(item.code) ? "done" : "planned"},
                    `${done.has(item.code) ? "✓" : "○"} ${item.label}`);
      li.title = done.has(item.code) ? ui.item_done : ui.item_planned;
      list.appendChild(li);
    });
    if (!planned.size) list.appendChild(el("li", {}, "—"));
    return list;
  }

  /* Rows of the popup table: [label, value-or-node]. */
  function popupRows(props, cfg, ui, fmt) {
    const f = cfg.fields;
    const status = cfg.labels.statuses.find((s) => s.code === props.status) || {label: props.status, color: "#000"};
    const investment = cfg.labels.funding.map((s) => [s.label, props[s.code]]);
    const total = investment.reduce((sum, [, v]) => sum + (Number(v) || 0), 0);
    const invest = el("table", {class: "investment"});
    investment.forEach(([label, v]) => {
      const tr = el("tr");
      tr.appendChild(el("td", {}, label));
      tr.appendChild(el("td", {class: "num"}, fmt.num(v)));
      invest.appendChild(tr);
    });
    const totalRow = el("tr", {class: "total"});
    totalRow.appendChild(el("td", {}, ui.total));
    totalRow.appendChild(el("td", {class: "num"}, fmt.num(total)));
    invest.appendChild(totalRow);
    return [
      [f.street_office, fmt.text(props.street_office)],
      [f.zone, fmt.text(props.zone)],
      [f.address, fmt.text(props.address)],
      [f.year_built, fmt.text(props.year_built)],
      [f.households, fmt.int(props.households)],
      [f.buildings, fmt.int(props.buildings)],
      [f.floor_area_m2, fmt.num(props.floor_area_m2)],
      [f.land_area_m2, fmt.num(props.land_area_m2)],
      [f.batch, fmt.text(props.batch)],
      [f.status, status.label],
      [f.progress_pct, progressBar(props.progress_pct, status.color)],
      [ui.investment_wan, invest],
      [ui.items, itemsList(props, cfg, ui)],
      [f.management, fmt.text(cfg.labels.management[props.management] || props.management)],
      [f.planned_start, fmt.text(props.planned_start)],
      [f.start_date, fmt.text(props.start_date)],
      [f.completion_date, fmt.text(props.completion_date)],
      [f.acceptance_date, fmt.text(props.acceptance_date)],
    ];
  }

  /* The whole popup for one estate feature (full attributes, as /api/estates/<id> returns). */
  function buildPopup(feature, cfg, ui) {
    const props = feature.properties;
    const fmt = formatter(cfg.locale);
    const box = el("div", {class: "estate-popup", "data-estate-id": String(feature.id)});
    box.appendChild(el("h3", {}, props.name));
    box.appendChild(el("div", {class: "code"}, props.code));
    const table = el("table", {class: "attributes"});
    popupRows(props, cfg, ui, fmt).forEach(([label, value]) => {
      const tr = el("tr");
      tr.appendChild(el("th", {scope: "row"}, label));
      const td = el("td");
      if (value instanceof Node) td.appendChild(value); else td.textContent = value;
      tr.appendChild(td);
      table.appendChild(tr);
    });
    box.appendChild(table);
    const links = el("div", {class: "links"});
    links.appendChild(el("a", {href: cfg.urls.estatePage + feature.id}, ui.details));
    links.appendChild(el("a", {href: `${cfg.urls.estate}${feature.id}?download=1`}, ui.export_geojson));
    box.appendChild(links);
    return box;
  }

  window.GeoAppPopup = {buildPopup, formatter, el};
})();
