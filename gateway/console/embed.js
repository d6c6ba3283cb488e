// The embeddable chat: a customer's browser talking to one session with a
// session token (docs/EMBED.md).
//
// The tenant's backend mints the token (POST /v1/session-tokens, with its own
// key, which never reaches the browser) and opens this page with the token in
// the URL fragment: `/ui/embed#token=ost_...` (never sent to a server). The
// page asks who it is (GET /v1/me), opens that one session, sends messages
// and shows the proposals it may confirm. Everything it shows is text.

import { Api, newId } from "./api.js";
import { el, setText } from "./dom.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("embed-status"),
  log: $("embed-log"),
  form: $("embed-form"),
  message: $("embed-message"),
  send: $("embed-send"),
};
const offers = new Map();
let api = null;
let session = null;

function bubble(role, text) {
  ui.log.append(el("p", { class: `bubble ${role}` }, text));
  ui.log.lastElementChild.scrollIntoView?.({ block: "end" });
}

function fail(message) {
  setText(ui.status, message);
  ui.message.disabled = true;
  ui.send.disabled = true;
}

function offer(p) {
  const known = offers.get(p.proposal_id);
  if (known) {
    known.update(p);
    return;
  }
  const status = el("span", { class: "offer-status" });
  const confirm = el("button", { type: "button" }, "Confirm");
  const reject = el("button", { type: "button" }, "Cancel");
  const node = el(
    "article",
    { class: "offer", "aria-label": p.tool, "data-proposal-id": p.proposal_id },
    el("p", {}, p.preview),
    el("p", {}, "Status: ", status),
    el("div", { class: "actions" }, confirm, reject),
  );
  const update = (q) => {
    setText(status, q.status === "PENDING" && !q.can_approve ? "PENDING (waiting for the business)" : q.status);
    confirm.hidden = reject.hidden = !(q.status === "PENDING" && q.can_approve && q.tier === "T3");
  };
  const decide = async (verb) => {
    confirm.disabled = reject.disabled = true;
    try {
      update(await api.send("POST", `/v1/proposals/${encodeURIComponent(p.proposal_id)}/${verb}`));
    } catch (err) {
      setText(status, `${err.message}`);
      confirm.disabled = reject.disabled = false;
    }
  };
  confirm.addEventListener("click", () => decide("confirm"));
  reject.addEventListener("click", () => decide("reject"));
  offers.set(p.proposal_id, { update });
  update(p);
  ui.log.append(node);
}

async function send(text) {
  if (!session || !text.trim()) return;
  ui.message.value = "";
  ui.send.disabled = true;
  bubble("user", text);
  try {
    const turn = await api.send("POST", `/v1/sessions/${encodeURIComponent(session.session_id)}/messages`, {
      text,
      message_id: newId(),
    });
    bubble("assistant", turn.reply);
    for (const p of turn.proposals || []) offer(p);
  } catch (err) {
    bubble("assistant", `Not sent: ${err.message}`);
  } finally {
    ui.send.disabled = false;
  }
}

async function start() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", location.pathname + location.search); // out of the address bar
  if (!token) return fail("This chat needs a link from the business (it carries a session token).");
  api = new Api(token, () => fail("This chat link has expired. Ask the business for a new one."));
  try {
    const me = await api.get("/v1/me");
    session = await api.send("POST", "/v1/sessions", { agent: me.agent, subject: me.subject });
    const [history, proposals] = await Promise.all([
      api.get(`/v1/sessions/${encodeURIComponent(session.session_id)}/messages`),
      api.get("/v1/proposals", { session_id: session.session_id }),
    ]);
    if (session.greeting) bubble("assistant", session.greeting);
    for (const m of history.messages) bubble(m.role === "user" ? "user" : "assistant", m.content);
    for (const p of proposals.proposals.slice().reverse()) offer(p);
    setText(ui.status, `Chatting as ${me.subject}.`);
    ui.message.disabled = false;
    ui.send.disabled = false;
    ui.message.focus();
  } catch (err) {
    if (err.status !== 401) fail(`Could not start the chat: ${err.message}`);
  }
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  send(ui.message.value);
});

start();
