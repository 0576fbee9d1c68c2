// One run: its metric charts and log tail, refreshed every 3 s until the run is done.
import { drawRuns } from "./charts.js";

const root = document.querySelector("[data-exp]");
const run = { id: root.dataset.exp, label: document.querySelector("h1").firstChild.textContent.trim() };
const logs = document.getElementById("logs");

async function refresh() {
  await drawRuns(document.getElementById("chart"), [run]);
  const r = await fetch(`/api/experiments/${encodeURIComponent(run.id)}/logs`);
  const out = await r.json().catch(() => ({}));
  const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  logs.textContent = r.ok ? out.text : `Could not load logs: ${out.detail ?? r.status}`;
  if (atEnd) logs.scrollTop = logs.scrollHeight;  // follow the tail unless the reader scrolled up
  return out.status;
}

const FINAL = new Set(["succeeded", "failed", "cancelled", "timeout"]);
const status = await refresh();
if (root.dataset.done !== "true" && !FINAL.has(status)) {
  const timer = setInterval(async () => { if (FINAL.has(await refresh())) clearInterval(timer); }, 3000);
}
