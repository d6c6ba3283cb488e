// The side panels: the tenant's sessions, the session's pending proposals,
// its inner state (tier usage of the last turn, breaker) and its audit trail.

import { clock, duration, el, setText } from "./dom.js";

export function renderSessions(list, sessions, onOpen, append = false) {
  if (!append) list.replaceChildren();
  if (!append && !sessions.length) {
    list.append(el("li", { class: "empty" }, "No sessions yet."));
    return;
  }
  for (const s of sessions) {
    const button = el(
      "button",
      { type: "button", class: "session-item", "data-session-id": s.session_id },
      el("span", { class: "session-name" }, `${s.agent} · ${s.subject}`),
      el("span", { class: `session-meta s-${s.status}` }, `${s.status} · ${clock(s.created_at)}`),
    );
    button.addEventListener("click", () => onOpen(s));
    list.append(el("li", {}, button));
  }
}

export function markCurrent(list, sessionId) {
  for (const button of list.querySelectorAll("button.session-item")) {
    if (button.dataset.sessionId === sessionId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

export function renderPending(list, cards, onShow) {
  list.replaceChildren();
  const pending = cards.filter((card) => card.pending);
  if (!pending.length) {
    list.append(el("li", { class: "empty" }, "Nothing waits for you."));
    return;
  }
  for (const card of pending) {
    const p = card.proposal;
    const show = el("button", { type: "button", class: "link", "aria-label": `Show the ${p.tool} card` }, "Show");
    show.addEventListener("click", () => onShow(card));
    list.append(
      el(
        "li",
        {},
        el("span", { class: `badge tier-${p.tier}` }, p.tier),
        " ",
        el("span", { class: "tool-name" }, p.tool),
        " ",
        el("span", { class: "preview" }, p.preview),
        " ",
        show,
      ),
    );
  }
}

/** The session's inner state; returns a ticker that keeps the breaker countdown live. */
export function renderState(box, session) {
  box.replaceChildren();
  if (!session) return () => {};
  const usage = session.usage || {};
  const breaker = el("dd", {}, session.breaker);
  const rows = [
    ["Session", session.session_id],
    ["Agent", session.agent],
    ["Subject", session.subject],
    ["Status", session.status],
    ["Last turn", Object.entries(usage).map(([tier, n]) => `${tier} ${n}`).join(" · ") || "none yet"],
  ];
  for (const [name, value] of rows) box.append(el("dt", {}, name), el("dd", {}, value));
  box.append(el("dt", {}, "Breaker"), breaker);
  const halfOpenAt = session.breaker_half_open_at;
  return (now) => {
    if (session.breaker === "open" && halfOpenAt) {
      const left = halfOpenAt - now;
      setText(breaker, left > 0 ? `open: half-open in ${duration(left)}` : "open: half-open now");
    }
  };
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

export function renderAudit(list, events) {
  list.replaceChildren();
  if (!events.length) {
    list.append(el("li", { class: "empty" }, "No events yet."));
    return;
  }
  for (const event of events) {
    list.append(
      el(
        "li",
        { class: `audit-${event.type}` },
        el("time", {}, clock(event.at)),
        " ",
        el("span", { class: "audit-type" }, event.type),
        " ",
        el("span", { class: "audit-detail" }, auditDetail(event)),
      ),
    );
  }
  list.scrollTop = list.scrollHeight; // the newest events in view
}
