// Parallel coordinates of a sweep (inline SVG): one vertical axis per configuration key
// that varies within the sweep, then the primary metric; one line per finished run,
// coloured from worst (light) to best (dark). Numeric keys are linear (log when they span
// more than two decades), others categorical. Hovering a line names the run.
import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function axisOf(key, values) {
  const numeric = values.every((v) => typeof v === "number");
  if (numeric) {
    let lo = Math.min(...values), hi = Math.max(...values);
    const log = lo > 0 && hi / lo > 100;
    if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    const span = hi - lo || 1;
    return { key, ticks: [...new Set(values)].sort((a, b) => a - b), pos: (v) => ((log ? Math.log10(v) : v) - lo) / span, numeric: true };
  }
  const cats = [...new Set(values.map((v) => JSON.stringify(v)))].sort();
  return { key, ticks: cats.map((c) => JSON.parse(c)), pos: (v) => cats.length === 1 ? 0.5 : cats.indexOf(JSON.stringify(v)) / (cats.length - 1), numeric: false };
}

function label(v) {
  return typeof v === "number" ? Number(v.toPrecision(4)).toString() : (typeof v === "string" ? v : JSON.stringify(v));
}

function sweepChart(runs) {
  const metric = runs[0].primary_metric;
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.config)))].filter((k) => k !== "seed" &&
    new Set(runs.map((r) => JSON.stringify(r.config[k]))).size > 1).sort();
  if (!keys.length) return null;
  const axes = keys.map((k) => axisOf(k, runs.map((r) => r.config[k] ?? null)));
  const values = runs.map((r) => r.metric_value);
  const metricAxis = axisOf(metric, values);
  const lower = runs[0].mode === "min";
  axes.push({ ...metricAxis, metric: true });
  const W = Math.max(480, 180 * axes.length), H = 260, top = 30, bottom = 30, left = 60, right = 60;
  const x = (i) => left + (i * (W - left - right)) / (axes.length - 1);
  const y = (p) => H - bottom - p * (H - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "parallel", role: "img", "aria-label": `${metric} of ${runs.length} runs by configuration` });
  const lines = svg("g", { class: "pc-lines" });
  const lo = Math.min(...values), hi = Math.max(...values);
  runs.forEach((r) => {
    const quality = hi === lo ? 1 : (lower ? (hi - r.metric_value) : (r.metric_value - lo)) / (hi - lo);
    const pts = axes.map((a, i) => `${x(i)},${y(a.pos(a.metric ? r.metric_value : r.config[a.key] ?? null))}`).join(" ");
    const line = svg("polyline", { points: pts, class: "pc-line", "data-exp": r.id });
    line.style.stroke = `hsl(212 90% ${72 - 45 * quality}%)`;
    line.append(svg("title", {}, `${r.title}: ${metric} ${label(r.metric_value)}`));
    line.addEventListener("click", () => { location.href = `/experiments/${r.id}`; });
    lines.append(line);
  });
  root.append(lines);
  axes.forEach((a, i) => {
    const g = svg("g", { class: a.metric ? "pc-axis pc-metric" : "pc-axis" });
    g.append(svg("line", { x1: x(i), y1: y(0), x2: x(i), y2: y(1) }));
    const anchor = i === 0 ? "start" : (i === axes.length - 1 ? "end" : "middle");
    const nameX = i === 0 ? x(i) - 40 : (i === axes.length - 1 ? x(i) + 40 : x(i));
    g.append(svg("text", { x: nameX, y: 16, "text-anchor": anchor, class: "pc-name" }, a.metric ? `${a.key} (${lower ? "lower" : "higher"} is better)` : a.key));
    const ticks = a.numeric && a.ticks.length > 6 ? [a.ticks[0], a.ticks[a.ticks.length - 1]] : a.ticks;
    for (const t of ticks) g.append(svg("text", { x: x(i) - 6, y: y(a.pos(t)) + 4, "text-anchor": "end", class: "pc-tick" }, label(t)));
    root.append(g);
  });
  return root;
}

// Draw one chart per sweep with at least two configurations of finished runs into
// `target`; `section` is shown only when there is something to draw.
export function parallelCoordinates(target, experiments, section) {
  const sweeps = new Map();
  for (const e of experiments) {
    if (!e.sweep_id || e.status !== "succeeded" || e.metric_value === null || !e.primary_metric) continue;
    if (!sweeps.has(e.sweep_id)) sweeps.set(e.sweep_id, []);
    sweeps.get(e.sweep_id).push(e);
  }
  const charts = [];
  for (const runs of sweeps.values()) {
    const chart = sweepChart(runs);
    if (chart) charts.push(el("figure", { class: "pc" }, el("figcaption", {}, `${runs[0].name} (${runs.length} runs)`), chart));
  }
  target.replaceChildren(...charts);
  if (section) section.hidden = charts.length === 0;
}
