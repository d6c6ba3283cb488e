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
// What the caller may use decides the layout (GET /v1/me's `can`): a caller who
// may list sessions sees every session and the agent picker, one who may list
// the inbox sees an Inbox of what it may approve across sessions, one who may
// manage keys the Keys panel; a session token may do none of these and sees its
// one session.
//
// One state object (store.js), changed only through its named updates; one
// render per view, run after each change (`store.subscribe`). The handlers
// below call the API and update the state; they never touch the page. Nothing
// here decides what a proposal means: its card shows the server's fields.

import { Api, ApiError, forgetKey, newId, saveKey, takeKey } from "./api.js";
import { el, place, setText, show } from "./dom.js";
import { AuditView, InboxView, KeysView, PendingView, SessionsView, StateView } from "./panels.js";
import * as store from "./store.js";
import { TranscriptView } from "./turn.js";

const POLL_MS = 2000; // proposal refresh while PENDING cards exist
const HEARTBEAT_MS = 3000; // is the gateway there? (and how soon a return shows)
const DISCONNECTED = "Disconnected - retrying";
const $ = (id) => document.getElementById(id);
const state = store.state; // read here; changed only through store.*

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

const can = (what) => Boolean(state.me?.can?.[what]);
const tokenMode = () => Boolean(state.me) && !can("list_sessions");

// -- errors and the key -------------------------------------------------------------

function report(err, what) {
  if (err.status === 401) return; // unauthorized() said it already
  if (err.status === 0) return; // the header says "Disconnected - retrying"
  const retry = err.error?.retry_after !== undefined ? " Retry in a moment." : ""; // the server says
  store.setAlert(`Could not ${what}: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}.${retry}`);
}

function unauthorized(err) {
  forgetKey();
  store.refused(`The API key was not accepted (401: ${err.message}). Enter a valid tenant API key.`);
}

/** The gateway answers again (or not); on a return, what was missed is fetched again. */
function setOnline(online) {
  if (online === state.reachable) return;
  store.setReachable(online);
  if (!state.api || !online) return;
  store.setAlert("");
  loadSessions();
  refreshProposals();
  refreshSide();
}

async function heartbeat() {
  if (!state.api) return;
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    setOnline(response.ok);
  } catch {
    setOnline(false);
  }
}

async function connect(key) {
  const api = new Api(key, unauthorized, () => setOnline(false));
  store.connecting(api);
  let me;
  let agents = [];
  try {
    me = await api.get("/v1/me");
    if (me.can.list_sessions) agents = (await api.get("/v1/agents")).agents.map((a) => a.name);
  } catch (err) {
    report(err, "reach the API");
    if (err.status !== 401) store.askForKey();
    return;
  }
  store.connected(me, agents);
  if (!me.can.list_sessions) return openOwnSession();
  await loadSessions();
  await loadInbox();
  await loadKeys();
  store.focus("subject");
}

/** A session token: its one session (GET /v1/me names its agent and subject). */
async function openOwnSession() {
  try {
    const session = await state.api.send("POST", "/v1/sessions", { agent: state.me.agent, subject: state.me.subject });
    await openSession(session.session_id);
  } catch (err) {
    report(err, "open your session");
  }
}

// -- the inbox (what I may approve) and the keys (owners) --------------------------------

async function loadInbox() {
  if (!state.api || !can("list_inbox")) return;
  store.polled("inbox");
  try {
    const { proposals } = await state.api.get("/v1/proposals", { status: "PENDING", can_approve: "me" });
    store.inboxFetched(proposals);
  } catch (err) {
    report(err, "load the inbox");
  }
}

async function loadKeys() {
  if (!can("manage_keys")) return;
  try {
    store.keysFetched((await state.api.get("/v1/keys")).keys);
  } catch (err) {
    report(err, "list the keys");
  }
}

async function keyCall(method, path, body, what) {
  try {
    const made = await state.api.send(method, path, body);
    if (made.key) store.keyMade(made);
    await loadKeys();
  } catch (err) {
    report(err, what);
  }
}

// -- sessions ---------------------------------------------------------------------------

async function loadSessions(append = false) {
  if (!state.api || !can("list_sessions")) return;
  try {
    const page = await state.api.get("/v1/sessions", { limit: 20, cursor: append ? state.sessions.next : null });
    store.sessionsListed(page, append);
  } catch (err) {
    report(err, "list the sessions");
  }
}

async function openSession(sid) {
  const id = encodeURIComponent(sid);
  try {
    const [detail, history, proposals, audit, turns] = await Promise.all([
      state.api.get(`/v1/sessions/${id}`),
      state.api.get(`/v1/sessions/${id}/messages`),
      state.api.get("/v1/proposals", { session_id: sid }),
      state.api.get("/v1/audit", { session_id: sid }),
      state.api.get(`/v1/sessions/${id}/turns`),
    ]);
    store.setAlert("");
    store.sessionOpened(detail, history.messages, proposals.proposals, audit.events, turns.turns);
  } catch (err) {
    report(err, "open the session");
  }
}

// -- proposals --------------------------------------------------------------------------

async function refreshProposals() {
  const sid = state.session?.session_id;
  if (!sid) return;
  store.polled("proposals");
  try {
    const { proposals } = await state.api.get("/v1/proposals", { session_id: sid });
    if (state.session?.session_id !== sid) return;
    if (store.proposalsFetched(proposals)) refreshSide();
  } catch (err) {
    report(err, "refresh the proposals");
  }
}

async function decide(id, verb) {
  const card = state.cards.get(id);
  if (!card || card.deciding || card.proposal.status !== "PENDING") return;
  store.deciding(id, verb); // before any await: a double click sends one request
  try {
    store.decided(id, await state.api.send("POST", `/v1/proposals/${encodeURIComponent(id)}/${verb}`));
  } catch (err) {
    if (err.error?.status) {
      // a 409 carries what it became: say so, and fetch the whole of it
      store.decided(id, { status: err.error.status }, `Already ${err.error.status}: ${err.message}.`);
      refreshProposals();
    } else {
      store.decideFailed(id, `Could not ${verb}: ${err.message}.`);
    }
  }
  refreshSide();
}

async function inboxDecide(id, verb) {
  if (state.inbox.deciding.has(id)) return;
  store.inboxDeciding(id);
  try {
    const after = await state.api.send("POST", `/v1/proposals/${encodeURIComponent(id)}/${verb}`);
    store.inboxDecided(id, after, `${after.status}.`);
    store.upsertProposal(after); // its card, when its session is open
  } catch (err) {
    store.inboxDecided(id, null, `Could not ${verb}: ${err.message}.`);
  }
  setTimeout(loadInbox, 1500);
}

async function openDetails(key, which) {
  const entry = state.details.get(key);
  if (entry?.loading || entry?.turn) return; // loading, or loaded: once
  store.setDetails(key, { loading: true });
  const base = `/v1/sessions/${encodeURIComponent(state.session.session_id)}/turns`;
  try {
    let n = which.n;
    if (n === undefined) {
      const { turns } = await state.api.get(base);
      n = turns.find((t) => t.message_id === which.messageId)?.n;
      if (n === undefined) throw new Error("this turn is no longer kept");
    }
    store.setDetails(key, { turn: await state.api.get(`${base}/${n}`) });
  } catch (err) {
    store.setDetails(key, { error: err.message }); // opening it again tries again
  }
}

// -- the session's state and audit ----------------------------------------------------------

async function refreshSide() {
  const sid = state.session?.session_id;
  if (!sid) return;
  try {
    const [detail, audit] = await Promise.all([
      state.api.get(`/v1/sessions/${encodeURIComponent(sid)}`),
      state.api.get("/v1/audit", { session_id: sid }),
    ]);
    if (state.session?.session_id !== sid) return;
    store.sideFetched(detail, audit.events);
  } catch (err) {
    report(err, "refresh the session state");
  }
}

// -- sending ------------------------------------------------------------------------------

async function send() {
  const session = state.session;
  const text = state.draft;
  if (!session || state.busy || !text.trim()) return;
  // the pending proposals on screen: what this message answers (API.md `seen`)
  const seen = [...state.cards.values()]
    .filter((c) => c.proposal.status === "PENDING")
    .map((c) => c.proposal.proposal_id)
    .slice(-50);
  const key = store.turnStarted(text);
  const messageId = newId();
  let finished = false;
  try {
    const on = {};
    for (const event of ["token", "tool_call", "proposal", "done", "error"])
      on[event] = (d) => store.turnEvent(key, event, d);
    const last = await state.api.streamTurn(session.session_id, text, on, messageId, seen);
    finished = last === "done";
    if (last !== "done" && last !== "error") {
      store.turnFailed(
        key,
        "The stream ended before the turn did; it completes on the server: reopen the session to see it.",
      );
    }
    store.setAlert("");
  } catch (err) {
    if (!(err instanceof ApiError)) {
      // the stream broke mid-turn (the gateway went away): the turn goes on there
      setOnline(false);
      store.turnFailed(
        key,
        "The connection was lost during the turn; it completes on the server: reopen the session to see it.",
      );
    } else {
      store.turnFailed(key, `Not sent: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}.`);
    }
  } finally {
    store.setBusy(false);
  }
  if (finished) store.turnFinished(key, messageId);
  if (state.session?.session_id === session.session_id) {
    await refreshProposals();
    await refreshSide();
  }
}

// -- the views ---------------------------------------------------------------------------------

const actions = {
  decide,
  show: (id) => store.reveal(id, "center"),
  openSession,
  inboxDecide,
  openDetails,
  rotateKey: (id) => keyCall("POST", `/v1/keys/${encodeURIComponent(id)}/rotate`, undefined, "rotate the key"),
  revokeKey: (id) => keyCall("DELETE", `/v1/keys/${encodeURIComponent(id)}`, undefined, "revoke the key"),
};

/** A field's value follows the state (only a change is written: typing is never undone). */
function setValue(field, value) {
  if (field.value !== value) field.value = value;
}

/** The header, the key box and the layout: who is connected, and which panels show. */
function renderChrome(s) {
  const inConsole = s.phase === "console";
  setText(ui.alert, s.alert);
  show(ui.alert, Boolean(s.alert));
  show(ui.keybox, s.phase === "key");
  show(ui.console, inConsole);
  show(ui.forget, inConsole);
  setValue(ui.key, s.keyInput);
  let who = "";
  if (inConsole && !s.reachable) who = DISCONNECTED;
  else if (inConsole && tokenMode()) who = `Signed in as ${s.me.subject} (${s.me.agent}).`;
  else if (inConsole) who = `Connected as ${s.me.principal} (${s.me.role}).`;
  setText(ui.who, who);
  const mark = inConsole ? (s.reachable ? "connected" : "disconnected") : "";
  if (ui.who.dataset.state !== mark) ui.who.dataset.state = mark;
  ui.console.classList.toggle("token-mode", tokenMode());
  show(ui.sessionsNav, !tokenMode());
  show(ui.openForm, !tokenMode());
  show(ui.inboxPanel, can("list_inbox"));
  show(ui.keysPanel, can("manage_keys"));
  setValue(ui.keyName, s.keys.name);
}

/** The open form, the session's line and the composer. */
function renderSessionBar(s) {
  if (ui.agent.options.length !== s.agents.length || [...ui.agent.options].some((o, i) => o.value !== s.agents[i])) {
    place(
      ui.agent,
      s.agents.map((name) => el("option", { value: name }, name)),
    );
  }
  setValue(ui.agent, s.form.agent);
  setValue(ui.subject, s.form.subject);
  const session = s.session;
  const active = session?.status === "active";
  setText(
    ui.sessionLine,
    session
      ? `${session.agent} session of ${session.subject} (${session.status})`
      : "Pick an agent and a subject, then Open.",
  );
  show(ui.closeSession, active);
  ui.message.disabled = !active;
  ui.send.disabled = !active || s.busy || !s.reachable;
  setValue(ui.message, s.draft);
}

/** A field asked for focus (once per request). */
let focused = 0;
function renderFocus(s) {
  if (s.focus.seq === focused) return;
  focused = s.focus.seq;
  ui[s.focus.target]?.focus();
}

const views = [
  renderChrome,
  renderSessionBar,
  new SessionsView(ui.sessions, ui.moreSessions, actions),
  new TranscriptView(ui.log, actions),
  new PendingView(ui.pending, actions),
  new StateView(ui.state),
  new AuditView(ui.audit),
  new InboxView(ui.inbox, actions),
  new KeysView(ui.keys, ui.newKey, actions),
  renderFocus,
];
store.subscribe((s) => {
  for (const view of views) view.render ? view.render(s) : view(s);
});

// -- wiring: events change the state (and call the API), never the page --------------------------

ui.key.addEventListener("input", () => store.setKeyInput(ui.key.value));
ui.message.addEventListener("input", () => store.setDraft(ui.message.value));
ui.subject.addEventListener("input", () => store.setForm("subject", ui.subject.value));
ui.agent.addEventListener("change", () => store.setForm("agent", ui.agent.value));
ui.keyName.addEventListener("input", () => store.setKeyName(ui.keyName.value));

ui.keyform.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = state.keyInput.trim();
  if (!key) return;
  saveKey(key);
  store.setKeyInput("");
  connect(key);
});

ui.forget.addEventListener("click", () => {
  forgetKey();
  location.reload();
});

ui.openForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const subject = state.form.subject.trim();
  if (!state.api || !subject) return;
  try {
    const session = await state.api.send("POST", "/v1/sessions", { agent: state.form.agent, subject });
    await openSession(session.session_id);
    await loadSessions();
  } catch (err) {
    report(err, "open a session");
  }
});

ui.closeSession.addEventListener("click", async () => {
  const session = state.session;
  if (!session) return;
  try {
    await state.api.send("DELETE", `/v1/sessions/${encodeURIComponent(session.session_id)}`);
    await openSession(session.session_id);
    await loadSessions();
  } catch (err) {
    report(err, "close the session");
  }
});

ui.moreSessions.addEventListener("click", () => loadSessions(true));

ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = state.keys.name.trim();
  if (name) keyCall("POST", "/v1/keys", { name, role: ui.keyRole.value }, "create a key");
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

setInterval(() => {
  const now = Date.now() / 1000;
  store.tick(now);
  const pending = [...state.cards.values()].map((c) => c.proposal).filter((p) => p.status === "PENDING" && !p.final);
  const due = pending.some((p) => p.expires_at && p.expires_at <= now); // its window ran out
  if (state.api && !state.busy && pending.length && (due || Date.now() - state.lastPoll >= POLL_MS)) {
    refreshProposals(); // not mid-turn: the turn's own events place its cards
  }
  if (state.api && !state.busy && Date.now() - state.lastInbox >= POLL_MS) loadInbox();
}, 1000);

setInterval(heartbeat, HEARTBEAT_MS);

const key = takeKey();
if (key) connect(key);
else store.askForKey();
