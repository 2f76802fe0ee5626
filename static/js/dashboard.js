/* Dashboard charts (Chart.js, served by the app) and the print button.
 * The figures come from the JSON block the server renders (#dashboard-data); nothing here builds
 * HTML from data, so a hostile street-office name can only ever be drawn as text on a canvas. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var numberFormat = new Intl.NumberFormat(data.locale, { maximumFractionDigits: 1 });

  function printButton() {
    var button = document.getElementById("print-button");
    if (button) button.addEventListener("click", function () { window.print(); });
  }

  if (typeof window.Chart === "undefined") {
    // The tables still carry every figure; say why the charts are missing instead of failing quietly.
    console.warn("Chart.js did not load; the dashboard shows tables only");
    printButton();
    return;
  }
  var Chart = window.Chart;
  var narrow = window.matchMedia("(max-width: 600px)").matches;

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#263238";
  // No animation: a chart printed or screenshotted right after load must already be complete.
  Chart.defaults.animation = false;
  // Print at a higher resolution than the screen, so bars and text stay sharp on paper.
  Chart.defaults.devicePixelRatio = Math.max(window.devicePixelRatio || 1, 2);

  var common = {
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: "bottom", labels: { boxWidth: 14 } } }
  };

  function merge(base, extra) {
    return Object.assign({}, base, extra, { plugins: Object.assign({}, base.plugins, extra.plugins) });
  }

  // On a phone the office names would collide under vertical bars: lie the bars down instead.
  function statusByOffice(spec) {
    var names = { stacked: true, ticks: { autoSkip: false, maxRotation: 45, callback: clippedLabel } };
    var counts = {
      stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: spec.yTitle }
    };
    return new Chart(document.getElementById("chart-status-by-office"), {
      type: "bar",
      data: { labels: spec.labels, datasets: spec.datasets },
      options: merge(common, {
        indexAxis: narrow ? "y" : "x",
        scales: narrow ? { y: names, x: counts } : { x: names, y: counts }
      })
    });
  }

  function progressByBatch(spec) {
    return new Chart(document.getElementById("chart-progress-by-batch"), {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [{ label: spec.yTitle, data: spec.data, backgroundColor: spec.backgroundColor }]
      },
      options: merge(common, {
        scales: {
          x: { ticks: { autoSkip: false, maxRotation: 60, callback: shortLabel } },
          y: { min: 0, max: 100, title: { display: true, text: spec.yTitle } }
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) { return numberFormat.format(ctx.parsed.y) + " %"; } } }
        }
      })
    });
  }

  // A name of any length must not squeeze the bars into a strip; the tables show it in full.
  function clippedLabel(value) {
    var label = this.getLabelForValue(value);
    return label.length > 12 ? label.slice(0, 11) + "…" : label;
  }

  // Batch labels such as "2019 三供一业（济南房建公寓段）" are long: break the axis label after the year.
  function shortLabel(value) {
    var label = this.getLabelForValue(value);
    var space = label.indexOf(" ");
    return space > 0 ? [label.slice(0, space), label.slice(space + 1)] : label;
  }

  function investmentBySource(spec) {
    return new Chart(document.getElementById("chart-investment-by-source"), {
      type: "doughnut",
      data: {
        labels: spec.labels,
        datasets: [{ data: spec.data, backgroundColor: spec.backgroundColor, borderColor: "#fff", borderWidth: 2 }]
      },
      options: merge(common, {
        plugins: {
          legend: { position: narrow ? "bottom" : "right", labels: { boxWidth: 14 } },
          tooltip: {
            callbacks: {
              label: function (ctx) { return ctx.label + ": " + numberFormat.format(ctx.parsed) + " " + spec.unit; }
            }
          }
        }
      })
    });
  }

  function resizeAll() {
    Object.values(Chart.instances).forEach(function (chart) { chart.resize(); });
  }

  statusByOffice(data.statusByOffice);
  progressByBatch(data.progressByBatch);
  investmentBySource(data.investmentBySource);
  // Chart.js does not follow print stylesheets by itself; resize to the printed boxes and back.
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  printButton();
})();
