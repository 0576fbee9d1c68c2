// Experiments page: sortable table and inline SVG line charts from
// /api/experiments/{id}/metrics (refreshed every 5 s while shown, so running jobs update).
const SVG = "http://www.w3.org/2000/svg";
const chart = document.getElementById("chart");
let timer = null;

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function lineChart(name, points) {
  const pts = points.filter((p) => p.value !== null);
  const W = 480, H = 200, P = 36;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": `${name} by step` });
  const title = svg("title", {}); title.textContent = `${name} by step`; root.append(title);
  if (!pts.length) return root;
  const xs = pts.map((p) => p.step), ys = pts.map((p) => p.value);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => P + ((x - x0) / ((x1 - x0) || 1)) * (W - 2 * P);
  const sy = (y) => H - P - ((y - y0) / ((y1 - y0) || 1)) * (H - 2 * P);
  root.append(svg("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, class: "axis" }));
  root.append(svg("line", { x1: P, y1: P, x2: P, y2: H - P, class: "axis" }));
  root.append(svg("polyline", { points: pts.map((p) => `${sx(p.step)},${sy(p.value)}`).join(" "), class: "series" }));
  for (const [text, x, y] of [[y1.toPrecision(3), 2, P], [y0.toPrecision(3), 2, H - P], [`step ${x1}`, W - P - 40, H - 8], [name, P + 4, 14]]) {
    const t = svg("text", { x, y }); t.textContent = text; root.append(t);
  }
  return root;
}

async function show(expId) {
  const r = await fetch(`/api/experiments/${encodeURIComponent(expId)}/metrics`);
  if (!r.ok) { chart.textContent = "Could not load metrics."; return; }
  const { series } = await r.json();
  const names = Object.keys(series);
  chart.replaceChildren(...(names.length ? names.map((n) => lineChart(n, series[n])) : [document.createTextNode("No metrics recorded yet.")]));
}

for (const button of document.querySelectorAll(".show-chart")) {
  button.addEventListener("click", () => {
    clearInterval(timer);
    show(button.dataset.exp);
    timer = setInterval(() => show(button.dataset.exp), 5000);
  });
}

for (const button of document.querySelectorAll("[data-sort]")) {
  let ascending = true;
  button.addEventListener("click", () => {
    const col = Number(button.dataset.sort), numeric = button.hasAttribute("data-numeric");
    const body = document.querySelector("#experiments tbody");
    const rows = [...body.rows];
    const key = (row) => { const t = row.cells[col].textContent.trim(); return numeric ? (t === "" ? -Infinity : Number(t)) : t; };
    rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (ascending ? 1 : -1));
    ascending = !ascending;
    body.append(...rows);
  });
}
