// One run: its metric charts (refreshed while it runs), its output streamed as the job
// writes it (bounded; "full log" has everything), and its CPU/memory/GPU use.
import { ChartPanel } from "./charts.js";

const root = document.querySelector("[data-exp]");
const run = { id: root.dataset.exp, label: root.dataset.title };
const logs = document.getElementById("logs");
const LOG_MAX_CHARS = 200_000;

const metrics = new ChartPanel(document.getElementById("chart"), [run]);
const system = new ChartPanel(document.getElementById("system"), [run], { kind: "system", controls: false, empty: "No system metrics (only local jobs are sampled)." });
metrics.follow(2000);
system.follow(4000);

let text = "";
let cut = false;
function show(chunk, replace) {
  text = replace ? chunk : text + chunk;
  if (text.length > LOG_MAX_CHARS) { text = text.slice(-LOG_MAX_CHARS); cut = true; }
  const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  logs.textContent = (cut ? "[… earlier output: see the full log]\n" : "") + (text || "(the run has printed nothing yet)");
  if (atEnd) logs.scrollTop = logs.scrollHeight;  // follow the tail unless the reader scrolled up
}
const stream = new EventSource(`/api/experiments/${encodeURIComponent(run.id)}/logs/stream`);
let first = true;
stream.onmessage = (m) => { show(JSON.parse(m.data).text, first); first = false; };
stream.addEventListener("reset", (m) => { show(JSON.parse(m.data).text, true); first = false; });
stream.addEventListener("done", () => {
  stream.close();
  if (first) show("", true);
  document.getElementById("logs-state").textContent = "";
});
