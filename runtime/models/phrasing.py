"""Tool results as short text a person reads: the ScriptedModel's summaries.

`summarise(outcome)` turns one tool result into a sentence: a JSON object
becomes "Lookup order: order id o-42, status shipped.", a list "3 results:
...", text stays text; nested values are flattened, and the whole is capped at
`MAX_CHARS`. Never a JSON dump. `join_lines` says identical lines once, with
their count ("... (x10)").
"""

from __future__ import annotations

import orjson

from .base import ToolOutcome

MAX_CHARS = 300
MAX_ITEMS = 8


def humane(name: str) -> str:
    """`crm__get_customer` -> "Get customer"; `lookup_order` -> "Lookup order"."""
    words = name.split("__")[-1].replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _value(value: object, depth: int = 0) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    if isinstance(value, dict):
        if depth > 1:
            return "..."
        return "; ".join(f"{_key(k)} {_value(v, depth + 1)}" for k, v in value.items())
    if isinstance(value, list):
        items = [_item(v, depth + 1) for v in value[:MAX_ITEMS]]
        more = f" and {len(value) - MAX_ITEMS} more" if len(value) > MAX_ITEMS else ""
        return (", ".join(items) + more) if items else "none"
    return str(value)


def _item(value: object, depth: int) -> str:
    """One element of a list: a record by its name or id, else its values."""
    if isinstance(value, dict):
        for key in ("name", "title", "id"):
            if key in value:
                return str(value[key])
        return "(" + _value(value, depth) + ")"
    return _value(value, depth)


def _key(key: object) -> str:
    return str(key).replace("_", " ")


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3].rstrip() + "..."


def summarise(outcome: ToolOutcome) -> str:
    """One tool result as a short sentence."""
    content = outcome.content
    if outcome.is_error:  # the runtime's own words ("x failed: backend down"), plainly
        return _sentence(_cap(content))
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return _cap(content)
    label = humane(outcome.name)
    if isinstance(data, dict):
        if not data:
            return f"{label}: done."
        return _cap(f"{label}: {_value(data)}.")
    if isinstance(data, list):
        if not data:
            return f"{label}: nothing found."
        count = f"{len(data)} result{'s' if len(data) != 1 else ''}"
        return _cap(f"{label}: {count}: {_value(data)}.")
    if isinstance(data, str):
        return _cap(data)
    return _cap(f"{label}: {_value(data)}.")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def join_lines(lines: list[str]) -> str:
    """The lines in order, each distinct one once (a repeated one with its count)."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return " ".join(line if n == 1 else _counted(line, n) for line, n in counts.items())


def _counted(line: str, n: int) -> str:
    """ "Stock: sku s-1." said 10 times -> "Stock: sku s-1 (x10)." """
    if line.endswith((".", "!", "?")):
        return f"{line[:-1]} (x{n}){line[-1]}"
    return f"{line} (x{n})"
