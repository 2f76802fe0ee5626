/* Planner map tools: name search with a pick list, and the time view over batch years.
 * Loaded before planner.js, which announces itself with the "geoapp:planner" event.
 */
(function () {
  "use strict";

  document.addEventListener("geoapp:planner", (event) => {
    const {cfg, ui, state, el, focusEstate, restyle} = event.detail;
    setUpSearch(cfg, ui, el, focusEstate);
    setUpTimeView(cfg, ui, state, restyle);
  });

  function setUpSearch(cfg, ui, el, focusEstate) {
    const input = document.getElementById("search");
    const results = document.getElementById("search-results");
    let timer = null;
    let active = -1;

    function close() { results.replaceChildren(); results.hidden = true; active = -1; input.setAttribute("aria-expanded", "false"); }

    function pick(item) {
      close();
      input.value = item.name;
      focusEstate(item.id);
    }

    async function suggest() {
      const q = input.value.trim();
      if (!q) { close(); return; }
      const response = await fetch(`${cfg.urls.search}?q=${encodeURIComponent(q)}&limit=10`);
      if (!response.ok || input.value.trim() !== q) return;
      const found = (await response.json()).results;
      results.replaceChildren();
      found.forEach((item, i) => {
        const option = el("li", {role: "option", id: `search-option-${i}`, "data-id": String(item.id)});
        option.appendChild(el("span", {class: "name"}, item.name));
        option.appendChild(el("span", {class: "meta"}, item.street_office));
        option.addEventListener("mousedown", (e) => { e.preventDefault(); pick(item); });
        results.appendChild(option);
      });
      if (!found.length) results.appendChild(el("li", {class: "empty"}, ui.no_results));
      results.hidden = false;
      input.setAttribute("aria-expanded", "true");
      results.items = found;
    }

    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 200); });
    input.addEventListener("blur", () => setTimeout(close, 150));
    input.addEventListener("keydown", (e) => {
      const items = results.items || [];
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % Math.max(items.length, 1);
        results.querySelectorAll("li").forEach((li, i) => li.classList.toggle("active", i === active));
      } else if (e.key === "Enter" && items.length) {
        e.preventDefault();
        pick(items[Math.max(active, 0)]);
      } else if (e.key === "Escape") {
        close();
      }
    });
  }

  function setUpTimeView(cfg, ui, state, restyle) {
    const toggle = document.getElementById("time-toggle");
    const slider = document.getElementById("time-year");
    const label = document.getElementById("time-label");
    const play = document.getElementById("time-play");
    const first = Math.min(2014, ...cfg.batches);
    const last = Number(cfg.asOf.slice(0, 4));
    slider.min = String(first);
    slider.max = String(last);
    slider.value = String(last);
    label.textContent = String(last);
    let timer = null;

    function apply() {
      state.timeYear = toggle.checked ? Number(slider.value) : null;
      slider.disabled = play.disabled = !toggle.checked;
      label.textContent = toggle.checked ? slider.value : ui.time_now;
      restyle();
    }

    function stop() { clearInterval(timer); timer = null; play.textContent = "▶"; }

    toggle.addEventListener("change", () => { stop(); apply(); });
    slider.addEventListener("input", apply);
    play.addEventListener("click", () => {
      if (timer) { stop(); return; }
      if (Number(slider.value) >= last) slider.value = String(first);
      play.textContent = "❚❚";
      apply();
      timer = setInterval(() => {
        if (Number(slider.value) >= last) { stop(); return; }
        slider.value = String(Number(slider.value) + 1);
        apply();
      }, 900);
    });
    apply();
  }
})();
