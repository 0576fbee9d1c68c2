// New-session form: POST /api/sessions, then open the session page.
const form = document.getElementById("new-session");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const body = { goal: data.get("goal") };
  for (const key of ["model", "sandbox", "job_backend"]) if (data.get(key)) body[key] = data.get(key);
  if (data.get("budget_usd")) body.budget_usd = Number(data.get("budget_usd"));
  const r = await fetch("/api/sessions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const out = await r.json();
  if (!r.ok) {
    const detail = Array.isArray(out.detail) ? out.detail.map((d) => `${d.loc.slice(-1)}: ${d.msg}`).join("; ") : out.detail;
    document.getElementById("form-error").textContent = detail;
    return;
  }
  location.href = `/sessions/${out.id}`;
});
