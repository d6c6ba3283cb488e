// The conversation log (the transcript view): messages, and one block per turn
// that fills in as the turn's events arrive (API.md, Messages: `token`,
// `tool_call`, `proposal`, then `done` or `error`).
//
// The view draws `state.log` (store.js, where the events are applied) with one
// `render(state)`: nodes are kept per item, so a reply's tokens append to its
// bubble as text nodes, a tool call's line changes in place from `started` to its
// end (the event's `reason` when it has one: unknown, invalid, exhausted,
// breaker_open; else its status: ok, error, timeout, proposed, blocked), and a
// typing indicator shows until the first token (or the end). Proposal cards
// (cards.js) and each turn's "Details" (inspector.js) are drawn in their places.
// The log follows new content; a card asked for (`state.reveal`) scrolls into view.

import { ProposalCard } from "./cards.js";
import { el, place, setText } from "./dom.js";
import { DetailsView } from "./inspector.js";

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

function setToolStatus(node, call) {
  setText(node.statusNode, shown(call));
  const name = `tool-status s-${call.status}`;
  if (node.statusNode.className !== name) node.statusNode.className = name;
}

/** Scroll a log so that its newest content shows. */
export function followLog(log) {
  log.scrollTop = log.scrollHeight;
}

function typingNode(agent) {
  return el(
    "p",
    { class: "typing", role: "status", "aria-label": `${agent} is typing` },
    `${agent} is typing`,
    el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
  );
}

/** One turn's block: draws a turn's state (store.js `newTurn`) with `render(turn)`. */
export class TurnBlock {
  constructor(agent) {
    this.agent = agent;
    this.node = el("div", { class: "turn" });
    this.drawn = new Map(); // item key -> {node, ...what it shows}
    this.typing = null;
  }

  /**
   * Draw `turn`; `part(item)` gives the node of a card or a "Details" (their own
   * views). Returns how much it shows (items, text pieces), to tell growth.
   */
  render(turn, part = () => null) {
    const nodes = [];
    const keys = new Set();
    let size = turn.typing ? 1 : 0;
    for (const item of turn.items) {
      keys.add(item.key);
      const node = item.kind === "card" || item.kind === "details" ? part(item) : this.own(item);
      if (node) nodes.push(node);
      size += 1 + (item.chunks ? item.chunks.length + item.gen : 0);
    }
    for (const key of this.drawn.keys()) if (!keys.has(key)) this.drawn.delete(key);
    if (turn.typing) {
      this.typing ??= typingNode(this.agent);
      nodes.push(this.typing);
    } else this.typing = null;
    place(this.node, nodes);
    return size;
  }

  own(item) {
    let drawn = this.drawn.get(item.key);
    if (!drawn) {
      drawn = this.make(item);
      this.drawn.set(item.key, drawn);
    }
    if (item.kind === "reply") {
      if (drawn.gen !== item.gen) {
        drawn.text.replaceChildren();
        drawn.count = 0;
        drawn.gen = item.gen;
      }
      for (const chunk of item.chunks.slice(drawn.count)) drawn.text.append(document.createTextNode(chunk));
      drawn.count = item.chunks.length;
    } else if (item.kind === "tool" && drawn.call !== item.call) {
      setToolStatus(drawn.node, item.call);
      drawn.call = item.call;
    }
    return drawn.node;
  }

  make(item) {
    if (item.kind === "reply") {
      const node = messageNode("assistant", this.agent, "");
      return { node, text: node.querySelector(".text"), count: 0, gen: item.gen };
    }
    if (item.kind === "tool") return { node: toolCallNode(item.call), call: item.call };
    const kind = item.kind === "transition" ? "transition" : "turn-error";
    return { node: el("p", { class: kind }, item.text) };
  }
}

/** The log of the open session: `render(state)` draws `state.log`. */
export class TranscriptView {
  /** actions: the cards' and the inspector's (cards.js, inspector.js). */
  constructor(log, actions) {
    this.log = log;
    this.actions = actions;
    this.drawn = new Map(); // log entry key -> {node, block}
    this.cards = new Map(); // proposal id -> ProposalCard
    this.details = new Map(); // details item key -> DetailsView
    this.size = 0;
    this.revealed = 0; // the last state.reveal drawn
  }

  render(state) {
    const used = new Set(); // the "Details" drawn
    const part = (item) => {
      if (item.kind === "card") return this.card(item.id, state);
      used.add(item.key);
      return this.detailsOf(item, state);
    };
    const keys = new Set();
    let size = 0;
    const nodes = [];
    for (const entry of state.log) {
      keys.add(entry.key);
      let drawn = this.drawn.get(entry.key);
      if (entry.kind === "card") {
        nodes.push(this.card(entry.id, state));
        size += 1;
        continue;
      }
      if (!drawn) {
        drawn =
          entry.kind === "turn"
            ? { block: new TurnBlock(entry.agent) }
            : { node: messageNode(entry.role, entry.who, entry.text) };
        if (drawn.block) drawn.node = drawn.block.node;
        this.drawn.set(entry.key, drawn);
      }
      size += drawn.block ? drawn.block.render(entry, part) : 1;
      nodes.push(drawn.node);
    }
    place(this.log, nodes);
    for (const key of this.drawn.keys()) if (!keys.has(key)) this.drawn.delete(key);
    for (const id of this.cards.keys()) if (!state.cards.has(id)) this.cards.delete(id);
    for (const key of this.details.keys()) if (!used.has(key)) this.details.delete(key);
    if (size !== this.size) {
      this.size = size;
      followLog(this.log); // new content goes at the end
    }
    this.reveal(state.reveal);
  }

  card(id, state) {
    const card = state.cards.get(id);
    let view = this.cards.get(id);
    if (!view) {
      view = new ProposalCard(card.proposal, this.actions);
      this.cards.set(id, view);
    }
    view.render(card, state.now);
    return view.node;
  }

  detailsOf(item, state) {
    let view = this.details.get(item.key);
    if (!view) {
      view = new DetailsView(item.key, item.which, this.actions);
      this.details.set(item.key, view);
    }
    view.render(state.details.get(item.key));
    return view.node;
  }

  reveal({ id, how, seq }) {
    if (seq === this.revealed) return;
    this.revealed = seq;
    const node = this.cards.get(id)?.node;
    if (!node) return;
    if (how === "center") {
      node.scrollIntoView({ block: "center" });
      node.classList.remove("flash");
      void node.offsetWidth; // restart the flash
      node.classList.add("flash");
    } else node.scrollIntoView?.({ block: "nearest" });
  }
}
