// The embeddable chat: a customer's browser talking to one session with a
// session token (docs/EMBED.md).
//
// The tenant's backend mints the token (POST /v1/session-tokens, with its own
// key, which never reaches the browser) and opens this page with the token in
// the URL fragment: `/ui/embed#token=ost_...` (never sent to a server). The
// page asks who it is (GET /v1/me), opens that one session, sends messages
// and shows the proposals it may confirm. Everything it shows is text.
//
// As in the console: one state object, changed only by the updates below, and
// one `render()` after each change; handlers call the API and update the state.
// What an offer shows is the server's: its status, and Confirm and Cancel while
// it `can_approve` and is not `final`.

import { Api, newId } from "./api.js";
import { el, place, setText, show } from "./dom.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("embed-status"),
  log: $("embed-log"),
  form: $("embed-form"),
  message: $("embed-message"),
  send: $("embed-send"),
};

const state = {
  api: null,
  session: null,
  status: "Connecting...", // the line at the top
  ready: false, // the composer may send
  busy: false, // a message is on its way
  draft: "", // the composer's text
  log: [], // {key, role, text} bubbles and {key, id} offers, in order
  offers: new Map(), // proposal_id -> {proposal, deciding, error}
};

// -- updates ---------------------------------------------------------------------------

let queued = false;
function changed() {
  if (queued) return;
  queued = true;
  queueMicrotask(() => {
    queued = false;
    render();
  });
}

let keys = 0;
function entry(fields) {
  keys += 1;
  state.log.push({ key: `e${keys}`, ...fields });
  changed();
}

function set(fields) {
  Object.assign(state, fields);
  changed();
}

function bubble(role, text) {
  entry({ role, text });
}

/** Show a proposal: a new offer, or a newer view of one (a final one never goes back). */
function offer(p) {
  const known = state.offers.get(p.proposal_id);
  if (!known) {
    state.offers.set(p.proposal_id, { proposal: p, deciding: false, error: "" });
    entry({ id: p.proposal_id });
  } else if (!(known.proposal.final && !p.final)) {
    known.proposal = p;
  }
  changed();
}

function deciding(id, value, error = "") {
  const known = state.offers.get(id);
  known.deciding = value;
  known.error = error;
  changed();
}

// -- render ----------------------------------------------------------------------------

const drawn = new Map(); // log entry key -> node
let size = 0;
let focused = false; // the composer took the focus once it could send

function offerNode(id) {
  const p = state.offers.get(id).proposal;
  const status = el("span", { class: "offer-status" });
  const confirm = el("button", { type: "button" }, "Confirm");
  const reject = el("button", { type: "button" }, "Cancel");
  confirm.addEventListener("click", () => decide(id, "confirm"));
  reject.addEventListener("click", () => decide(id, "reject"));
  const node = el(
    "article",
    { class: "offer", "aria-label": p.tool, "data-proposal-id": id },
    el("p", {}, p.preview),
    el("p", {}, "Status: ", status),
    el("div", { class: "actions" }, confirm, reject),
  );
  return Object.assign(node, { status, confirm, reject });
}

function drawOffer(node, { proposal: q, deciding: busy, error }) {
  const waiting = q.status === "PENDING" && !q.can_approve;
  setText(node.status, error || (waiting ? "PENDING (waiting for the business)" : q.status));
  const open = Boolean(q.can_approve && !q.final); // the server says who may
  show(node.confirm, open);
  show(node.reject, open);
  node.confirm.disabled = node.reject.disabled = busy;
}

function render() {
  setText(ui.status, state.status);
  ui.message.disabled = !state.ready;
  ui.send.disabled = !state.ready || state.busy;
  if (ui.message.value !== state.draft) ui.message.value = state.draft;
  if (state.ready && !focused) {
    focused = true;
    ui.message.focus();
  }
  const nodes = state.log.map((e) => {
    let node = drawn.get(e.key);
    if (!node) {
      node = e.id ? offerNode(e.id) : el("p", { class: `bubble ${e.role}` }, e.text);
      drawn.set(e.key, node);
    }
    if (e.id) drawOffer(node, state.offers.get(e.id));
    return node;
  });
  place(ui.log, nodes);
  if (nodes.length !== size) {
    size = nodes.length;
    ui.log.lastElementChild?.scrollIntoView?.({ block: "end" });
  }
}

// -- handlers ------------------------------------------------------------------------------

function fail(message) {
  set({ status: message, ready: false });
}

async function decide(id, verb) {
  if (state.offers.get(id).deciding) return;
  deciding(id, true);
  try {
    offer(await state.api.send("POST", `/v1/proposals/${encodeURIComponent(id)}/${verb}`));
    deciding(id, false);
  } catch (err) {
    deciding(id, false, err.message);
  }
}

async function send() {
  const text = state.draft;
  if (!state.session || state.busy || !text.trim()) return;
  set({ draft: "", busy: true });
  bubble("user", text);
  try {
    const turn = await state.api.send("POST", `/v1/sessions/${encodeURIComponent(state.session.session_id)}/messages`, {
      text,
      message_id: newId(),
    });
    bubble("assistant", turn.reply);
    for (const p of turn.proposals || []) offer(p);
  } catch (err) {
    bubble("assistant", `Not sent: ${err.message}`);
  } finally {
    set({ busy: false });
  }
}

async function start() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", location.pathname + location.search); // out of the address bar
  if (!token) return fail("This chat needs a link from the business (it carries a session token).");
  const api = new Api(token, () => fail("This chat link has expired. Ask the business for a new one."));
  set({ api });
  try {
    const me = await api.get("/v1/me");
    const session = await api.send("POST", "/v1/sessions", { agent: me.agent, subject: me.subject });
    const [history, proposals] = await Promise.all([
      api.get(`/v1/sessions/${encodeURIComponent(session.session_id)}/messages`),
      api.get("/v1/proposals", { session_id: session.session_id }),
    ]);
    set({ session });
    if (session.greeting) bubble("assistant", session.greeting);
    for (const m of history.messages) bubble(m.role === "user" ? "user" : "assistant", m.content);
    for (const p of proposals.proposals.slice().reverse()) offer(p);
    set({ status: `Chatting as ${me.subject}.`, ready: true });
  } catch (err) {
    if (err.status !== 401) fail(`Could not start the chat: ${err.message}`);
  }
}

ui.message.addEventListener("input", () => set({ draft: ui.message.value }));
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

start();
