// Server-sent events read from a fetch() body (EventSource cannot POST).
//
// The gateway answers `POST /v1/sessions/{id}/messages` with
// `Accept: text/event-stream` as frames of `id:`, `event:` and `data:` lines
// ended by a blank line (API.md, Messages). This parser follows the HTML
// standard's rules for the fields it needs: a leading space after the colon is
// dropped, several `data:` lines join with "\n", lines starting with ":" are
// comments, and CRLF, LF or CR end a line. A frame cut off by the end of the
// stream is discarded, as EventSource would.

/** One parsed frame: {id, event, data} (data is the raw text, usually JSON). */
export function parseFrame(block) {
  let id = null;
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { id, event, data: data.join("\n") } : null;
}

/** Split buffered text into complete frames; returns [frames, rest]. */
export function splitFrames(buffer) {
  const text = buffer.replace(/\r\n?/g, "\n");
  const blocks = text.split("\n\n");
  const rest = blocks.pop();
  return [blocks.map(parseFrame).filter((f) => f !== null), rest];
}

/** Yield the frames of a ReadableStream of bytes as they arrive. */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      // A CR at the very end may be the first half of a CRLF: keep it for later.
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const [frames, rest] = splitFrames(buffer.slice(0, cut));
      buffer = rest + buffer.slice(cut);
      yield* frames;
    }
  } finally {
    reader.releaseLock();
  }
}
