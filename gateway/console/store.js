// The console's one state object, and the only code that changes it.
//
// Each view of the console (the header and layout, the session list, the
// transcript with its turns and proposal cards, the pending list, the session's
// state and audit, the inbox, the keys, the turn inspector) is drawn by one
// `render(state)`; app.js runs them after every change (`subscribe`: the changes
// of one task are drawn once, in a microtask). Event handlers, the SSE stream and
// the polls change `state` only through the named updates below and never touch
// the page, so a reader finds every change of it here.
//
// What the server knows is never derived here: a proposal keeps the server's
// fields (`hint`, `approval_text`, `final`, `can_approve`, `awaiting`), and who
// may use which panel is the server's `can` (GET /v1/me). The views show them.

export const state = {
  api: null, // the Api of the connected key or token (null: not connected)
  me: null, // GET /v1/me, with `can`: which panels this caller may use
  phase: "start", // "start" (connecting), "key" (the key box), "console"
  reachable: true, // does the gateway answer (the heartbeat)
  alert: "", // the error banner ("": none)
  agents: [], // the agents' names (GET /v1/agents)
  form: { agent: "", subject: "" }, // the open form's fields
  keyInput: "", // the key box's field
  draft: "", // the composer's text
  sessions: { items: [], next: null }, // the session list, its pages so far
  session: null, // the open session (GET /v1/sessions/{id})
  log: [], // the open session's transcript: messages, turns and cards, in order
  cards: new Map(), // proposal_id -> {proposal, deciding, note} of the open session
  busy: false, // a message is on its way
  audit: [], // the open session's audit trail
  details: new Map(), // a turn's key -> {loading} | {turn} | {error}: the inspector
  inbox: { items: [], notes: new Map(), deciding: new Set() }, // what I may approve
  keys: { items: [], made: null, name: "" }, // the keys (owners); made: a new key, shown once
  now: Date.now() / 1000, // the clock of the countdowns (seconds)
  focus: { target: null, seq: 0 }, // a field to focus, once per seq
  reveal: { id: null, how: "", seq: 0 }, // a card to scroll to, once per seq
  lastPoll: 0, // when the proposals were last fetched (ms)
  lastInbox: 0, // when the inbox was last fetched (ms)
};

// -- drawing ---------------------------------------------------------------------------

const renders = [];
let queued = false;

/** Draw with `render(state)` after every change of the state. */
export function subscribe(render) {
  renders.push(render);
  changed();
}

function changed() {
  if (queued) return;
  queued = true;
  queueMicrotask(() => {
    queued = false;
    for (const render of renders) render(state);
  });
}

let keys = 0;
function nextKey() {
  keys += 1;
  return `k${keys}`;
}

// -- connection -----------------------------------------------------------------------------

/** A key or token is being tried. */
export function connecting(api) {
  state.api = api;
  state.reachable = true;
  changed();
}

/** /v1/me (and, for a key, the agents) answered: the console shows. */
export function connected(me, agents) {
  state.me = me;
  state.agents = agents;
  state.phase = "console";
  state.alert = "";
  state.form = { agent: agents.includes("chatbot") ? "chatbot" : (agents[0] ?? ""), subject: "" };
  setSession(null);
  changed();
}

/** The key was refused (401): back to the key box, saying why. */
export function refused(message) {
  state.api = null;
  state.me = null;
  state.phase = "key";
  state.alert = message;
  focus("key");
  changed();
}

export function askForKey() {
  state.phase = "key";
  changed();
}

export function setAlert(message) {
  state.alert = message;
  changed();
}

export function setReachable(online) {
  state.reachable = online;
  changed();
}

// -- the fields a person types in --------------------------------------------------------------

export function setKeyInput(value) {
  state.keyInput = value;
  changed();
}

export function setDraft(value) {
  state.draft = value;
  changed();
}

export function setForm(field, value) {
  state.form = { ...state.form, [field]: value };
  changed();
}

export function setKeyName(value) {
  state.keys = { ...state.keys, name: value };
  changed();
}

/** Focus a field (the header's "key", the open form's "subject", the composer's "message"). */
export function focus(target) {
  state.focus = { target, seq: state.focus.seq + 1 };
  changed();
}

// -- sessions --------------------------------------------------------------------------------

/** A page of GET /v1/sessions: the first one, or the next (`append`). */
export function sessionsListed(page, append) {
  const items = append ? [...state.sessions.items, ...page.sessions] : page.sessions;
  state.sessions = { items, next: page.next_cursor };
  changed();
}

/** Open a session (null: none): its transcript, cards, state and audit start empty. */
export function setSession(session) {
  state.session = session;
  state.log = [];
  state.cards = new Map();
  state.details = new Map();
  state.audit = [];
  changed();
}

/**
 * A session opened: its detail, history, proposals, audit and turns, drawn as turns:
 * each user message, then the replies, tool calls and proposals after it.
 */
export function sessionOpened(session, messages, proposals, events, turns) {
  setSession(session);
  state.form = { agent: session.agent, subject: session.subject };
  state.audit = events;
  if (session.greeting) state.log.push(message("assistant", session.agent, session.greeting));
  const turnAt = new Map(turns.map((t) => [t.at, t.n])); // a turn starts with its message
  const items = [
    ...messages.map((m) => ({ at: m.at, kind: m.role === "user" ? "user" : "reply", m })),
    ...events.filter((e) => e.type === "tool_call").map((e) => ({ at: e.at, kind: "tool", e })),
    ...proposals.map((p) => ({ at: p.created_at, kind: "card", p })),
  ].sort((a, b) => a.at - b.at);
  let userAt = null;
  let block = null; // the turn being filled, and the cards that go at its end
  const flush = () => {
    if (!block) return;
    const n = turnAt.get(userAt);
    if (n !== undefined) turnItem(block.turn, { kind: "details", which: { n } });
    for (const p of block.cards) addCard(p, block.turn);
    block = null;
  };
  for (const item of items) {
    if (item.kind === "user") {
      flush();
      state.log.push(message("user", `You (${session.subject})`, item.m.content));
      userAt = item.m.at;
      continue;
    }
    if (!block) {
      block = { turn: newTurn(session.agent), cards: [] };
      block.turn.typing = false; // a turn of the history has ended
      state.log.push(block.turn);
    }
    if (item.kind === "reply") turnItem(block.turn, { kind: "reply", chunks: [item.m.content], gen: 0 });
    else if (item.kind === "tool") turnItem(block.turn, { kind: "tool", call: item.e });
    else block.cards.push(item.p);
  }
  flush();
  if (session.status === "active") focus("message");
  changed();
}

/** The open session's state and audit, fetched again. */
export function sideFetched(session, events) {
  state.session = session;
  state.audit = events;
  changed();
}

function message(role, who, text) {
  return { kind: "msg", key: nextKey(), role, who, text };
}

// -- a turn: the user's message, then the events of its stream (API.md, Messages) --------------

/** A new turn's state: no items yet, a typing indicator until the first token. */
export function newTurn(agent) {
  return { kind: "turn", key: nextKey(), agent, items: [], typing: true, streamed: "", sawToolCalls: false };
}

function turnItem(turn, item) {
  item.key = nextKey();
  turn.items.push(item);
  return item;
}

function replies(turn) {
  return turn.items.filter((item) => item.kind === "reply");
}

/**
 * One event of a turn's stream, applied to `turn` (a pure change of that object):
 * `token` adds to the current reply (a new one after anything else), `tool_call`
 * shows a call, first `started`, then its end in the same line; `done` carries the
 * whole turn, and whatever the stream did not show is reconciled from it; `error`
 * ends the turn saying that it failed.
 */
export function applyTurnEvent(turn, event, data) {
  if (event === "token") {
    turn.typing = false;
    const text = String(data.text ?? "");
    const last = turn.items.at(-1);
    const bubble = last?.kind === "reply" ? last : turnItem(turn, { kind: "reply", chunks: [], gen: 0 });
    bubble.chunks.push(text);
    turn.streamed += text;
  } else if (event === "tool_call") {
    turn.sawToolCalls = true;
    toolCall(turn, data);
  } else if (event === "done") {
    turn.typing = false;
    const reply = String(data.reply ?? "");
    if (turn.streamed !== reply) reconcile(turn, reply);
    if (!turn.sawToolCalls) for (const call of data.tool_calls || []) toolCall(turn, call);
  } else if (event === "error") {
    failTurn(turn, `The turn failed: ${data.error?.message ?? "unknown error"}.`);
  }
}

/** End a turn with a line of the console's own (it failed, or its stream broke). */
function failTurn(turn, text) {
  turn.typing = false;
  turnItem(turn, { kind: "error", text });
}

function toolCall(turn, call) {
  if (call.status !== "started") {
    const waiting = turn.items.find(
      (i) => i.kind === "tool" && i.call.tool === call.tool && i.call.status === "started",
    );
    if (waiting) {
      waiting.call = call;
      return;
    }
  }
  turnItem(turn, { kind: "tool", call });
}

function reconcile(turn, reply) {
  const bubbles = replies(turn);
  if (!bubbles.length) {
    if (!reply) return;
    turnItem(turn, { kind: "reply", chunks: [reply], gen: 0 });
    turn.items.unshift(turn.items.pop()); // the reply comes first
  } else if (reply.startsWith(turn.streamed)) {
    bubbles.at(-1).chunks.push(reply.slice(turn.streamed.length));
  } else {
    const [first, ...rest] = bubbles;
    first.chunks = [reply];
    first.gen += 1;
    turn.items = turn.items.filter((i) => !rest.includes(i));
  }
  turn.streamed = reply;
}

function turnOf(key) {
  return state.log.find((entry) => entry.key === key) ?? null;
}

/** The user sent `text`: its message and a turn that fills in; returns the turn's key. */
export function turnStarted(text) {
  const session = state.session;
  state.busy = true;
  state.draft = "";
  state.log.push(message("user", `You (${session.subject})`, text));
  const turn = newTurn(session.agent);
  state.log.push(turn);
  changed();
  return turn.key;
}

/** An event of the turn `key`'s stream; its proposals become (or update) cards. */
export function turnEvent(key, event, data) {
  const turn = turnOf(key);
  if (!turn) return;
  if (event === "proposal") {
    upsertProposal(data, turn);
    return;
  }
  applyTurnEvent(turn, event, data);
  if (event === "done") for (const p of data.proposals || []) upsertProposal(p, turn);
  changed();
}

/** The turn ended with a line of the console's own (not sent, or the stream broke). */
export function turnFailed(key, text) {
  const turn = turnOf(key);
  if (turn) failTurn(turn, text);
  changed();
}

/** A finished turn gets its "Details" (the inspector, by the message's id). */
export function turnFinished(key, messageId) {
  const turn = turnOf(key);
  if (turn) turnItem(turn, { kind: "details", which: { messageId } });
  changed();
}

export function setBusy(busy) {
  state.busy = busy;
  changed();
}

// -- proposals --------------------------------------------------------------------------------

function addCard(proposal, turn) {
  state.cards.set(proposal.proposal_id, { proposal, deciding: false, note: "" });
  if (turn) turnItem(turn, { kind: "card", id: proposal.proposal_id });
  else state.log.push({ kind: "card", key: nextKey(), id: proposal.proposal_id });
}

/** A newer view of a card's proposal; a final one never takes a non-final view. */
function updateCard(card, proposal) {
  if (card.proposal.final && !proposal.final) return false;
  const before = card.proposal.status;
  card.proposal = { ...card.proposal, ...proposal };
  return card.proposal.status !== before;
}

/**
 * Show a proposal of the open session: update its card, or add one (to the turn
 * that produced it, else at the end). Returns whether its status changed (a new
 * card counts); a turn that changed a card shown further up says so.
 */
export function upsertProposal(proposal, turn = null) {
  if (proposal.session_id && proposal.session_id !== state.session?.session_id) return false;
  const card = state.cards.get(proposal.proposal_id);
  changed();
  if (!card) {
    addCard(proposal, turn);
    return true;
  }
  const moved = updateCard(card, proposal);
  if (moved && turn)
    turnItem(turn, { kind: "transition", text: `${card.proposal.tool} is now ${card.proposal.status}` });
  return moved;
}

/** GET /v1/proposals of the open session (newest first); returns whether any changed. */
export function proposalsFetched(proposals) {
  let moved = false;
  for (const p of proposals.slice().reverse()) moved = upsertProposal(p) || moved;
  return moved;
}

/** A Confirm or Reject click: its card waits for the answer. */
export function deciding(id, verb) {
  const card = state.cards.get(id);
  card.deciding = true;
  card.note = verb === "confirm" ? "Confirming..." : "Rejecting...";
  changed();
}

/** The answer: the proposal after the decision (or `status` only: a 409's). */
export function decided(id, proposal, note = "") {
  const card = state.cards.get(id);
  if (!card) return;
  updateCard(card, proposal);
  card.note = note;
  reveal(id, "nearest"); // its result, or the note
}

/** The decision did not go through: the card says why, and may be clicked again. */
export function decideFailed(id, note) {
  const card = state.cards.get(id);
  if (!card) return;
  card.deciding = false;
  card.note = note;
  reveal(id, "nearest");
}

/** Scroll to a card ("center" with a flash: the pending list's Show; "nearest": after a click). */
export function reveal(id, how) {
  state.reveal = { id, how, seq: state.reveal.seq + 1 };
  changed();
}

// -- the inbox, the keys, the inspector ------------------------------------------------------------

/** GET /v1/proposals?status=PENDING&can_approve=me. */
export function inboxFetched(proposals) {
  const ids = new Set(proposals.map((p) => p.proposal_id));
  const notes = new Map([...state.inbox.notes].filter(([id]) => ids.has(id)));
  state.inbox = { items: proposals, notes, deciding: state.inbox.deciding };
  changed();
}

export function inboxDeciding(id) {
  state.inbox.deciding.add(id);
  state.inbox = { ...state.inbox };
  changed();
}

/**
 * An inbox decision's answer and the line that says so: the proposal after it (its
 * buttons stay off: the next fetch drops it), or null (it failed: they are back).
 */
export function inboxDecided(id, proposal, note) {
  const items = state.inbox.items.map((p) => (p.proposal_id === id && proposal ? proposal : p));
  const notes = new Map(state.inbox.notes).set(id, note);
  if (!proposal) state.inbox.deciding.delete(id);
  state.inbox = { items, notes, deciding: state.inbox.deciding };
  changed();
}

export function keysFetched(items) {
  state.keys = { ...state.keys, items };
  changed();
}

/** A key was made or rotated: shown once. */
export function keyMade(made) {
  state.keys = { ...state.keys, made, name: "" };
  changed();
}

/** The inspector of turn `key`: loading, its timeline (`{turn}`) or why not (`{error}`). */
export function setDetails(key, value) {
  state.details.set(key, value);
  changed();
}

// -- time ------------------------------------------------------------------------------------

/** The clock moved (every second): countdowns follow. */
export function tick(now) {
  state.now = now;
  changed();
}

/** Note a fetch of "proposals" or "inbox" now. */
export function polled(what) {
  if (what === "inbox") state.lastInbox = Date.now();
  else state.lastPoll = Date.now();
}
