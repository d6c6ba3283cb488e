"""Plain language -> one tool call, for the offline ScriptedModel: any agent's tools.

`understand(text, tools)` picks the tool whose name and description share the
most words with `text` (tokenised, lightly stemmed, verbs folded to one word:
"look up", "find", "show" and "get" are one verb; a word of the name weighs
`NAME_WEIGHT`, of the description 1), if it scores at least `MIN_SCORE` and no
other tool scores as much. Then it fills the tool's arguments from the text,
guided by its JSON Schema: enums named in the text, ids like `o-42`, money
("$20", "20 dollars"), numbers, dates ("tomorrow", "friday", ISO) and times
("at 10", "3pm", "14:30"), quoted strings, and a value right after a
property's own word ("sku s-1", "amount 12.5"). A required argument it cannot
find is named back to the user instead of guessing (`Understood.missing`).

Deterministic and offline: the same text and tools give the same call.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .base import Plan, ToolSpec

NAME_WEIGHT = 2
MIN_SCORE = 2

# one word per verb: what the user says -> what a tool's name or description says
_VERBS = {
    "look": ("look", "lookup", "find", "get", "show", "fetch", "view", "search", "read"),
    "delete": ("delete", "remove", "erase", "drop"),
    "add": ("add", "create", "new", "insert"),
    "update": ("update", "change", "edit", "modify"),
    "refund": ("refund", "reimburse", "repay"),
    "list": ("list", "all", "every"),
}
_CANON = {w: verb for verb, words in _VERBS.items() for w in words}
_STOP_WORDS = """
a an the to for of and or my me i you your we our us please can could would will
it its is are be was on in at by with this that these those up from about what
which who how do does did any some there here now just want like need id ids
today tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday
am pm dollars dollar usd eur euros
"""
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[A-Za-z]+|\d+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def stem(word: str) -> str:
    """A light stemmer: enough that "refunds", "refunded" and "refunding" meet."""
    w = word.lower()
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ied"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("ses", "xes", "ches", "shes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return _CANON.get(w, _CANON.get(word.lower(), w))


def words(text: str) -> set[str]:
    """The meaningful stems of `text` (names split at `_`, `__` and camelCase)."""
    found = set()
    for raw in _WORD.findall(_CAMEL.sub(" ", text)):
        if raw.isdigit() or raw.lower() in _STOP:
            continue
        found.add(stem(raw))
    return found


@lru_cache(maxsize=4096)
def _tool_words(name: str, description: str) -> tuple[frozenset[str], frozenset[str]]:
    """A tool's name words (an MCP server's prefix left out) and description words."""
    return frozenset(words(name.split("__")[-1])), frozenset(words(description))


def score(text_words: set[str], spec: ToolSpec) -> int:
    name, desc = _tool_words(spec.name, spec.description)
    return sum(NAME_WEIGHT if w in name else 1 if w in desc else 0 for w in text_words)


@dataclass(frozen=True, slots=True)
class Understood:
    """What the text asks for: a call (`plan`), or a tool with arguments still
    `missing`, or tools it could be (`ambiguous`), or nothing."""

    plan: Plan = field(default_factory=list)
    tool: str = ""
    missing: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()


def choose(text: str, tools: Iterable[ToolSpec]) -> tuple[ToolSpec | None, tuple[str, ...]]:
    """The best tool for `text`, or None with the names that tie for best."""
    text_words = words(text)
    if not text_words:
        return None, ()
    scored = sorted(((score(text_words, t), i, t) for i, t in enumerate(tools)), key=_rank)
    if not scored or scored[0][0] < MIN_SCORE:
        return None, ()
    best = scored[0][0]
    tied = tuple(t.name for s, _, t in scored if s == best)
    return (scored[0][2], ()) if len(tied) == 1 else (None, tied)


def _rank(item: tuple[int, int, ToolSpec]) -> tuple[int, int]:
    return (-item[0], item[1])


def understand(text: str, tools: Iterable[ToolSpec], today: dt.date | None = None) -> Understood:
    spec, tied = choose(text, tools)
    if spec is None:
        return Understood(ambiguous=tied)
    args, missing = fill(text, spec.input_schema, today)
    if missing:
        return Understood(tool=spec.name, missing=missing)
    return Understood(plan=[(spec.name, args)], tool=spec.name)


# -- arguments --------------------------------------------------------------

_ID = re.compile(r"(?<![\w$.-])([A-Za-z]{1,12}[-_]?\d[\w-]*|[0-9a-f]{8}-[0-9a-f-]{27,})(?![\w-])")
_MONEY = re.compile(
    r"[$€£]\s?(\d+(?:\.\d+)?)"
    r"|(?<![\w.-])(\d+(?:\.\d+)?)\s*(?:dollars?|usd|euros?|eur|pounds?|gbp|[€£])(?!\w)",
    re.I,
)
_ISO_DATE = re.compile(r"\b(\d{4}-\d\d-\d\d)\b")
_CLOCK = re.compile(
    r"\b(?:at\s+)?(\d{1,2}):(\d\d)\s*(am|pm)?\b|\b(?:at\s+)?(\d{1,2})\s*(am|pm)\b", re.I
)
_AT_HOUR = re.compile(r"\bat\s+(\d{1,2})\b(?![:.\d])", re.I)
_NUMBER = re.compile(r"(?<![\w.$-])(\d+(?:\.\d+)?)(?![\w-]|:\d)")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|'([^']+)'")
_MONEY_NAMES = ("amount", "price", "cost", "total", "sum", "fee", "money", "refund")
_TEXT_NAMES = ("text", "note", "message", "reason", "comment", "body", "query", "content")


def _types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a property allows (`anyOf` / `type` lists flattened, null dropped)."""
    kinds = schema.get("type")
    found = set(kinds) if isinstance(kinds, list) else {kinds} if isinstance(kinds, str) else set()
    for alt in schema.get("anyOf", []) + schema.get("oneOf", []):
        if isinstance(alt, Mapping):
            found |= _types(alt)
    found.discard("null")
    return found or {"string"}


def _enum(schema: Mapping[str, Any]) -> list[Any]:
    values = list(schema.get("enum", []))
    for alt in schema.get("anyOf", []):
        if isinstance(alt, Mapping):
            values += list(alt.get("enum", []))
    return values


def _format(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    for alt in schema.get("anyOf", []):
        if isinstance(alt, Mapping) and not fmt:
            fmt = alt.get("format")
    return str(fmt or "")


def clock(hour: str, minute: str | None, ampm: str | None) -> str:
    h = int(hour)
    if ampm and ampm.lower() == "pm" and h < 12:
        h += 12
    if ampm and ampm.lower() == "am" and h == 12:
        h = 0
    return f"{h % 24:02d}:{int(minute or 0):02d}"


def day(text: str, today: dt.date | None = None) -> str | None:
    """An ISO date from "today", "tomorrow", a weekday (the next one) or an ISO date."""
    base = today or dt.datetime.now(dt.UTC).date()
    iso = _ISO_DATE.search(text)
    if iso:
        return iso.group(1)
    low = text.lower()
    if re.search(r"\btomorrow\b", low):
        return (base + dt.timedelta(days=1)).isoformat()
    if re.search(r"\btoday\b", low):
        return base.isoformat()
    for i, name in enumerate(_DAYS):
        if re.search(rf"\b{name}\b", low):
            return (base + dt.timedelta(days=(i - base.weekday()) % 7 or 7)).isoformat()
    return None


def time_of(text: str) -> str | None:
    m = _CLOCK.search(text)
    if m:
        if m.group(1):
            return clock(m.group(1), m.group(2), m.group(3))
        return clock(m.group(4), None, m.group(5))
    at = _AT_HOUR.search(text)
    return clock(at.group(1), None, None) if at else None


class _Text:
    """The text, with the spans already given to an argument blanked out."""

    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, pattern: re.Pattern[str], group: int | None = None) -> re.Match[str] | None:
        m = pattern.search(self.text)
        if m is not None:
            start, end = m.span(group) if group is not None else m.span()
            self.text = self.text[:start] + " " * (end - start) + self.text[end:]
        return m


def _after(prop: str) -> re.Pattern[str]:
    """A value written right after the property's own word: "sku s-1", "amount: 12"."""
    word = re.escape(prop.replace("_id", "").replace("_", " ").split()[-1] if prop else prop)
    return re.compile(
        rf"\b{word}s?\b(?:\s+(?:is|=|of|number|id|no\.?))?\s*[:=]?\s*([^\s,;.!?]+(?:\.\d+)?)", re.I
    )


def _coerce(value: Any, kinds: set[str]) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if "integer" in kinds and re.fullmatch(r"-?\d+", value):
            return int(value)
        if "number" in kinds and re.fullmatch(r"-?\d+(?:\.\d+)?", value):
            return float(value)
    except ValueError:
        return value
    if "boolean" in kinds and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    return value


def coerce_args(args: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, object]:
    """Template strings turned into the types the schema asks for ("20" -> 20.0)."""
    props = schema.get("properties", {})
    out = {}
    for name, value in args.items():
        prop = props.get(name)
        out[name] = _coerce(value, _types(prop)) if isinstance(prop, Mapping) else value
    return out


def fill(
    text: str, schema: Mapping[str, Any], today: dt.date | None = None
) -> tuple[dict[str, object], tuple[str, ...]]:
    """The arguments `text` gives for `schema`, and the required ones it does not."""
    props: Mapping[str, Any] = schema.get("properties", {}) or {}
    required = [r for r in schema.get("required", []) if isinstance(r, str)]
    rest = _Text(text)
    args: dict[str, object] = {}
    # the most specific first: enums, dates and times, money, ids, then the rest
    order = sorted(props, key=lambda n: _priority(n, props[n]))
    for name in order:
        prop = props[name]
        if not isinstance(prop, Mapping):
            continue
        value = _value(name, prop, rest, today)
        if value is not None:
            args[name] = _coerce(value, _types(prop))
    missing = tuple(r for r in required if r not in args)
    return args, missing


def _kind(name: str, prop: Mapping[str, Any]) -> str:
    kinds, fmt, low = _types(prop), _format(prop), name.lower()
    if _enum(prop):
        return "enum"
    if fmt == "date-time":
        return "datetime"
    if fmt == "date" or low in ("date", "day") or low.endswith(("_date", "_day")):
        return "date"
    if fmt == "time" or low in ("time", "hour") or low.endswith(("_time", "_at")):
        return "time"
    if kinds & {"number", "integer"}:
        return "money" if any(m in low for m in _MONEY_NAMES) else "number"
    if low == "id" or low.endswith(("_id", "id", "sku", "code", "ref", "number")):
        return "id"
    if any(t in low for t in _TEXT_NAMES):
        return "text"
    return "string"


def _priority(name: str, prop: Any) -> int:
    kinds = ("enum", "datetime", "date", "time", "money", "id", "number", "text", "string")
    return kinds.index(_kind(name, prop)) if isinstance(prop, Mapping) else len(kinds)


def _value(name: str, prop: Mapping[str, Any], rest: _Text, today: dt.date | None) -> Any:
    kind = _kind(name, prop)
    if kind == "enum":
        for option in _enum(prop):
            m = rest.take(re.compile(rf"\b{re.escape(str(option))}\b", re.I))
            if m:
                return option
        return None
    if kind in ("date", "datetime"):
        found = day(rest.text, today)
        if found is None:
            return None
        if kind == "date":
            return found
        at = time_of(rest.text)
        return f"{found}T{at or '00:00'}:00"
    if kind == "time":
        found_time = time_of(rest.text)
        if found_time:
            rest.take(_CLOCK) or rest.take(_AT_HOUR)
        return found_time
    if kind == "money":
        m = rest.take(_MONEY)
        if m:
            return m.group(1) or m.group(2)
        return _near(name, rest) or _group(rest.take(_NUMBER))
    if kind == "number":
        return _near(name, rest) or _group(rest.take(_NUMBER))
    if kind == "id":
        near = _near(name, rest, _ID)
        return near or _group(rest.take(_ID))
    quoted = rest.take(_QUOTED)
    if quoted:
        return next(g for g in quoted.groups() if g)
    return _near(name, rest)


def _group(m: re.Match[str] | None) -> str | None:
    return m.group(1) if m else None


def _near(name: str, rest: _Text, shape: re.Pattern[str] | None = None) -> str | None:
    """The word written right after the property's name, if it has the right shape."""
    m = _after(name).search(rest.text)
    if m is None:
        return None
    value = m.group(1).strip("\"'")
    if shape is not None and not shape.fullmatch(value):
        return None
    if value.lower() in _STOP:
        return None
    rest.text = rest.text[: m.start(1)] + " " * (m.end(1) - m.start(1)) + rest.text[m.end(1) :]
    return value
