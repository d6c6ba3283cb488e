// Building DOM nodes from data, as text only.
//
// Every string that reaches the page (model replies, user messages, tool
// previews and results, error messages) goes through `el` or `text`, which
// create text nodes: nothing is ever parsed as HTML, so a message such as
// `<img src=x onerror=alert(1)>` shows those characters and runs nothing.

/**
 * el("p", {class: "x", "aria-label": "..."}, "text", childNode, ...)
 * Attribute values are set with setAttribute (never `on*` handlers: listeners
 * are added with addEventListener by the caller). Children: nodes or strings.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error(`el(): no inline handlers (${name})`);
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined).map(asNode));
  return node;
}

function asNode(child) {
  return child instanceof Node ? child : document.createTextNode(String(child));
}

/** Replace a node's children with one text node. */
export function setText(node, value) {
  node.textContent = String(value);
}

/** Seconds as "m:ss" (or "h:mm:ss"), for countdowns. */
export function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** An epoch-seconds time as the browser's local clock time. */
export function clock(at) {
  return new Date(at * 1000).toLocaleTimeString();
}

/** A unique id for aria-labelledby and the like. */
let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}
