// The Orchestra console: chat with an agent and approve its actions.
//
// Everything goes through the public HTTP API (API.md) with the tenant key:
// GET /v1/agents fills the Agent select, POST /v1/sessions opens a subject's
// session, a message streams back as server-sent events, proposals become
// cards (cards.js), and the side panels show the session list, the pending
// proposals, the session's usage and breaker, and its audit trail. The
// header says whether the gateway answers: when it does not, "Disconnected -
// retrying" until a heartbeat (GET /healthz) gets through again. Under each
// reply, "Details" opens the turn inspector's timeline (inspector.js).
//
// Who is connected decides the layout (GET /v1/me): an owner or staff key sees
// every session and an Inbox of what it may approve across sessions (owners
// also the Keys panel); an end user's session token sees its one session, with
// no session list and no agent picker.

import { Api, ApiError, forgetKey, newId, saveKey, takeKey } from "./api.js";
import { ProposalCard, approvalText } from "./cards.js";
import { el, setText } from "./dom.js";
import { detailsNode } from "./inspector.js";
import { markCurrent, renderAudit, renderPending, renderSessions, renderState } from "./panels.js";
import { TurnView, followLog, messageNode, toolCallNode } from "./turn.js";

const POLL_MS = 2000; // proposal refresh while PENDING cards exist
const HEARTBEAT_MS = 3000; // is the gateway there? (and how soon a return shows)
const connected = () => `Connected as ${app.me?.principal ?? "?"} (${app.me?.role ?? "?"}).`;
const DISCONNECTED = "Disconnected - retrying";
const $ = (id) => document.getElementById(id);

const ui = {
  alert: $("alert"),
  keybox: $("keybox"),
  keyform: $("keyform"),
  key: $("key"),
  console: $("console"),
  forget: $("forget"),
  who: $("who"),
  openForm: $("open-form"),
  agent: $("agent"),
  subject: $("subject"),
  sessionLine: $("session-line"),
  closeSession: $("close-session"),
  log: $("log"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
  sessions: $("session-list"),
  moreSessions: $("more-sessions"),
  pending: $("pending"),
  state: $("state"),
  audit: $("audit"),
  sessionsNav: $("sessions-nav"),
  inboxPanel: $("inbox-panel"),
  inbox: $("inbox"),
  keysPanel: $("keys-panel"),
  keyForm: $("key-form"),
  keyName: $("key-name"),
  keyRole: $("key-role"),
  newKey: $("new-key"),
  keys: $("keys"),
};

const app = {
  api: null,
  session: null,
  cards: new Map(),
  busy: false,
  nextCursor: null,
  stateTick: () => {},
  lastPoll: 0,
  me: null,
  lastInbox: 0,
  reachable: true,
};

// -- errors and the key -------------------------------------------------------------

function showError(message) {
  setText(ui.alert, message);
  ui.alert.hidden = false;
}

function clearError() {
  setText(ui.alert, "");
  ui.alert.hidden = true;
}

function report(err, what) {
  if (err.status === 401) return; // unauthorized() said it already
  if (err.status === 0) return; // the header says "Disconnected - retrying"
  const retry = err.status === 429 || err.status === 503 ? " Retry in a moment." : "";
  showError(`Could not ${what}: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}.${retry}`);
}

function unauthorized(err) {
  forgetKey();
  app.api = null;
  ui.console.hidden = true;
  ui.forget.hidden = true;
  setText(ui.who, "");
  ui.keybox.hidden = false;
  showError(`The API key was not accepted (401: ${err.message}). Enter a valid tenant API key.`);
  ui.key.focus();
}

/** The header's connection state; on a return, what was missed is fetched again. */
function setOnline(online) {
  if (online === app.reachable) return;
  app.reachable = online;
  if (!app.api) return;
  setText(ui.who, online ? connected() : DISCONNECTED);
  ui.who.dataset.state = online ? "connected" : "disconnected";
  ui.send.disabled = !online || app.busy || app.session?.status !== "active";
  if (online) {
    clearError();
    loadSessions();
    refreshProposals();
    refreshSide();
  }
}

async function heartbeat() {
  if (!app.api) return;
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    setOnline(response.ok);
  } catch {
    setOnline(false);
  }
}

async function connect(key) {
  app.api = new Api(key, unauthorized, () => setOnline(false));
  app.reachable = true;
  let agents;
  try {
    app.me = await app.api.get("/v1/me");
    if (app.me.role === "subject") return connectToken();
    agents = (await app.api.get("/v1/agents")).agents;
  } catch (err) {
    report(err, "reach the API");
    if (err.status !== 401) ui.keybox.hidden = false;
    return;
  }
  clearError();
  ui.keybox.hidden = true;
  ui.console.hidden = false;
  ui.forget.hidden = false;
  setText(ui.who, connected());
  ui.who.dataset.state = "connected";
  ui.agent.replaceChildren(...agents.map((a) => el("option", { value: a.name }, a.name)));
  if (agents.some((a) => a.name === "chatbot")) ui.agent.value = "chatbot";
  setSession(null);
  ui.inboxPanel.hidden = false;
  ui.keysPanel.hidden = app.me.role !== "owner";
  await loadSessions();
  await loadInbox();
  if (app.me.role === "owner") await loadKeys();
  ui.subject.focus();
}

/** A session token: its one session, no session list, no agent picker. */
async function connectToken() {
  const me = app.me;
  clearError();
  ui.keybox.hidden = true;
  ui.console.hidden = false;
  ui.forget.hidden = false;
  ui.sessionsNav.hidden = true;
  ui.openForm.hidden = true;
  ui.console.classList.add("token-mode");
  setText(ui.who, `Signed in as ${me.subject} (${me.agent}).`);
  try {
    const session = await app.api.send("POST", "/v1/sessions", { agent: me.agent, subject: me.subject });
    await openSession(session);
  } catch (err) {
    report(err, "open your session");
  }
}

// -- the inbox (what I may approve) and the keys (owners) --------------------------------

async function loadInbox() {
  if (!app.api || app.me?.role === "subject") return;
  app.lastInbox = Date.now();
  try {
    const { proposals } = await app.api.get("/v1/proposals", { status: "PENDING", can_approve: "me" });
    ui.inbox.replaceChildren(
      ...(proposals.length ? proposals.map(inboxItem) : [el("li", { class: "empty" }, "Nothing to approve.")]),
    );
  } catch (err) {
    report(err, "load the inbox");
  }
}

function inboxItem(p) {
  const approve = el("button", { type: "button", class: "primary" }, "Approve");
  const reject = el("button", { type: "button" }, "Reject");
  const open = el("button", { type: "button" }, "Go to session");
  const note = el("p", { class: "note" });
  const decide = async (verb) => {
    approve.disabled = reject.disabled = true;
    try {
      const after = await app.api.send("POST", `/v1/proposals/${encodeURIComponent(p.proposal_id)}/${verb}`);
      setText(note, `${after.status}. ${approvalText(after)}`);
      upsertProposal(after);
    } catch (err) {
      setText(note, `Could not ${verb}: ${err.message}.`);
    }
    setTimeout(loadInbox, 1500);
  };
  approve.addEventListener("click", () => decide("confirm"));
  reject.addEventListener("click", () => decide("reject"));
  open.addEventListener("click", () => openSession({ session_id: p.session_id }));
  return el(
    "li",
    { "data-proposal-id": p.proposal_id },
    el("strong", {}, `${p.tool} `),
    el("span", { class: `badge tier-${p.tier}` }, p.tier),
    el("p", { class: "preview" }, p.preview),
    el("p", { class: "approvals" }, approvalText(p)),
    el("div", { class: "actions" }, approve, reject, open),
    note,
  );
}

async function loadKeys() {
  try {
    const { keys } = await app.api.get("/v1/keys");
    ui.keys.replaceChildren(...keys.map(keyItem));
  } catch (err) {
    report(err, "list the keys");
  }
}

function showNewKey(made) {
  setText(ui.newKey, `New key for ${made.name} (${made.role}), shown once: ${made.key}`);
  ui.newKey.hidden = false;
}

function keyItem(k) {
  const revoke = el("button", { type: "button" }, "Revoke");
  const rotate = el("button", { type: "button" }, "Rotate");
  revoke.addEventListener("click", async () => {
    try {
      await app.api.send("DELETE", `/v1/keys/${encodeURIComponent(k.key_id)}`);
      await loadKeys();
    } catch (err) {
      report(err, "revoke the key");
    }
  });
  rotate.addEventListener("click", async () => {
    try {
      showNewKey(await app.api.send("POST", `/v1/keys/${encodeURIComponent(k.key_id)}/rotate`));
      await loadKeys();
    } catch (err) {
      report(err, "rotate the key");
    }
  });
  const used = k.last_used_at ? `last used ${new Date(k.last_used_at * 1000).toLocaleString()}` : "never used";
  return el(
    "li",
    { "data-key-id": k.key_id },
    el("strong", {}, k.name),
    ` (${k.role}), ${used}`,
    el("div", { class: "actions" }, rotate, revoke),
  );
}

// -- sessions ---------------------------------------------------------------------------

async function loadSessions(append = false) {
  try {
    const page = await app.api.get("/v1/sessions", { limit: 20, cursor: append ? app.nextCursor : null });
    renderSessions(ui.sessions, page.sessions, (s) => openSession(s), append);
    app.nextCursor = page.next_cursor;
    ui.moreSessions.hidden = !page.next_cursor;
    markCurrent(ui.sessions, app.session?.session_id);
  } catch (err) {
    report(err, "list the sessions");
  }
}

function setSession(session) {
  app.session = session;
  app.cards.clear();
  ui.log.replaceChildren();
  const active = session?.status === "active";
  ui.message.disabled = !active;
  ui.send.disabled = !active || app.busy;
  ui.closeSession.hidden = !active;
  setText(
    ui.sessionLine,
    session
      ? `${session.agent} session of ${session.subject} (${session.status})`
      : "Pick an agent and a subject, then Open.",
  );
  renderPending(ui.pending, [], showCard);
  app.stateTick = renderState(ui.state, null);
  renderAudit(ui.audit, []);
}

async function openSession(session) {
  const sid = session.session_id;
  try {
    const [detail, history, proposals, audit, turns] = await Promise.all([
      app.api.get(`/v1/sessions/${encodeURIComponent(sid)}`),
      app.api.get(`/v1/sessions/${encodeURIComponent(sid)}/messages`),
      app.api.get("/v1/proposals", { session_id: sid }),
      app.api.get("/v1/audit", { session_id: sid }),
      app.api.get(`/v1/sessions/${encodeURIComponent(sid)}/turns`),
    ]);
    clearError();
    setSession(detail);
    ui.agent.value = detail.agent;
    ui.subject.value = detail.subject;
    renderHistory(detail, history.messages, proposals.proposals, audit.events, turns.turns);
    showState(detail);
    renderAudit(ui.audit, audit.events);
    renderPending(ui.pending, [...app.cards.values()], showCard);
    markCurrent(ui.sessions, sid);
    if (detail.status === "active") ui.message.focus();
  } catch (err) {
    report(err, "open the session");
  }
}

/** History as turns: each user message, then the replies, tool calls and proposals after it. */
function renderHistory(session, messages, proposals, events, turns) {
  const turnAt = new Map(turns.map((t) => [t.at, t.n])); // a turn starts with its message
  let userAt = null;
  if (session.greeting) ui.log.append(messageNode("assistant", session.agent, session.greeting));
  const items = [
    ...messages.map((m) => ({ at: m.at, kind: m.role === "user" ? "user" : "reply", m })),
    ...events.filter((e) => e.type === "tool_call").map((e) => ({ at: e.at, kind: "tool", e })),
    ...proposals.map((p) => ({ at: p.created_at, kind: "card", p })),
  ].sort((a, b) => a.at - b.at);
  let turn = null;
  const flush = () => {
    if (!turn) return;
    const block = el("div", { class: "turn" }, ...turn.reply, ...turn.tool);
    const n = turnAt.get(userAt);
    if (n !== undefined) block.append(detailsNode(app.api, session.session_id, { n }));
    ui.log.append(block);
    for (const p of turn.card) addCard(p, block);
    turn = null;
  };
  for (const item of items) {
    if (item.kind === "user") {
      flush();
      ui.log.append(messageNode("user", `You (${session.subject})`, item.m.content));
      userAt = item.m.at;
      continue;
    }
    turn ??= { reply: [], tool: [], card: [] };
    if (item.kind === "reply") turn.reply.push(messageNode("assistant", session.agent, item.m.content));
    else if (item.kind === "tool") turn.tool.push(toolCallNode(item.e));
    else turn.card.push(item.p);
  }
  flush();
  followLog(ui.log);
}

// -- proposals --------------------------------------------------------------------------

const cardActions = {
  decide: (id, verb) => app.api.send("POST", `/v1/proposals/${encodeURIComponent(id)}/${verb}`),
  refresh: () => refreshProposals(),
  changed: () => {
    renderPending(ui.pending, [...app.cards.values()], showCard);
    refreshSide();
  },
};

function addCard(proposal, container) {
  const card = new ProposalCard(proposal, cardActions);
  app.cards.set(card.id, card);
  container.append(card.node);
  return card;
}

/** Show a proposal: update its card, or add one (to the turn that produced it). */
function upsertProposal(proposal, turn = null) {
  if (proposal.session_id && proposal.session_id !== app.session?.session_id) return;
  const card = app.cards.get(proposal.proposal_id);
  if (!card) {
    addCard(proposal, turn ? turn.node : ui.log);
    followLog(ui.log); // new content goes at the end
  } else if (card.update(proposal) && turn) {
    turn.transition(card.proposal);
  }
}

function showCard(card) {
  card.node.scrollIntoView({ block: "center" });
  card.node.classList.add("flash");
  setTimeout(() => card.node.classList.remove("flash"), 1200);
}

async function refreshProposals() {
  const sid = app.session?.session_id;
  if (!sid) return;
  app.lastPoll = Date.now();
  try {
    const { proposals } = await app.api.get("/v1/proposals", { session_id: sid });
    if (app.session?.session_id !== sid) return;
    let changed = false;
    for (const p of proposals.slice().reverse()) {
      const card = app.cards.get(p.proposal_id);
      if (!card || card.update(p)) changed = true;
      if (!card) upsertProposal(p);
    }
    renderPending(ui.pending, [...app.cards.values()], showCard);
    if (changed) refreshSide();
  } catch (err) {
    report(err, "refresh the proposals");
  }
}

// -- the session's state and audit ----------------------------------------------------------

function showState(detail) {
  app.stateTick = renderState(ui.state, detail);
  app.stateTick(Date.now() / 1000);
}

async function refreshSide() {
  const sid = app.session?.session_id;
  if (!sid) return;
  try {
    const [detail, audit] = await Promise.all([
      app.api.get(`/v1/sessions/${encodeURIComponent(sid)}`),
      app.api.get("/v1/audit", { session_id: sid }),
    ]);
    if (app.session?.session_id !== sid) return;
    showState(detail);
    renderAudit(ui.audit, audit.events);
  } catch (err) {
    report(err, "refresh the session state");
  }
}

// -- sending ------------------------------------------------------------------------------

async function send(text) {
  const session = app.session;
  if (!session || app.busy || !text.trim()) return;
  app.busy = true;
  ui.send.disabled = true;
  ui.message.value = "";
  ui.log.append(messageNode("user", `You (${session.subject})`, text));
  const turn = new TurnView(ui.log, session.agent);
  const messageId = newId();
  let finished = false;
  try {
    // the pending proposals on screen: what this message answers (API.md `seen`)
    const seen = [...app.cards.values()].filter((c) => c.pending).map((c) => c.id).slice(-50);
    const last = await app.api.streamTurn(session.session_id, text, {
      token: (d) => turn.token(String(d.text ?? "")),
      tool_call: (d) => turn.toolCall(d),
      proposal: (d) => upsertProposal(d, turn),
      done: (d) => {
        turn.done(d);
        for (const p of d.proposals || []) upsertProposal(p, turn);
      },
      error: (d) => turn.error(`The turn failed: ${d.error?.message ?? "unknown error"}.`),
    }, messageId, seen);
    finished = last === "done";
    if (last !== "done" && last !== "error") {
      turn.error("The stream ended before the turn did; it completes on the server: reopen the session to see it.");
    }
    clearError();
  } catch (err) {
    if (!(err instanceof ApiError)) {
      // the stream broke mid-turn (the gateway went away): the turn goes on there
      setOnline(false);
      turn.error("The connection was lost during the turn; it completes on the server: reopen the session to see it.");
    } else {
      turn.error(`Not sent: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}.`);
    }
  } finally {
    app.busy = false;
    ui.send.disabled = app.session?.status !== "active" || !app.reachable;
  }
  if (finished) turn.append(detailsNode(app.api, session.session_id, { messageId }));
  if (app.session === session) {
    await refreshProposals();
    await refreshSide();
  }
}

// -- wiring ----------------------------------------------------------------------------------

ui.keyform.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.key.value.trim();
  if (!key) return;
  saveKey(key);
  ui.key.value = "";
  connect(key);
});

ui.forget.addEventListener("click", () => {
  forgetKey();
  location.reload();
});

ui.openForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const subject = ui.subject.value.trim();
  if (!app.api || !subject) return;
  try {
    const session = await app.api.send("POST", "/v1/sessions", { agent: ui.agent.value, subject });
    await openSession(session);
    await loadSessions();
  } catch (err) {
    report(err, "open a session");
  }
});

ui.closeSession.addEventListener("click", async () => {
  const session = app.session;
  if (!session) return;
  try {
    await app.api.send("DELETE", `/v1/sessions/${encodeURIComponent(session.session_id)}`);
    await openSession(session);
    await loadSessions();
  } catch (err) {
    report(err, "close the session");
  }
});

ui.moreSessions.addEventListener("click", () => loadSessions(true));

ui.keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = ui.keyName.value.trim();
  if (!name) return;
  try {
    showNewKey(await app.api.send("POST", "/v1/keys", { name, role: ui.keyRole.value }));
    ui.keyName.value = "";
    await loadKeys();
  } catch (err) {
    report(err, "create a key");
  }
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send(ui.message.value);
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send(ui.message.value);
  }
});

setInterval(() => {
  const now = Date.now() / 1000;
  let due = false;
  for (const card of app.cards.values()) due = card.tick(now) || due;
  app.stateTick(now);
  const pending = [...app.cards.values()].some((card) => card.pending);
  if (app.api && !app.busy && pending && (due || Date.now() - app.lastPoll >= POLL_MS)) {
    refreshProposals(); // not mid-turn: the turn's own events place its cards
  }
  if (app.api && !app.busy && app.me && app.me.role !== "subject" && Date.now() - app.lastInbox >= POLL_MS) {
    loadInbox();
  }
}, 1000);

setInterval(heartbeat, HEARTBEAT_MS);

const key = takeKey();
if (key) connect(key);
else ui.keybox.hidden = false;
