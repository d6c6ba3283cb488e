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

/** Make a node's text `value` (its children one text node); unchanged text is left alone. */
export function setText(node, value) {
  const text = String(value);
  if (node.textContent !== text || node.childNodes.length > 1) node.textContent = text;
}

/** Show or hide a node (the `hidden` attribute), touching it only on a change. */
export function show(node, visible) {
  if (node.hidden === visible) node.hidden = !visible;
}

/**
 * Make `parent`'s element children exactly `nodes`, in order, moving as little as
 * possible: the children not in `nodes` leave first, then each node takes its place
 * (a node already there stays put). A render step draws a list with it, keeping the
 * nodes of items that did not change.
 */
export function place(parent, nodes) {
  const keep = new Set(nodes);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let at = parent.firstElementChild;
  for (const node of nodes) {
    if (node === at) at = at.nextElementSibling;
    else parent.insertBefore(node, at);
  }
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
