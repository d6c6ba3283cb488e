// The console's one state object: every view reads `state`, and only the named
// updates below change it (so a reader finds every change of it here).
//
// What the server knows about a proposal (its hint, whether it is final, who
// may approve it) is never derived here: the views show the server's fields.

export const state = {
  api: null, // the Api of the connected key or token (null: not connected)
  me: null, // GET /v1/me
  reachable: true, // does the gateway answer (the heartbeat)
  session: null, // the open session
  cards: new Map(), // proposal_id -> ProposalCard of the open session
  busy: false, // a message is on its way
  nextCursor: null, // the session list's next page
  stateTick: () => {}, // the state panel's clock
  lastPoll: 0, // when the proposals were last fetched (ms)
  lastInbox: 0, // when the inbox was last fetched (ms)
};

/** A key or token was accepted (an Api), or dropped (null). */
export function setApi(api) {
  state.api = api;
  if (api) state.reachable = true;
}

export function setMe(me) {
  state.me = me;
}

export function setReachable(online) {
  state.reachable = online;
}

/** Open a session: its cards start empty. */
export function setSession(session) {
  state.session = session;
  state.cards.clear();
}

export function addCard(card) {
  state.cards.set(card.id, card);
}

export function setBusy(busy) {
  state.busy = busy;
}

export function setCursor(cursor) {
  state.nextCursor = cursor;
}

export function setStateTick(tick) {
  state.stateTick = tick;
}

/** Note a fetch of "proposals" or "inbox" now. */
export function polled(what) {
  if (what === "inbox") state.lastInbox = Date.now();
  else state.lastPoll = Date.now();
}
