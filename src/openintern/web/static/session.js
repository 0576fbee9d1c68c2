// Session page: follows /api/sessions/{id}/events (SSE; the browser resends Last-Event-ID
// on reconnect, so nothing is lost or doubled) and posts steering actions.
import { approvalCard } from "./approval.js";
import { el } from "./dom.js";

const root = document.querySelector("[data-session]");
const sid = root.dataset.session;
const $ = (id) => document.getElementById(id);
const log = $("log");
const cards = new Map();
let draft = null;
let iterations = 0;  // counted from the replayed stream (the page's number is the store's)

// Each node drawn from a stored event carries its seq (data-seq), so a reload can be
// checked against the store: every stored event drawn once, none missing.
let seq = null;
function add(node) {
  if (seq !== null) node.dataset.seq = seq;
  log.append(node);
  return node;
}

// POST to the session's API: {ok, out, detail} (detail: the error text when not ok).
async function send(path, body) {
  const r = await fetch(`/api/sessions/${sid}${path}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}),
  });
  const out = await r.json().catch(() => ({}));
  const detail = r.ok ? "" : (typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail ?? r.statusText));
  return { ok: r.ok, out, detail };
}

async function post(path, body) {
  const { out, detail } = await send(path, body);
  $("action-error").textContent = detail;
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
    const card = approvalCard(e, (body) => send(`/approvals/${encodeURIComponent(e.request_id)}`, body));
    $("approvals").append(card.box);
    card.focus();
  },
  approval_resolved: (e) => {
    const box = $(`approval-${e.request_id}`);
    const hadFocus = box?.contains(document.activeElement);
    box?.remove();
    if (hadFocus) $("message").focus();  // keep the keyboard user somewhere useful
    const card = cards.get(e.request_id);  // the request id is the tool call's id
    if (card && e.edited_arguments) {
      card.classList.add("edited");
      card.querySelector(".result").before(
        el("p", { class: "edited-note" }, "Edited by the user before approval; ran with:"),
        el("pre", { class: "args edited" }, JSON.stringify(e.edited_arguments, null, 2)));
    }
  },
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
