// Sortable tables: a header button sorts its column (numbers by data-value), toggling
// the direction; aria-sort tells screen readers.
export function makeSortable(table) {
  const headers = [...table.tHead.rows[0].cells];
  for (const button of table.querySelectorAll("thead [data-sort]")) {
    const th = button.closest("th"), col = headers.indexOf(th), numeric = button.hasAttribute("data-numeric");
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      for (const h of headers) h.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const cell = row.cells[col];
        if (!numeric) return cell.textContent.trim().toLowerCase();
        const raw = cell.dataset.value ?? cell.textContent;
        return raw === "" || isNaN(Number(raw)) ? null : Number(raw);
      };
      const body = table.tBodies[0];
      const rows = [...body.rows];
      rows.sort((a, b) => {
        const [ka, kb] = [key(a), key(b)];
        if (ka === kb) return 0;
        if (ka === null) return 1;  // empty cells last either way
        if (kb === null) return -1;
        return (ka > kb ? 1 : -1) * (ascending ? 1 : -1);
      });
      body.append(...rows);
    });
  }
}

for (const table of document.querySelectorAll("table.sortable")) makeSortable(table);
