// The approval card of a pending action: what the agent wants to run, its estimated cost,
// and its arguments in an editable form. String arguments get their own field (a textarea
// for long ones such as a command or a script); the rest are edited together as JSON.
// "Approve" sends the arguments only when the user changed them. Edits not yet sent are
// kept in sessionStorage, so a reload does not lose them.
import { el } from "./dom.js";

const LONG_KEYS = new Set(["command", "script", "content", "code", "text", "body"]);
let cardCount = 0;  // ids for labels; request ids may hold characters unfit for ids

function isLong(key, value) {
  return LONG_KEYS.has(key) || value.length > 60 || value.includes("\n");
}

// Canonical JSON (sorted keys at every depth) to tell a real edit from a reformatting.
function canon(value) {
  if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canon(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function dollars(x) {
  return x > 0 && x < 0.01 ? "under $0.01" : `$${x.toFixed(2)}`;
}

// `submit(body)` posts the answer and resolves to {ok, detail}.
export function approvalCard(e, submit) {
  const prefix = `approval-field-${++cardCount}`;
  const args = e.arguments ?? {};
  const stringKeys = Object.keys(args).filter((k) => typeof args[k] === "string");
  const rest = Object.fromEntries(Object.entries(args).filter(([k]) => !stringKeys.includes(k)));
  const hasRest = Object.keys(rest).length > 0;

  const title = el("p", { id: `${prefix}-title` }, el("strong", {}, e.name), ` needs approval: ${e.reason || "this action needs approval"}`);
  const costText = e.cost_estimate_usd != null ? dollars(e.cost_estimate_usd) : "not known";
  const stale = el("span", { class: "muted", hidden: "" }, " (for the arguments as proposed)");
  const cost = el("p", { class: "cost" }, "Estimated cost: ", el("strong", {}, costText), stale);

  const form = el("form", { class: "approval-form", novalidate: "" });
  const fields = [];
  for (const key of stringKeys) {
    const id = `${prefix}-${fields.length}`;
    const long = isLong(key, args[key]);
    const field = long
      ? el("textarea", { id, rows: String(Math.min(12, Math.max(2, args[key].split("\n").length + 1))), spellcheck: "false" })
      : el("input", { id, type: "text", spellcheck: "false" });
    field.value = args[key];
    field.dataset.key = key;
    fields.push(field);
    form.append(el("label", { for: id }, key), field);
  }
  let json = null;
  if (hasRest) {
    const id = `${prefix}-json`;
    json = el("textarea", { id, class: "json", rows: String(Math.min(12, JSON.stringify(rest, null, 2).split("\n").length)), spellcheck: "false", "aria-describedby": `${id}-hint` });
    json.value = JSON.stringify(rest, null, 2);
    form.append(el("label", { for: id }, stringKeys.length ? "Other arguments (JSON)" : "Arguments (JSON)"), json,
      el("p", { id: `${id}-hint`, class: "hint muted" }, "A JSON object; the tool checks it when you approve."));
  }
  const error = el("p", { class: "error", role: "alert" });
  const yes = el("button", { type: "submit", class: "primary" }, "Approve");
  const no = el("button", { type: "button", class: "danger" }, "Reject");
  const reset = el("button", { type: "button", hidden: "" }, "Undo edits");
  form.append(error, el("div", { class: "row" }, yes, no, reset),
    el("p", { class: "hint muted" }, "Ctrl+Enter in a field approves."));

  const box = el("div", { class: "card approval", id: `approval-${e.request_id}`, role: "group", "aria-labelledby": `${prefix}-title` },
    title, cost, form);

  // The arguments as edited; throws with a message for the user when the JSON is bad.
  function collect() {
    const out = {};
    if (json) {
      let parsed;
      try { parsed = JSON.parse(json.value.trim() || "{}"); } catch (err) {
        throw new Error(`The JSON arguments are not valid JSON: ${err.message}`);
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("The JSON arguments must be an object ({ … }).");
      Object.assign(out, parsed);
    }
    for (const f of fields) out[f.dataset.key] = f.value;
    return out;
  }
  function changed() {
    try { return canon(collect()) !== canon(args); } catch { return true; }
  }
  function refresh() {
    const dirty = changed();
    yes.textContent = dirty ? "Approve with edits" : "Approve";
    stale.hidden = !dirty || e.cost_estimate_usd == null;
    reset.hidden = !dirty;
    box.classList.toggle("edited", dirty);
  }
  async function answer(body) {
    for (const b of [yes, no, reset]) b.disabled = true;
    const out = await submit(body);
    if (!out.ok) {  // on success the card goes when the loop reports the answer
      error.textContent = out.detail;
      for (const b of [yes, no, reset]) b.disabled = false;
    }
  }

  const draftKey = `openintern-approval-draft:${e.request_id}`;
  function restoreDraft() {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(draftKey) ?? "null"); } catch { saved = null; }
    if (!saved || typeof saved !== "object") return;
    for (const f of fields) if (typeof saved[f.dataset.key] === "string") f.value = saved[f.dataset.key];
    if (json) {
      const others = Object.fromEntries(Object.entries(saved).filter(([k]) => !stringKeys.includes(k)));
      json.value = JSON.stringify(others, null, 2);
    }
    refresh();
  }
  function saveDraft() {
    try {
      if (changed()) sessionStorage.setItem(draftKey, JSON.stringify(collect()));
      else sessionStorage.removeItem(draftKey);
    } catch { /* unparsable JSON is not saved; the field keeps it */ }
  }

  form.addEventListener("input", () => { error.textContent = ""; refresh(); saveDraft(); });
  form.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    if (ev.ctrlKey || ev.metaKey) { ev.preventDefault(); form.requestSubmit(); }
    // A plain Enter in a one-line field must not approve (and spend) by accident.
    else if (ev.target.tagName === "INPUT") ev.preventDefault();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let edited;
    try { edited = collect(); } catch (err) { error.textContent = err.message; (json ?? yes).focus(); return; }
    answer(canon(edited) === canon(args) ? { approved: true } : { approved: true, arguments: edited });
  });
  no.onclick = () => answer({ approved: false });
  reset.onclick = () => {
    for (const f of fields) f.value = args[f.dataset.key];
    if (json) json.value = JSON.stringify(rest, null, 2);
    error.textContent = "";
    refresh();
    saveDraft();
    yes.focus();
  };
  restoreDraft();
  return { box, focus: () => yes.focus(), forget: () => sessionStorage.removeItem(draftKey) };
}
