// New-session form: POST /api/sessions (with progress while the server builds the session;
// the first one may wait for the model client to load), then open the session page. The
// session list keeps its statuses current, whichever process runs a session.
const $ = (id) => document.getElementById(id);
const form = $("new-session");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const body = { goal: data.get("goal") };
  for (const key of ["model", "job_backend"]) if (data.get(key)) body[key] = data.get(key);
  if (data.get("budget_usd")) body.budget_usd = Number(data.get("budget_usd"));
  const start = performance.now();
  const button = $("start");
  button.disabled = true;
  const status = await fetch("/api/status").then((r) => r.json()).catch(() => ({}));
  const waiting = status.model_client_ready === false ? " (loading the model client: the first session takes a few seconds)" : "";
  const tick = () => { $("start-progress").textContent = `Starting the session… ${((performance.now() - start) / 1000).toFixed(0)} s${waiting}`; };
  tick();
  const timer = setInterval(tick, 500);
  try {
    const r = await fetch("/api/sessions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const out = await r.json().catch(() => ({ detail: `HTTP ${r.status}` }));
    if (!r.ok) {
      const detail = Array.isArray(out.detail) ? out.detail.map((d) => `${d.loc.slice(-1)}: ${d.msg}`).join("; ") : out.detail;
      $("form-error").textContent = detail;
      $("start-progress").textContent = "";
      return;
    }
    $("start-progress").textContent = "Started; opening it…";
    location.href = `/sessions/${out.id}`;
  } finally {
    clearInterval(timer);
    button.disabled = false;
  }
});

// Statuses, costs and iterations in place, every few seconds.
async function refreshList() {
  const r = await fetch("/api/sessions?limit=100");
  if (!r.ok) return;
  for (const s of await r.json()) {
    const row = document.querySelector(`tr[data-session="${CSS.escape(s.id)}"]`);
    if (!row) { $("new-sessions").hidden = false; continue; }
    const badge = row.querySelector(".status");
    badge.textContent = s.status;
    badge.className = `status status-${s.status}`;
    row.querySelector(".cost-cell").textContent = `$${s.cost_usd.toFixed(4)}`;
    row.querySelector(".iter-cell").textContent = s.iterations;
  }
}
setInterval(refreshList, 4000);
