// Session page: follows /api/sessions/{id}/events (SSE; the browser resends Last-Event-ID
// on reconnect, so nothing is lost or doubled) and posts steering actions. Events are
// drawn in batches (one layout per batch), so a session of 10,000 events opens in well
// under a second; "replayed" marks the moment the page has caught up with the store.
import { approvalCard } from "./approval.js";
import { el } from "./dom.js";
import { ToolCard } from "./tool_card.js";

const root = document.querySelector("[data-session]");
const sid = root.dataset.session;
const $ = (id) => document.getElementById(id);
const log = $("log");
const cards = new Map();
const running = new Set();  // cards of calls not finished yet
const approvals = new Map();
let draft = null;
let iterations = 0;  // counted from the replayed stream (the page's number is the store's)
let userTurns = 0;
let replayed = false;
const state = { running: root.dataset.status === "running", live: root.dataset.live === "true", elsewhere: root.dataset.elsewhere === "true" };

// Each node drawn from a stored event carries its seq (data-seq), so a reload can be
// checked against the store: every stored event drawn once, none missing. Nodes are made
// when shown: during the replay, `add` only records how to make them.
let seq = null;
let out = null;  // the fragment a batch is drawn into
const pending = [];  // replayed items not made yet: {seq, make}
function materialize(item) {
  const node = item.make();
  if (item.seq !== null) node.dataset.seq = item.seq;
  return node;
}
function add(make) {
  const item = { seq, make };
  if (!replayed) pending.push(item);
  else (out ?? log).append(materialize(item));
}

// POST to the session's API: {ok, out, detail} (detail: the error text when not ok).
async function send(path, body) {
  const r = await fetch(`/api/sessions/${sid}${path}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}),
  });
  const answer = await r.json().catch(() => ({}));
  const detail = r.ok ? "" : (typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail ?? r.statusText));
  return { ok: r.ok, out: answer, detail };
}

async function post(path, body) {
  const { out: answer, detail } = await send(path, body);
  $("action-error").textContent = detail;
  return answer;
}

function setPlan(items) {
  $("plan").replaceChildren(...items.map((i) => el("li", { class: `plan-${i.status}` }, `${i.text} `, el("span", { class: "badge" }, i.status))));
}

// Buttons only when they can do something: Interrupt while this server runs a turn, Undo
// between turns once there is one, nothing while another process runs the session.
function updateControls() {
  const busyHere = state.running && !state.elsewhere;
  $("interrupt").disabled = !(replayed && busyHere);
  $("interrupt").title = busyHere ? "Stop the running turn" : "Nothing is running";
  $("undo").disabled = !(replayed && !state.running && userTurns > 0);
  $("send").disabled = !replayed || state.elsewhere;
  $("message").disabled = state.elsewhere;
  $("elsewhere-note").hidden = !state.elsewhere;
  $("control-hint").textContent = state.elsewhere ? "running in another process"
    : busyHere ? "a message now is queued for after this turn" : "";
}

async function refreshState() {
  const r = await fetch(`/api/sessions/${sid}?messages=false`);
  if (!r.ok) return;
  const info = await r.json();
  state.live = info.live;
  state.elsewhere = info.elsewhere;
  if (!state.elsewhere && !info.live && info.status !== "running") state.running = false;
  setPlan(info.plan);
  updateControls();
}

// --- the runs of this session, updated in place by job/experiment events ---------------
const runRows = new Map();
let runsTimer = null;
function fmtValue(v) { return v === null || v === undefined ? "" : Number(v.toPrecision(4)).toString(); }
async function loadRuns() {
  const r = await fetch(`/api/experiments?session=${encodeURIComponent(sid)}`);
  if (!r.ok) return;
  const rows = await r.json();
  const body = $("runs").tBodies[0];
  for (const x of rows) {
    let row = runRows.get(x.id);
    if (!row) {
      row = el("tr", { "data-exp": x.id }, el("td", {}, el("a", { href: `/experiments/${x.id}`, title: x.title }, x.label)), el("td"), el("td"));
      runRows.set(x.id, row);
      body.append(row);
    }
    row.cells[1].replaceChildren(el("span", { class: `status status-${x.status}` }, x.status));
    row.cells[2].textContent = x.primary_metric && x.metric_value !== null ? `${x.primary_metric} ${fmtValue(x.metric_value)}` : "";
  }
  $("runs-empty").hidden = rows.length > 0;
}
function runsChanged() {
  clearTimeout(runsTimer);
  runsTimer = setTimeout(loadRuns, 300);  // one fetch for a burst of updates
}

function approvalBy(by) {
  return { WebApprover: "you", user: "you", AutoApprover: "auto-approve", "compute budget": "the compute budget" }[by] ?? by;
}

// What the meta line and plan show: kept here while a batch is drawn, written once after.
const meta = { status: null, cost: null, iterations: null, plan: null };
function showMeta() {
  if (meta.status !== null) $("status").textContent = meta.status;
  if (meta.cost !== null) $("cost").textContent = `$${meta.cost.toFixed(4)}`;
  if (meta.iterations !== null) $("iterations").textContent = meta.iterations;
  if (meta.plan !== null) setPlan(meta.plan);
  meta.status = meta.cost = meta.iterations = meta.plan = null;
}

const handlers = {
  user_message: (e) => { userTurns += 1; add(() => el("div", { class: "msg user" }, e.text)); },
  assistant_delta: (e) => {
    if (!draft) { draft = el("div", { class: "msg assistant draft" }); (out ?? log).append(draft); }
    draft.textContent += e.text;
  },
  assistant_message: (e) => {
    if (draft) { draft.remove(); draft = null; }
    if (e.text) add(() => el("div", { class: "msg assistant" }, e.text));
    meta.iterations = ++iterations;
  },
  tool_call_started: (e) => {
    const card = new ToolCard(e, sid);
    cards.set(e.call_id, card);
    running.add(card);
    add(() => card.element());
  },
  tool_output: (e) => cards.get(e.call_id)?.output(e.text, e.truncated),
  tool_call_finished: (e) => {
    const card = cards.get(e.call_id);
    running.delete(card);
    card?.finish(e);
  },
  approval_requested: (e) => {
    const card = approvalCard(e, (body) => send(`/approvals/${encodeURIComponent(e.request_id)}`, body));
    approvals.set(e.request_id, card);
    $("approvals").append(card.box);
    if (replayed) card.focus();
  },
  approval_resolved: (e) => {
    const pending = approvals.get(e.request_id);
    approvals.delete(e.request_id);
    const box = $(`approval-${e.request_id}`);
    const hadFocus = box?.contains(document.activeElement);
    box?.remove();
    pending?.forget();
    if (hadFocus) $("message").focus();  // keep the keyboard user somewhere useful
    cards.get(e.request_id)?.approval({ ...e, by: approvalBy(e.by) });  // request id = call id
  },
  plan_updated: (e) => { meta.plan = e.items; },
  note_saved: (e) => { $("notes-empty")?.remove(); $("notes").append(el("li", {}, e.text)); },
  model_call: (e) => { meta.cost = e.total_cost_usd; },
  job_update: runsChanged,
  experiment_update: runsChanged,
  error: (e) => add(() => el("div", { class: "msg error", role: "alert" }, e.message)),
  session_started: () => {
    state.running = true;
    meta.status = "running";
    if (replayed) refreshState();
    updateControls();
  },
  turn_complete: (e) => {
    // An interrupted turn leaves requests and running cards without an answer.
    $("approvals").replaceChildren();
    approvals.clear();
    for (const card of running) card.abandon(e.reason);
    running.clear();
    state.running = false;
    state.elsewhere = false;
    meta.status = e.reason === "finished" ? "idle" : e.reason;
    meta.cost = e.total_cost_usd;
    add(() => el("p", { class: "turn-end" }, `Turn ended: ${e.reason} after ${e.iterations} iterations`));
    updateControls();
  },
};

// --- the stream, drawn in batches -------------------------------------------------------
// A long replay shows its last WINDOW items; earlier ones wait behind a button (laying
// out thousands of cards is what would make a long session slow to open).
const WINDOW = 300;
const SHOW_MORE = 500;
let earlier = [];
const more = el("button", { type: "button", id: "show-earlier", class: "show-earlier", hidden: "" });
log.before(more);
function labelMore() {
  more.hidden = earlier.length === 0;
  more.textContent = `Show ${Math.min(SHOW_MORE, earlier.length).toLocaleString()} earlier items (${earlier.length.toLocaleString()} hidden)`;
}
more.addEventListener("click", () => {
  const shown = earlier.splice(Math.max(0, earlier.length - SHOW_MORE));
  log.prepend(...shown.map(materialize));
  labelMore();
});

const queue = [];
let scheduled = false;
function drain() {
  scheduled = false;
  out = document.createDocumentFragment();
  for (const e of queue.splice(0)) {
    seq = e.seq ?? null;  // deltas are not stored and have none
    try { handlers[e.type]?.(e); } catch (err) { console.warn("could not draw", e.type, err); }
    if (seq !== null) root.dataset.lastSeq = seq;
  }
  const drawn = out;
  out = null;
  showMeta();
  if (!replayed) {  // the replay: make the last WINDOW items, keep the rest for later
    const items = pending.splice(0);
    earlier = items.slice(0, Math.max(0, items.length - WINDOW));
    drawn.append(...items.slice(earlier.length).map(materialize));
    labelMore();
  }
  const follow = replayed && window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  log.append(drawn);
  if (follow) log.lastElementChild?.scrollIntoView({ block: "nearest" });
}

$("iterations").textContent = "0";
meta.iterations = 0;
const source = new EventSource(`/api/sessions/${sid}/events`);
source.onmessage = (m) => {
  queue.push(JSON.parse(m.data));
  // The replay is drawn in one go when it ends; live events once per frame.
  if (replayed && !scheduled) { scheduled = true; requestAnimationFrame(drain); }
};
source.addEventListener("batch", (m) => {  // many stored events in one message
  for (const e of JSON.parse(m.data)) queue.push(e);
  if (replayed && !scheduled) { scheduled = true; requestAnimationFrame(drain); }
});
source.addEventListener("replayed", () => {
  drain();
  if (replayed) return;  // a reconnect replays only what was missed
  replayed = true;
  $("loading").remove();
  root.dataset.replayed = "true";
  root.dataset.readyMs = String(Math.round(performance.now()));
  // Interactive: the caught-up page painted and the main thread free again (benchmark).
  requestAnimationFrame(() => setTimeout(() => { root.dataset.interactiveMs = String(Math.round(performance.now())); }, 0));
  const last = log.lastElementChild;
  if (last) last.scrollIntoView({ block: "nearest" });
  for (const card of approvals.values()) { card.focus(); break; }
  updateControls();
  refreshState();
});

$("message-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (!text) return;
  const answer = await post("/messages", { text });
  if (answer.status) $("message").value = "";
  if (answer.status === "queued") log.append(el("p", { class: "turn-end" }, "Message queued for after this turn."));
});
$("interrupt").onclick = () => post("/interrupt");
$("undo").onclick = async () => { const answer = await post("/undo"); if (answer.removed != null) location.reload(); };
$("budget-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const answer = await post("/budget", { budget_usd: Number($("budget-input").value) });
  if (answer.budget_usd != null) $("budget").textContent = `$${answer.budget_usd.toFixed(2)}`;
});
updateControls();
loadRuns();
