/* Click a column heading of a table.sortable to sort by it; click again to reverse.
 * Cells carry their raw value in data-value so numbers sort as numbers, not as formatted text. */
(function () {
  "use strict";
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, column) => {
      th.tabIndex = 0;
      th.setAttribute("role", "button");
      const sort = () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const numeric = th.dataset.type === "number";
        const body = table.tBodies[0];
        const rows = [...body.rows].sort((a, b) => {
          const x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
          const order = numeric ? Number(x) - Number(y) : x.localeCompare(y, "zh-CN");
          return ascending ? order : -order;
        });
        rows.forEach((row) => body.appendChild(row));
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  });
})();
