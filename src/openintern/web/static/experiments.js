// Experiments page: runs grouped by sweep and configuration, with search, a status filter,
// column choice (remembered), sorting (which lists the runs flat), live updates in place,
// charts of chosen runs overlaid (legend names each run), picking two runs to compare,
// and a parallel-coordinates view of each sweep.
import "./sort.js";
import { ChartPanel } from "./charts.js";
import { el } from "./dom.js";
import { parallelCoordinates } from "./parallel.js";

const $ = (id) => document.getElementById(id);
const table = $("experiments");
const session = document.querySelector(".lab")?.dataset.session ?? "";
const FINAL = new Set(["succeeded", "failed", "cancelled", "timeout"]);

if (table) {
  const rows = [...table.querySelectorAll("tr.run")];
  const home = rows.map((r) => [r, r.parentElement]);  // where grouping puts each row back
  const titles = new Map(rows.map((r) => [r.dataset.exp, r.querySelector(".run-link").title.replace(/ \([0-9a-f]+\)$/, "")]));

  // --- columns, remembered per browser ----------------------------------------------------
  const COLS_KEY = "openintern-experiment-columns";
  const saved = JSON.parse(localStorage.getItem(COLS_KEY) ?? "null");
  for (const box of document.querySelectorAll(".col-toggle")) {
    if (saved && box.value in saved) box.checked = saved[box.value];
    const apply = () => table.classList.toggle(`hide-${box.value}`, !box.checked);
    apply();
    box.addEventListener("change", () => {
      apply();
      const now = Object.fromEntries([...document.querySelectorAll(".col-toggle")].map((b) => [b.value, b.checked]));
      localStorage.setItem(COLS_KEY, JSON.stringify(now));
    });
  }

  // --- search and status filter -------------------------------------------------------------
  function filter() {
    const words = $("search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const status = $("status-filter").value;
    let shown = 0;
    for (const row of rows) {
      const ok = words.every((w) => row.dataset.search.includes(w)) && (!status || row.dataset.status === status);
      row.hidden = !ok;
      shown += ok;
    }
    for (const head of table.querySelectorAll("tr.config-head, tr.sweep-head")) {
      let next = head.nextElementSibling, any = false;
      while (next && !(next.classList.contains("config-head") || next.classList.contains("sweep-head"))) {
        any ||= !next.hidden;
        next = next.nextElementSibling;
      }
      if (head.classList.contains("config-head")) head.hidden = !any;
    }
    for (const body of table.tBodies) {
      const any = [...body.querySelectorAll("tr.run")].some((r) => !r.hidden);
      body.querySelector("tr.sweep-head")?.toggleAttribute("hidden", !any);
    }
    $("no-match").hidden = shown > 0;
    $("run-count").textContent = shown === rows.length ? `(${rows.length})` : `(${shown} of ${rows.length})`;
  }
  $("search").addEventListener("input", filter);
  $("status-filter").addEventListener("change", filter);

  // --- grouping and sorting -----------------------------------------------------------------
  let flat = null;
  function setGrouped(grouped) {
    $("grouping").checked = grouped;
    table.classList.toggle("flat", !grouped);
    if (grouped) {
      for (const [row, parent] of home) parent.append(row);
      flat?.remove();
      flat = null;
    } else if (!flat) {
      flat = el("tbody", { class: "flat-body" });
      table.append(flat);
      flat.append(...rows);
    }
  }
  $("grouping").addEventListener("change", () => setGrouped($("grouping").checked));
  const headers = [...table.tHead.rows[0].cells];
  for (const button of table.querySelectorAll("thead [data-sort]")) {
    const th = button.closest("th"), col = th.dataset.col, numeric = button.hasAttribute("data-numeric");
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      for (const h of headers) h.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      setGrouped(false);
      const key = (row) => {
        const cell = row.querySelector(`[data-col="${col}"]`);
        const raw = cell.dataset.value ?? cell.textContent.trim();
        if (!numeric) return raw === "" ? null : (isNaN(Number(raw)) ? raw.toLowerCase() : Number(raw));
        return raw === "" || isNaN(Number(raw)) ? null : Number(raw);
      };
      const sorted = [...rows].sort((a, b) => {
        const [ka, kb] = [key(a), key(b)];
        if (ka === kb) return 0;
        if (ka === null) return 1;  // empty cells last either way
        if (kb === null) return -1;
        return (ka > kb ? 1 : -1) * (ascending ? 1 : -1);
      });
      flat.append(...sorted);
    });
  }

  // --- charts of chosen runs, overlaid -----------------------------------------------------
  const chosen = new Map();
  let panel = null;
  function drawChosen() {
    panel?.stop();
    for (const b of document.querySelectorAll(".show-chart")) b.setAttribute("aria-pressed", String(chosen.has(b.dataset.exp)));
    if (!chosen.size) { $("chart").replaceChildren(el("p", { class: "muted" }, "Choose “Chart” on runs.")); panel = null; return; }
    panel = new ChartPanel($("chart"), [...chosen].map(([id, label]) => ({ id, label })));
    panel.follow(3000);  // live while any of them runs
  }
  for (const button of document.querySelectorAll(".show-chart")) {
    button.addEventListener("click", () => {
      const id = button.dataset.exp;
      if (chosen.has(id)) chosen.delete(id); else chosen.set(id, titles.get(id));
      drawChosen();
    });
  }

  // --- picking ------------------------------------------------------------------------------
  const picks = [...document.querySelectorAll("input.pick")];
  function updatePicks() {
    const picked = picks.filter((p) => p.checked).map((p) => p.value);
    $("compare").disabled = picked.length !== 2;
    $("overlay").disabled = picked.length < 1;
    $("compare-a").value = picked[0] ?? "";
    $("compare-b").value = picked[1] ?? "";
    $("compare-hint").textContent = picked.length > 2 ? "Compare takes two runs; charting takes any number."
      : "Pick runs to compare two side by side or chart several together.";
  }
  for (const p of picks) p.addEventListener("change", updatePicks);
  $("overlay").addEventListener("click", () => {
    chosen.clear();
    for (const p of picks.filter((x) => x.checked)) chosen.set(p.value, titles.get(p.value));
    drawChosen();
    $("chart").scrollIntoView({ block: "nearest" });
  });

  // --- live: statuses, values and durations in place -----------------------------------------
  const byId = new Map(rows.map((r) => [r.dataset.exp, r]));
  function fmt(v) { return v === null || v === undefined ? "" : Number(v.toPrecision(4)).toString(); }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "";
    if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor(s % 3600 / 60)).padStart(2, "0")} min`;
    if (s >= 60) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
    return `${s.toFixed(1)} s`;
  }
  let latest = [];
  async function refresh() {
    const r = await fetch(`/api/experiments${session ? `?session=${encodeURIComponent(session)}` : ""}`);
    if (!r.ok) return false;
    latest = await r.json();
    for (const x of latest) {
      const row = byId.get(x.id);
      if (!row) { $("new-runs").hidden = false; continue; }
      row.dataset.status = x.status;
      const badge = row.querySelector("[data-col=status] .status");
      badge.textContent = x.status;
      badge.className = `status status-${x.status}`;
      const value = row.querySelector("[data-col=value]");
      if (x.metric_value !== null && value.dataset.value !== String(x.metric_value)) {
        value.dataset.value = x.metric_value;
        value.replaceChildren(el("a", { href: `/experiments/${x.id}` }, fmt(x.metric_value)));
      }
      const duration = row.querySelector("[data-col=duration]");
      duration.textContent = fmtDuration(x.duration_s);
      if (x.duration_s !== null) duration.dataset.value = x.duration_s;
    }
    parallelCoordinates($("parallel"), latest, $("parallel-section"));
    return latest.every((x) => FINAL.has(x.status) || x.status === "declared");
  }
  const tick = async () => setTimeout(tick, (await refresh().catch(() => false)) ? 15000 : 3000);
  tick();
}
