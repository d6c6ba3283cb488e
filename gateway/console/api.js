// The console's client of the HTTP API (API.md): the key, JSON calls and
// the streamed message turn.
//
// The key comes from the URL fragment of the banner link (`/ui#key=...`,
// which the browser never sends to the server) or from the key box; it is
// kept in sessionStorage (this tab only) and sent as a bearer token.

import { readEvents } from "./sse.js";

const KEY_SLOT = "orchestra.key";

/** The key in the fragment, if any, removed from the address bar; else the stored one. */
export function takeKey() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLink = fragment.get("key");
  if (fromLink !== null) {
    history.replaceState(null, "", location.pathname + location.search);
    if (fromLink) saveKey(fromLink);
    return fromLink || null;
  }
  return sessionStorage.getItem(KEY_SLOT);
}

export function saveKey(key) {
  sessionStorage.setItem(KEY_SLOT, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_SLOT);
}

/** A failed call: the HTTP status (0: no answer) and the API's error body. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || (status ? `HTTP ${status}` : "the gateway did not answer"));
    this.status = status;
    this.error = error || {};
  }
}

/** A random id (crypto.randomUUID needs a secure context; this does not). */
export function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return new ApiError(response.status, body?.error);
  } catch {
    return new ApiError(response.status, null);
  }
}

export class Api {
  constructor(key, onUnauthorized, onNetworkError = null) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
    this.onNetworkError = onNetworkError; // no answer at all (the gateway is down)
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  async fetch(path, init) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (exc) {
      this.onNetworkError?.(exc);
      throw new ApiError(0, { type: "network", message: "the gateway did not answer" });
    }
    if (response.status === 401) {
      const err = await errorOf(response);
      this.onUnauthorized(err);
      throw err;
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async get(path, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") query.set(name, value);
    }
    const qs = query.toString();
    const url = qs ? `${path}?${qs}` : path;
    return (await this.fetch(url, { headers: this.headers() })).json();
  }

  async send(method, path, body) {
    const init = { method, headers: this.headers() };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return (await this.fetch(path, init)).json();
  }

  /**
   * One message turn as server-sent events: calls `on[event](data)` for each
   * `token`, `tool_call`, `proposal`, `done` and `error` event as it arrives.
   * A gateway that answers with plain JSON instead is taken as one `done`.
   * `seen`: the pending proposals the user has on screen (API.md: a pending
   * T2 is soft-confirmed only by a message that was sent after it reached the
   * client, or that names it here).
   * Returns the name of the last event handled.
   */
  async streamTurn(sessionId, text, on, messageId = newId(), seen = []) {
    const response = await this.fetch(`/v1/sessions/${encodeURIComponent(sessionId)}/messages`, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ text, message_id: messageId, seen }),
    });
    const type = response.headers.get("content-type") || "";
    if (!type.startsWith("text/event-stream")) {
      on.done?.(await response.json());
      return "done";
    }
    let last = null;
    for await (const frame of readEvents(response.body)) {
      let data;
      try {
        data = JSON.parse(frame.data);
      } catch {
        continue; // not one of API.md's events
      }
      on[frame.event]?.(data);
      last = frame.event;
      if (frame.event === "done" || frame.event === "error") break;
    }
    return last;
  }
}
