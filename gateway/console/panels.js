// The side panels, each a view drawn by `render(state)` (store.js): the tenant's
// sessions, the open session's pending proposals, its inner state (tier usage of
// the last turn, breaker) and its audit trail, the inbox of what the caller may
// approve across sessions, and the keys (owners). Their buttons call `actions`
// (app.js), which change the state; nothing here changes the page but `render`.

import { clock, duration, el, place, setText, show } from "./dom.js";

/** Nodes kept per key: `make(item)` once, then `update(node, item)` on each render. */
class Keyed {
  constructor(make, update) {
    this.make = make;
    this.update = update;
    this.nodes = new Map();
  }

  draw(items, keyOf) {
    const keys = new Set();
    const nodes = items.map((item) => {
      const key = keyOf(item);
      keys.add(key);
      let node = this.nodes.get(key);
      if (!node) {
        node = this.make(item);
        this.nodes.set(key, node);
      }
      this.update(node, item);
      return node;
    });
    for (const key of this.nodes.keys()) if (!keys.has(key)) this.nodes.delete(key);
    return nodes;
  }
}

function emptyItem(text) {
  return el("li", { class: "empty" }, text);
}

export class SessionsView {
  constructor(list, more, actions) {
    this.list = list;
    this.more = more;
    this.shown = null;
    this.current = undefined;
    this.empty = emptyItem("No sessions yet.");
    this.items = new Keyed(
      (s) => {
        const name = el("span", { class: "session-name" });
        const meta = el("span", { class: "session-meta" });
        const button = el(
          "button",
          { type: "button", class: "session-item", "data-session-id": s.session_id },
          name,
          meta,
        );
        button.addEventListener("click", () => actions.openSession(s.session_id));
        const node = el("li", {}, button);
        Object.assign(node, { button, name, meta });
        return node;
      },
      (node, s) => {
        setText(node.name, `${s.agent} · ${s.subject}`);
        setText(node.meta, `${s.status} · ${clock(s.created_at)}`);
        node.meta.className = `session-meta s-${s.status}`;
      },
    );
  }

  render(state) {
    const current = state.session?.session_id;
    if (state.sessions === this.shown && current === this.current) return;
    this.shown = state.sessions;
    this.current = current;
    const { items, next } = state.sessions;
    const nodes = this.items.draw(items, (s) => s.session_id);
    place(this.list, nodes.length ? nodes : [this.empty]);
    for (const node of nodes) {
      if (node.button.dataset.sessionId === current) node.button.setAttribute("aria-current", "true");
      else node.button.removeAttribute("aria-current");
    }
    show(this.more, Boolean(next));
  }
}

export class PendingView {
  constructor(list, actions) {
    this.list = list;
    this.empty = emptyItem("Nothing waits for you.");
    this.items = new Keyed(
      (p) => {
        const label = `Show the ${p.tool} card`;
        const showButton = el("button", { type: "button", class: "link", "aria-label": label }, "Show");
        showButton.addEventListener("click", () => actions.show(p.proposal_id));
        return el(
          "li",
          {},
          el("span", { class: `badge tier-${p.tier}` }, p.tier),
          " ",
          el("span", { class: "tool-name" }, p.tool),
          " ",
          el("span", { class: "preview" }, p.preview),
          " ",
          showButton,
        );
      },
      () => {},
    );
  }

  render(state) {
    const pending = [...state.cards.values()].map((c) => c.proposal).filter((p) => p.status === "PENDING");
    const nodes = this.items.draw(pending, (p) => p.proposal_id);
    place(this.list, nodes.length ? nodes : [this.empty]);
  }
}

/** The open session's inner state; the breaker's countdown follows the clock. */
export class StateView {
  constructor(box) {
    this.box = box;
    this.shown = undefined;
    this.breaker = null;
  }

  render(state) {
    const session = state.session;
    if (session !== this.shown) {
      this.shown = session;
      this.box.replaceChildren();
      this.breaker = null;
      if (session) {
        const usage = session.usage || {};
        const rows = [
          ["Session", session.session_id],
          ["Agent", session.agent],
          ["Subject", session.subject],
          ["Status", session.status],
          [
            "Last turn",
            Object.entries(usage)
              .map(([tier, n]) => `${tier} ${n}`)
              .join(" · ") || "none yet",
          ],
        ];
        for (const [name, value] of rows) this.box.append(el("dt", {}, name), el("dd", {}, value));
        this.breaker = el("dd", {});
        this.box.append(el("dt", {}, "Breaker"), this.breaker);
      }
    }
    if (!this.breaker) return;
    const halfOpenAt = session.breaker_half_open_at;
    let text = session.breaker;
    if (session.breaker === "open" && halfOpenAt) {
      const left = halfOpenAt - state.now;
      text = left > 0 ? `open: half-open in ${duration(left)}` : "open: half-open now";
    }
    setText(this.breaker, text);
  }
}

function auditDetail(event) {
  switch (event.type) {
    case "message":
      return `${event.role ?? ""} message${event.chars !== undefined ? `, ${event.chars} chars` : ""}`;
    case "tool_call":
      return `${event.tool} ${event.tier} ${event.status}`;
    case "proposal":
      return `${event.tool ?? event.proposal_id} ${event.from ?? "new"} → ${event.to}`;
    case "breaker":
      return `breaker ${event.from} → ${event.to}`;
    default:
      return JSON.stringify(event);
  }
}

export class AuditView {
  constructor(list) {
    this.list = list;
    this.shown = null;
  }

  render(state) {
    if (state.audit === this.shown) return;
    this.shown = state.audit;
    const events = state.audit;
    this.list.replaceChildren(
      ...(events.length ? events : [null]).map((event) =>
        event
          ? el(
              "li",
              { class: `audit-${event.type}` },
              el("time", {}, clock(event.at)),
              " ",
              el("span", { class: "audit-type" }, event.type),
              " ",
              el("span", { class: "audit-detail" }, auditDetail(event)),
            )
          : emptyItem("No events yet."),
      ),
    );
    this.list.scrollTop = this.list.scrollHeight; // the newest events in view
  }
}

/** Pending proposals of every session that the caller may approve (the server's list). */
export class InboxView {
  constructor(list, actions) {
    this.list = list;
    this.shown = null;
    this.empty = emptyItem("Nothing to approve.");
    this.items = new Keyed(
      (p) => {
        const approve = el("button", { type: "button", class: "primary" }, "Approve");
        const reject = el("button", { type: "button" }, "Reject");
        const open = el("button", { type: "button" }, "Go to session");
        approve.addEventListener("click", () => actions.inboxDecide(p.proposal_id, "confirm"));
        reject.addEventListener("click", () => actions.inboxDecide(p.proposal_id, "reject"));
        open.addEventListener("click", () => actions.openSession(p.session_id));
        const approvals = el("p", { class: "approvals" });
        const note = el("p", { class: "note" });
        const node = el(
          "li",
          { "data-proposal-id": p.proposal_id },
          el("strong", {}, `${p.tool} `),
          el("span", { class: `badge tier-${p.tier}` }, p.tier),
          el("p", { class: "preview" }, p.preview),
          approvals,
          el("div", { class: "actions" }, approve, reject, open),
          note,
        );
        return Object.assign(node, { approve, reject, approvals, note });
      },
      (node, p) => setText(node.approvals, p.approval_text ?? ""),
    );
  }

  render(state) {
    const inbox = state.inbox;
    if (inbox === this.shown) return;
    this.shown = inbox;
    const nodes = this.items.draw(inbox.items, (p) => p.proposal_id);
    for (const node of nodes) {
      const id = node.dataset.proposalId;
      setText(node.note, inbox.notes.get(id) ?? "");
      node.approve.disabled = node.reject.disabled = inbox.deciding.has(id);
    }
    place(this.list, nodes.length ? nodes : [this.empty]);
  }
}

export class KeysView {
  constructor(list, made, actions) {
    this.list = list;
    this.made = made;
    this.shown = null;
    this.items = new Keyed(
      (k) => {
        const revoke = el("button", { type: "button" }, "Revoke");
        const rotate = el("button", { type: "button" }, "Rotate");
        revoke.addEventListener("click", () => actions.revokeKey(k.key_id));
        rotate.addEventListener("click", () => actions.rotateKey(k.key_id));
        const used = el("span");
        const node = el(
          "li",
          { "data-key-id": k.key_id },
          el("strong", {}, k.name),
          used,
          el("div", { class: "actions" }, rotate, revoke),
        );
        return Object.assign(node, { used });
      },
      (node, k) => {
        const used = k.last_used_at ? `last used ${new Date(k.last_used_at * 1000).toLocaleString()}` : "never used";
        setText(node.used, ` (${k.role}), ${used}`);
      },
    );
  }

  render(state) {
    const keys = state.keys;
    if (keys === this.shown) return;
    this.shown = keys;
    place(
      this.list,
      this.items.draw(keys.items, (k) => k.key_id),
    );
    const made = keys.made;
    setText(this.made, made ? `New key for ${made.name} (${made.role}), shown once: ${made.key}` : "");
    show(this.made, Boolean(made));
  }
}
