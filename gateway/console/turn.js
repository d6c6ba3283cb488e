// The conversation log: messages, and one block per turn that fills in as
// the turn's events arrive (API.md, Messages: `token`, `tool_call`,
// `proposal`, then `done` or `error`).
//
// Tokens append to the turn's current reply bubble as text nodes; a tool
// call shows inline with its tier, first as `started` (a tool that runs),
// then updated in place by its end: the event's `reason` when it has one
// (unknown, invalid, exhausted, breaker_open: the detail the JSON body's
// tool_calls give), else its status (ok, error, timeout, proposed, blocked).
// `done` carries the whole turn: whatever the stream did not show (a gateway
// that sends no tokens, a reply that differs from the tokens) is reconciled
// from it. Until the first token (or the end) a typing indicator says that a
// reply is coming, and the log follows the newest content.

import { el, setText } from "./dom.js";

export function messageNode(role, who, text) {
  return el(
    "div",
    { class: `msg ${role === "user" ? "user" : "assistant"}` },
    el("p", { class: "who" }, who),
    el("p", { class: "text" }, text),
  );
}

/** What a call's line says: the detail when the event has one. */
function shown(call) {
  return call.reason || call.status;
}

export function toolCallNode(call) {
  const status = el("span", { class: `tool-status s-${call.status}` }, shown(call));
  const node = el(
    "p",
    { class: "toolcall" },
    "Tool ",
    el("span", { class: "tool-name" }, call.tool),
    " ",
    el("span", { class: `badge tier-${call.tier}` }, call.tier),
    " ",
    status,
  );
  node.statusNode = status;
  return node;
}

export function setToolStatus(node, call) {
  setText(node.statusNode, shown(call));
  node.statusNode.className = `tool-status s-${call.status}`;
}

/** Scroll a log so that its newest content shows. */
export function followLog(log) {
  log.scrollTop = log.scrollHeight;
}

export class TurnView {
  constructor(log, agentName) {
    this.log = log;
    this.agent = agentName;
    this.node = el("div", { class: "turn" });
    this.typing = el(
      "p",
      { class: "typing", role: "status", "aria-label": `${agentName} is typing` },
      `${agentName} is typing`,
      el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
    );
    this.node.append(this.typing);
    log.append(this.node);
    followLog(log);
    this.bubbles = [];
    this.streamed = "";
    this.started = new Map(); // tool -> its lines still `started`, oldest first
    this.sawToolCalls = false;
    this.finished = false;
  }

  /** New content goes above the typing indicator while it shows. */
  append(node) {
    if (this.typing) this.node.insertBefore(node, this.typing);
    else this.node.append(node);
    followLog(this.log);
  }

  stopTyping() {
    this.typing?.remove();
    this.typing = null;
  }

  token(text) {
    this.stopTyping();
    const last = this.node.lastElementChild;
    let bubble = this.bubbles.at(-1);
    if (!bubble || last !== bubble.node) {
      const node = messageNode("assistant", this.agent, "");
      bubble = { node, text: node.querySelector(".text") };
      this.bubbles.push(bubble);
      this.append(node);
    }
    bubble.text.append(document.createTextNode(text));
    this.streamed += text;
    followLog(this.log);
  }

  toolCall(call) {
    this.sawToolCalls = true;
    const waiting = this.started.get(call.tool) || [];
    if (call.status !== "started" && waiting.length) {
      setToolStatus(waiting.shift(), call);
      return;
    }
    const node = toolCallNode(call);
    if (call.status === "started") this.started.set(call.tool, [...waiting, node]);
    this.append(node);
  }

  /** A line saying what this turn did to a proposal shown further up. */
  transition(proposal) {
    this.append(el("p", { class: "transition" }, `${proposal.tool} is now ${proposal.status}`));
  }

  done(turn) {
    this.stopTyping();
    this.finished = true;
    const reply = String(turn.reply ?? "");
    if (this.streamed !== reply) this.reconcile(reply);
    if (!this.sawToolCalls) for (const call of turn.tool_calls || []) this.toolCall(call);
  }

  reconcile(reply) {
    if (!this.bubbles.length) {
      if (!reply) return;
      const node = messageNode("assistant", this.agent, reply);
      this.bubbles.push({ node, text: node.querySelector(".text") });
      this.node.prepend(node);
    } else if (reply.startsWith(this.streamed)) {
      this.bubbles.at(-1).text.append(document.createTextNode(reply.slice(this.streamed.length)));
    } else {
      const [first, ...rest] = this.bubbles;
      setText(first.text, reply);
      for (const bubble of rest) bubble.node.remove();
      this.bubbles = [first];
    }
    this.streamed = reply;
    followLog(this.log);
  }

  error(message) {
    this.stopTyping();
    this.finished = true;
    this.append(el("p", { class: "turn-error" }, message));
  }
}
