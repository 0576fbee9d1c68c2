// A tool call as a readable card: the terminal's one-line summary when collapsed; when
// opened, its arguments as a compact key/value list (nulls and empty values left out),
// commands and scripts as code blocks, the output streamed live while it runs (bounded,
// with a link to the full log), then the result. Nothing is built before it is needed:
// the card's element when it is shown, its body when it is opened, so a session with
// thousands of calls opens fast.
import { el } from "./dom.js";

const CODE_KEYS = new Set(["command", "script", "code", "content", "patch", "query"]);
const LIVE_MAX_CHARS = 200_000;  // the card keeps the end of a long output

function empty(v) {
  return v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)
    || (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length);
}

function compact(v) {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.join(", ");
  return JSON.stringify(v);
}

// The arguments as nodes: code blocks for commands/scripts, a <dl> for the rest.
export function argumentNodes(args) {
  if (typeof args === "string") return [el("pre", { class: "args raw" }, args)];
  const nodes = [];
  const list = el("dl", { class: "kv args" });
  for (const [key, value] of Object.entries(args ?? {})) {
    if (empty(value)) continue;
    if (typeof value === "string" && (CODE_KEYS.has(key) || value.includes("\n"))) {
      nodes.push(el("div", { class: "code-arg" }, el("span", { class: "key" }, key),
        el("pre", { class: "code" }, el("code", {}, value))));
    } else {
      list.append(el("dt", {}, key), el("dd", {}, compact(value)));
    }
  }
  if (list.childElementCount) nodes.unshift(list);
  return nodes;
}

export class ToolCard {
  constructor(e, sid) {
    this.e = e;
    this.callId = e.call_id;
    this.sid = sid;
    this.live = "";
    this.liveCut = false;
    this.result = null;
    this.outcome = "running";  // "running", "ok" or "failed"
    this.stateText = "running…";
    this.approvals = [];
    this.edited = null;
    this.node = null;
    this.built = false;
  }

  // The card's element (made on first use).
  element() {
    if (this.node) return this.node;
    const e = this.e;
    this.state = el("span", { class: "dur" }, this.stateText);
    this.badges = el("span", { class: "badges" });
    const line = e.summary ? el("span", { class: "line" }, e.summary) : "";
    this.node = el("details", { class: `tool ${this.outcome}` },
      el("summary", {}, el("strong", {}, e.name), " ", line, " ", this.state, this.badges));
    this.node.dataset.call = e.call_id;
    this.node.addEventListener("toggle", () => { if (this.node.open) this.build(); });
    for (const a of this.approvals) this.drawApproval(a);
    if (this.live && this.outcome === "running") { this.node.open = true; this.build(); }
    return this.node;
  }

  build() {
    if (this.built) return;
    this.built = true;
    this.liveBox = el("pre", { class: "live", hidden: "" });
    this.fullLink = el("a", { href: `/api/sessions/${this.sid}/calls/${encodeURIComponent(this.callId)}/output.txt`, class: "full-log", hidden: "" }, "full log");
    this.resultBox = el("pre", { class: "result" }, this.result ?? "running…");
    const notes = this.edited ? this.editedNote() : [];
    this.node.append(...argumentNodes(this.e.arguments), ...notes, this.liveBox, this.fullLink, this.resultBox);
    this.showLive();
  }

  output(text, truncated) {
    this.live += text;
    if (this.live.length > LIVE_MAX_CHARS) {
      this.live = this.live.slice(-LIVE_MAX_CHARS);
      this.liveCut = true;
    }
    if (truncated) this.liveCut = true;
    if (!this.node) return;
    if (!this.node.open && this.outcome === "running") { this.node.open = true; this.build(); }
    this.showLive();
  }

  showLive() {
    if (!this.built || !this.live) return;
    const box = this.liveBox;
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.hidden = false;
    box.textContent = (this.liveCut ? "[… earlier output in the full log]\n" : "") + this.live;
    this.fullLink.hidden = false;
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  setOutcome(outcome, text, result) {
    this.outcome = outcome;
    this.stateText = text;
    this.result = result;
    if (!this.node) return;
    this.node.classList.remove("running");
    this.node.classList.add(outcome);
    this.state.textContent = text;
    if (this.built) this.resultBox.textContent = result;
  }

  finish(e) {
    // With live output shown, the result's first line (exit code, time) is what is new.
    this.setOutcome(e.ok ? "ok" : "failed", `${e.ok ? "✓" : "✗"} ${e.duration_s.toFixed(2)} s`,
      this.live ? e.preview.split("\n")[0] : e.preview);
  }

  abandon(reason) {
    if (this.outcome === "running") this.setOutcome("failed", `✗ ${reason}`, `not finished: the turn ended (${reason})`);
  }

  approval(e) {
    this.approvals.push(e);
    if (e.edited_arguments) this.edited = e.edited_arguments;
    if (this.node) this.drawApproval(e);
  }

  drawApproval(e) {
    this.badges.append(" ", el("span", { class: `badge ${e.approved ? "approved" : "rejected"}` },
      e.approved ? `approved by ${e.by}` : `rejected by ${e.by}`));
    if (!e.edited_arguments) return;
    this.node.classList.add("edited");
    this.badges.append(" ", el("span", { class: "badge edited" }, "edited"));
    if (this.built) this.resultBox.before(...this.editedNote());
  }

  editedNote() {
    return [el("p", { class: "edited-note" }, "Edited by the user before approval; ran with:"),
      el("pre", { class: "args edited" }, JSON.stringify(this.edited, null, 2))];
  }
}
