// Session page: follows /api/sessions/{id}/events (SSE; the browser resends Last-Event-ID
// on reconnect, so nothing is lost or doubled) and posts steering actions.
const root = document.querySelector("[data-session]");
const sid = root.dataset.session;
const $ = (id) => document.getElementById(id);
const log = $("log");
const cards = new Map();
let draft = null;
let iterations = 0;  // counted from the replayed stream (the page's number is the store's)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

// Each node drawn from a stored event carries its seq (data-seq), so a reload can be
// checked against the store: every stored event drawn once, none missing.
let seq = null;
function add(node) {
  if (seq !== null) node.dataset.seq = seq;
  log.append(node);
  return node;
}

async function post(path, body) {
  const r = await fetch(`/api/sessions/${sid}${path}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}),
  });
  const out = await r.json().catch(() => ({}));
  $("action-error").textContent = r.ok ? "" : (typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail));
  return out;
}

function setPlan(items) {
  $("plan").replaceChildren(...items.map((i) => el("li", { class: `plan-${i.status}` }, `${i.text} `, el("span", { class: "badge" }, i.status))));
}

const handlers = {
  user_message: (e) => add(el("div", { class: "msg user" }, e.text)),
  assistant_delta: (e) => {
    if (!draft) { draft = el("div", { class: "msg assistant draft" }); log.append(draft); }
    draft.textContent += e.text;
  },
  assistant_message: (e) => {
    if (draft) { draft.remove(); draft = null; }
    if (e.text) add(el("div", { class: "msg assistant" }, e.text));
    $("iterations").textContent = ++iterations;
  },
  tool_call_started: (e) => {
    const args = typeof e.arguments === "string" ? e.arguments : JSON.stringify(e.arguments, null, 2);
    const result = el("pre", { class: "result" }, "running…");
    const summary = el("summary", {}, el("strong", {}, e.name), " ", el("span", { class: "dur" }, "…"));
    const card = el("details", { class: "tool" }, summary, el("pre", { class: "args" }, args), result);
    card.dataset.call = e.call_id;
    cards.set(e.call_id, card);
    add(card);
  },
  tool_call_finished: (e) => {
    const card = cards.get(e.call_id);
    if (!card) return;
    card.classList.add(e.ok ? "ok" : "failed");
    card.querySelector(".dur").textContent = `${e.ok ? "✓" : "✗"} ${e.duration_s.toFixed(2)} s`;
    card.querySelector(".result").textContent = e.preview;
  },
  approval_requested: (e) => {
    const cost = e.cost_estimate_usd != null ? ` (estimated $${e.cost_estimate_usd.toFixed(2)})` : "";
    const yes = el("button", { type: "button", class: "primary" }, "Approve");
    const no = el("button", { type: "button", class: "danger" }, "Reject");
    const box = el("div", { class: "card approval", id: `approval-${e.request_id}`, role: "group", "aria-label": `Approval for ${e.name}` },
      el("p", {}, el("strong", {}, e.name), ` needs approval: ${e.reason}${cost}`),
      el("pre", {}, JSON.stringify(e.arguments, null, 2)), el("div", { class: "row" }, yes, no));
    yes.onclick = () => post(`/approvals/${encodeURIComponent(e.request_id)}`, { approved: true });
    no.onclick = () => post(`/approvals/${encodeURIComponent(e.request_id)}`, { approved: false });
    $("approvals").append(box);
    yes.focus();
  },
  approval_resolved: (e) => $(`approval-${e.request_id}`)?.remove(),
  plan_updated: (e) => setPlan(e.items),
  note_saved: (e) => { $("notes-empty")?.remove(); $("notes").append(el("li", {}, e.text)); },
  model_call: (e) => { $("cost").textContent = `$${e.total_cost_usd.toFixed(4)}`; },
  error: (e) => add(el("div", { class: "msg error", role: "alert" }, e.message)),
  session_started: () => { $("status").textContent = "running"; },
  turn_complete: (e) => {
    // An interrupted turn leaves requests and running cards without an answer.
    $("approvals").replaceChildren();
    for (const card of cards.values()) {
      if (!card.classList.contains("ok") && !card.classList.contains("failed")) {
        card.classList.add("failed");
        card.querySelector(".dur").textContent = `✗ ${e.reason}`;
        card.querySelector(".result").textContent = `not finished: the turn ended (${e.reason})`;
      }
    }
    $("status").textContent = e.reason === "finished" ? "idle" : e.reason;
    $("cost").textContent = `$${e.total_cost_usd.toFixed(4)}`;
    add(el("p", { class: "turn-end" }, `Turn ended: ${e.reason} after ${e.iterations} iterations`));
  },
};

async function loadState() {
  const r = await fetch(`/api/sessions/${sid}`);
  if (!r.ok) return;
  const info = await r.json();
  setPlan(info.plan);
}

$("iterations").textContent = "0";
const source = new EventSource(`/api/sessions/${sid}/events`);
source.onmessage = (m) => {
  const e = JSON.parse(m.data);
  seq = e.seq ?? null;  // deltas are not stored and have none
  handlers[e.type]?.(e);
  if (seq !== null) root.dataset.lastSeq = seq;
  if (e.type !== "assistant_delta") log.lastElementChild?.scrollIntoView({ block: "nearest" });
};

$("message-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (!text) return;
  const out = await post("/messages", { text });
  if (out.status) $("message").value = "";
  if (out.status === "queued") log.append(el("p", { class: "turn-end" }, "Message queued for after this turn."));
});
$("interrupt").onclick = () => post("/interrupt");
$("undo").onclick = async () => { const out = await post("/undo"); if (out.removed != null) location.reload(); };
$("budget-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await post("/budget", { budget_usd: Number($("budget-input").value) });
  if (out.budget_usd != null) $("budget").textContent = `$${out.budget_usd.toFixed(2)}`;
});
loadState();
