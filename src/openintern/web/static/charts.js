// Inline SVG line charts (no library): one chart per metric, one line per run.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// lines: [{label, points: [{step, value}]}]; null values (NaN/inf) are skipped.
export function lineChart(name, lines) {
  const W = 480, H = 220, P = 44;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": `${name} by step` });
  const title = svg("title", {}); title.textContent = `${name} by step`; root.append(title);
  const clean = lines.map((l) => ({ ...l, points: l.points.filter((p) => p.value !== null) }));
  const all = clean.flatMap((l) => l.points);
  if (!all.length) return root;
  const xs = all.map((p) => p.step), ys = all.map((p) => p.value);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => P + ((x - x0) / ((x1 - x0) || 1)) * (W - 2 * P);
  const sy = (y) => H - P - ((y - y0) / ((y1 - y0) || 1)) * (H - 2 * P);
  root.append(svg("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, class: "axis" }));
  root.append(svg("line", { x1: P, y1: P, x2: P, y2: H - P, class: "axis" }));
  clean.forEach((line, i) => {
    const poly = svg("polyline", { points: line.points.map((p) => `${sx(p.step)},${sy(p.value)}`).join(" "), class: `series series-${i}`, "data-label": line.label });
    const t = svg("title", {}); t.textContent = line.label; poly.append(t);
    root.append(poly);
  });
  const labels = [[y1.toPrecision(3), 2, P + 4], [y0.toPrecision(3), 2, H - P], [`step ${x0}`, P, H - P + 16], [`step ${x1}`, W - P - 40, H - P + 16], [name, P, 18]];
  for (const [text, x, y] of labels) { const t = svg("text", { x, y }); t.textContent = text; root.append(t); }
  if (clean.length > 1) clean.forEach((line, i) => {
    const y = H - 8, x = P + i * 150;
    root.append(svg("line", { x1: x, y1: y - 4, x2: x + 16, y2: y - 4, class: `series series-${i}` }));
    const t = svg("text", { x: x + 20, y }); t.textContent = line.label; root.append(t);
  });
  return root;
}

export async function fetchSeries(expId) {
  const r = await fetch(`/api/experiments/${encodeURIComponent(expId)}/metrics`);
  if (!r.ok) throw new Error(`could not load metrics of ${expId} (HTTP ${r.status})`);
  return (await r.json()).series;
}

// Draw every metric of the runs [{id, label}] into `target`; one chart per metric name.
export async function drawRuns(target, runs) {
  try {
    const all = await Promise.all(runs.map((run) => fetchSeries(run.id)));
    const names = [...new Set(all.flatMap((s) => Object.keys(s)))].sort();
    if (!names.length) { target.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: "No metrics recorded yet." })); return; }
    target.replaceChildren(...names.map((n) => lineChart(n, runs.map((run, i) => ({ label: run.label, points: all[i][n] ?? [] })))));
  } catch (err) {
    target.textContent = String(err.message ?? err);
  }
}
