// The turn inspector under each reply: a collapsible "Details" that shows the
// turn's steps as a timeline (GET /v1/sessions/{id}/turns/{n}, API.md "Agents
// and turns"): model calls with their tokens, tool calls with tier, arguments
// and result or error, proposals made or decided, breaker changes and the
// budget, each with its offset from the turn's start and its duration.
//
// The steps are fetched when the details are first opened, not before (a log
// of many turns costs nothing until someone looks): app.js's `openDetails`, into
// the state (store.js), which this view draws. A live turn knows only its
// message id: the turn list gives its number.

import { el } from "./dom.js";

function ms(value) {
  return `${Number(value || 0).toFixed(value >= 100 ? 0 : 1)} ms`;
}

function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function tiers(counts) {
  return Object.entries(counts || {})
    .map(([tier, n]) => `${tier} ${n}`)
    .join(", ");
}

/** One step as a list item: "+offset  what it was  (duration)", then its details. */
function stepNode(step, start) {
  const offset = el("span", { class: "offset" }, `+${ms((step.at - start) * 1000)}`);
  const line = [];
  const extra = [];
  if (step.kind === "model") {
    line.push(`model ${step.model}: ${step.status}`);
    if (step.status === "ok") {
      line.push(` · ${step.input_tokens} in / ${step.output_tokens} out tokens`);
      if (step.tool_calls) line.push(` · ${step.tool_calls} tool call(s)`);
    } else extra.push(["error", step.error]);
  } else if (step.kind === "tool") {
    line.push("tool ", el("span", { class: "tool-name" }, step.tool), " ");
    line.push(el("span", { class: `badge tier-${step.tier}` }, step.tier), " ");
    line.push(el("span", { class: `tool-status s-${step.status}` }, step.status));
    extra.push(["arguments", step.arguments]);
    if ("result" in step) extra.push(["result", step.result]);
    if ("error" in step) extra.push(["error", step.error]);
  } else if (step.kind === "proposal") {
    line.push(`proposal ${step.tool} (${step.tier}): ${step.decision} → `);
    line.push(el("span", { class: `s-${step.status}` }, step.status));
    if ("result" in step) extra.push(["result", step.result]);
  } else if (step.kind === "breaker") {
    line.push(`breaker ${step.from} → ${step.to}`);
  } else if (step.kind === "budget") {
    line.push(`budget used: ${tiers(step.used)}; left: ${tiers(step.left)}`);
  }
  const node = el(
    "li",
    { class: `step step-${step.kind}` },
    offset,
    " ",
    el("span", { class: "what" }, ...line),
    step.ms ? el("span", { class: "took" }, ` (${ms(step.ms)})`) : null,
  );
  if (extra.length) {
    node.append(
      el(
        "dl",
        { class: "step-data" },
        ...extra.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, el("code", {}, json(value)))]),
      ),
    );
  }
  return node;
}

export function timelineNode(turn) {
  const cut = turn.steps_cut ? el("p", { class: "cut" }, `${turn.steps_cut} more step(s) not kept`) : null;
  return el(
    "div",
    { class: "timeline-body" },
    el("p", { class: "turn-meta" }, `Turn ${turn.n} · ${ms(turn.ms)} · breaker ${turn.breaker}`),
    el(
      "ol",
      { class: "timeline", "aria-label": `Turn ${turn.n} steps` },
      ...turn.steps.map((s) => stepNode(s, turn.at)),
    ),
    cut,
  );
}

/**
 * A collapsed "Details" for one turn (`which`: {n} or {messageId}), drawn by
 * `render(entry)` from its state in store.js: nothing yet, `{loading}`, `{turn}`
 * (the timeline) or `{error}`. Opening it calls `actions.openDetails(key, which)`,
 * which loads the steps the first time (and again after an error).
 */
export class DetailsView {
  constructor(key, which, actions) {
    this.node = el("details", { class: "turn-details" }, el("summary", {}, "Details"));
    this.node.addEventListener("toggle", () => {
      if (this.node.open) actions.openDetails(key, which);
    });
    this.entry = undefined; // what is drawn
    this.body = null;
  }

  render(entry) {
    if (entry === this.entry) return;
    this.entry = entry;
    let body = null;
    if (entry?.loading) body = el("p", { class: "loading" }, "Loading…");
    else if (entry?.turn) body = timelineNode(entry.turn);
    else if (entry?.error) body = el("p", { class: "turn-error" }, `No details: ${entry.error}`);
    if (this.body) this.body.remove();
    this.body = body;
    if (body) this.node.append(body);
  }
}
