// Metric charts on uPlot (vendored in /static/vendor, MIT): one chart per metric, one
// line per run with a legend naming it, markers on short series (a one-point series is a
// dot, not an empty axis), a hover readout (the legend shows the values under the
// cursor), exponential smoothing and a log scale chosen for all charts of a panel.
import uPlot from "./vendor/uPlot.esm.js";
import { el } from "./dom.js";

export const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0598bc", "#bf3989", "#4d2d00"];
const MARKER_MAX_POINTS = 60;  // series this short get a marker on every point
const STEP_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

// Exponential moving average, debiased (as TensorBoard's smoothing); nulls stay gaps.
export function smooth(values, weight) {
  if (!weight) return values;
  let last = 0, n = 0;
  return values.map((v) => {
    if (v === null || v === undefined) return v;
    last = last * weight + (1 - weight) * v;
    n += 1;
    return last / (1 - weight ** n);
  });
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : Number(v.toPrecision(5)).toString();
}

// lines: [{label, points: [{step, value}]}] (null values, NaN/inf, are gaps).
// opts: {smoothing, log, xLabel, width, height}. Returns {node, plot}.
export function metricChart(name, lines, opts = {}) {
  // One x array (the union of steps) and a y array per run, null where a run has no point.
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p.step)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs, ...lines.map((l) => {
    const ys = new Array(xs.length).fill(null);
    for (const p of l.points) ys[at.get(p.step)] = p.value;
    return smooth(ys, opts.smoothing || 0);
  })];
  const values = data.slice(1).flat().filter((v) => v !== null && v !== undefined);
  const positive = values.length > 0 && values.every((v) => v > 0);
  const log = Boolean(opts.log && positive);
  const longest = Math.max(0, ...lines.map((l) => l.points.filter((p) => p.value !== null).length));
  const node = el("figure", { class: "chart", "data-metric": name, "data-points": String(longest) });
  node.append(el("figcaption", {}, name + (opts.smoothing ? ` (smoothed ${opts.smoothing})` : "") + (log ? " · log scale" : "")));
  if (!values.length) {
    node.append(el("p", { class: "muted" }, "No finite values yet."));
    return { node, plot: null };
  }
  const plotBox = el("div", { class: "plot" });
  node.append(plotBox);
  const series = [{ label: opts.xLabel ?? "step", value: (u, v) => (v == null ? "–" : String(v)) }];
  lines.forEach((line, i) => series.push({
    label: line.label,
    stroke: COLORS[i % COLORS.length],
    width: 2,
    spanGaps: true,
    value: (u, v) => fmt(v),
    points: { show: longest <= MARKER_MAX_POINTS, size: longest <= 1 ? 9 : 6, fill: COLORS[i % COLORS.length] },
  }));
  const single = xs.length === 1;
  const plot = new uPlot({
    width: opts.width ?? 520,
    height: opts.height ?? 240,
    scales: {
      x: { time: false, range: single ? [xs[0] - 1, xs[0] + 1] : undefined },
      y: { distr: log ? 3 : 1 },
    },
    series,
    // Steps are whole numbers: no tick at step 0.25.
    axes: [{ label: opts.xLabel ?? "step", stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" }, incrs: STEP_INCREMENTS },
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" }, values: (u, ticks) => ticks.map(fmt), size: 60 }],
    legend: { live: true },
    cursor: { points: { size: 8 } },
  }, data, plotBox);
  node.dataset.log = log ? "true" : "false";
  node.dataset.logPossible = positive ? "true" : "false";
  return { node, plot };
}

export async function fetchSeries(expId, kind = "metrics") {
  const r = await fetch(`/api/experiments/${encodeURIComponent(expId)}/${kind}`);
  if (!r.ok) throw new Error(`could not load ${kind} of ${expId} (HTTP ${r.status})`);
  return r.json();
}

// A panel of charts with its controls (smoothing, log scale): draws every metric of the
// runs [{id, label}] into `target`; `refresh()` redraws with fresh data. `kind`:
// "metrics" (by step) or "system" (CPU/memory/GPU by seconds since start).
export class ChartPanel {
  constructor(target, runs, { kind = "metrics", controls = true, empty = "No metrics recorded yet." } = {}) {
    this.target = target;
    this.runs = runs;
    this.kind = kind;
    this.empty = empty;
    this.smoothing = 0;
    this.log = false;
    this.plots = [];
    this.done = false;
    this.charts = el("div", { class: "charts" });
    this.controls = controls ? this.makeControls() : null;
    target.replaceChildren(...(this.controls ? [this.controls] : []), this.charts);
  }

  makeControls() {
    const id = `smooth-${Math.random().toString(36).slice(2, 8)}`;
    const slider = el("input", { type: "range", min: "0", max: "0.95", step: "0.05", value: "0", id, class: "smoothing" });
    const shown = el("output", { for: id }, "0");
    slider.addEventListener("input", () => { this.smoothing = Number(slider.value); shown.textContent = slider.value; this.draw(); });
    const logBox = el("input", { type: "checkbox", id: `${id}-log`, class: "log-scale" });
    logBox.addEventListener("change", () => { this.log = logBox.checked; this.draw(); });
    this.logBox = logBox;
    return el("div", { class: "chart-controls row" },
      el("label", { for: id, class: "inline" }, "Smoothing "), slider, shown,
      el("label", { for: `${id}-log`, class: "inline" }, logBox, " Log scale"));
  }

  async refresh() {
    try {
      const answers = await Promise.all(this.runs.map((run) => fetchSeries(run.id, this.kind)));
      this.series = answers.map((a) => a.series);
      this.done = answers.every((a) => a.done);
      this.draw();
    } catch (err) {
      this.charts.replaceChildren(el("p", { class: "error" }, String(err.message ?? err)));
    }
    return this.done;
  }

  draw() {
    if (!this.series) return;
    for (const p of this.plots) p.destroy();
    this.plots = [];
    const names = [...new Set(this.series.flatMap((s) => Object.keys(s)))].sort();
    if (!names.length) {
      this.charts.replaceChildren(el("p", { class: "muted" }, this.empty));
      return;
    }
    const figures = names.map((n) => {
      const lines = this.runs.map((run, i) => ({ label: run.label, points: this.series[i][n] ?? [] }));
      const { node, plot } = metricChart(n, lines, { smoothing: this.smoothing, log: this.log, xLabel: this.kind === "system" ? "seconds" : "step" });
      if (plot) this.plots.push(plot);
      return node;
    });
    this.charts.replaceChildren(...figures);
    if (this.logBox) {
      const possible = figures.some((f) => f.dataset.logPossible === "true");
      this.logBox.disabled = !possible;
      this.logBox.title = possible ? "" : "Log scale needs positive values";
    }
  }

  // Refresh every `ms` until every run is done (or `stop()`).
  follow(ms) {
    this.stop();
    const tick = async () => { if (!(await this.refresh())) this.timer = setTimeout(tick, ms); };
    tick();
  }

  stop() { clearTimeout(this.timer); }
}
