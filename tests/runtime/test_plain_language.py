"""The scripted model drives a declared agent's own tools from plain language.

The agent is docs/TOOLS.md's order desk (`tests/support/acme_tools.py`: look
an order up, note it, refund it), built from a config file as `orchestra serve`
builds it, and run in-process (LocalBackend, MemoryStore). The words of a
message pick the tool and fill its arguments from its JSON Schema; a declared
agent's `[[agents.NAME.script]]` rules come first; `!tools` stays the exact
form. Replies are short text, failures carry a short, redacted reason and are
logged once, and the model reports its usage in words.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from runtime import Inbound, logs, metrics
from runtime.backends.local import LocalBackend
from runtime.config.settings import Settings, build_catalog
from runtime.errors import ConfigError
from runtime.models.base import ModelRequest, ToolSpec, user_text
from runtime.models.phrasing import summarise
from runtime.models.scripted import ScriptedModel
from runtime.models.understand import fill, understand
from runtime.redact import reason
from runtime.redact import redact_error_text as redact
from runtime.store.memory import MemoryStore
from runtime.tools import load_tool

TENANT = "acme"
SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c"
TOOLS = {
    "lookup_order": {"python": "tests.support.acme_tools:lookup_order"},
    "note_order": {"python": "tests.support.acme_tools:note_order"},
    "refund_order": {"python": "tests.support.acme_tools:refund_order"},
    "warehouse_stock": {"python": "tests.support.acme_tools:warehouse_stock"},
    "cancel_shipment": {"python": "tests.support.acme_tools:cancel_shipment"},
}
DESK = {
    "preset": "chatbot",
    "system_prompt": "You are the order desk of {tenant_name}.",
    "tools": list(TOOLS),
    "script": [
        {
            "match": r"(?i)money back on (?P<order_id>[a-z]-\d+) \$(?P<amount>\d+)",
            "tool": "refund_order",
            "args": {"order_id": "{order_id}", "amount": "{amount}"},
        }
    ],
}


def desk_specs() -> list[ToolSpec]:
    names = ("lookup_order", "note_order", "refund_order")
    return [load_tool(f"tests.support.acme_tools:{n}").spec() for n in names]


def catalog(data: dict[str, Any]) -> Any:
    return build_catalog(Settings(config_data=data, config_source="orchestra.toml"))


@pytest.fixture
def desk() -> LocalBackend:
    data = {"demo": False, "agents": {"desk": DESK}, "tools": TOOLS}
    return LocalBackend(MemoryStore(), catalog(data))


async def turn(rt: LocalBackend, sid: str, text: str) -> dict[str, Any]:
    return dict(await rt.send_message(Inbound(TENANT, sid, text)))


async def session(rt: LocalBackend) -> str:
    info, _ = await rt.create_session(TENANT, "desk", "u1")
    return str(info["session_id"])


def calls(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["tool"], c["tier"], c["status"]) for c in r["tool_calls"]]


def no_json(reply: str) -> str:
    assert '{"' not in reply and '":' not in reply, reply
    return reply


# -- the planner -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("look up order o-42", [("lookup_order", {"order_id": "o-42"})]),
        ("find order A-7", [("lookup_order", {"order_id": "A-7"})]),
        (
            "refund order o-42 for 20 dollars",
            [("refund_order", {"order_id": "o-42", "amount": 20.0})],
        ),
        ("please refund o-42 $12.50", [("refund_order", {"order_id": "o-42", "amount": 12.5})]),
        ("refunding order o-9", [("refund_order", {"order_id": "o-9"})]),
        (
            'add a note to order o-1: "late again"',
            [("note_order", {"order_id": "o-1", "text": "late again"})],
        ),
    ],
)
def test_the_words_pick_the_tool_and_the_schema_fills_its_arguments(
    text: str, plan: list[tuple[str, dict[str, Any]]]
) -> None:
    assert understand(text, desk_specs()).plan == plan


@pytest.mark.parametrize("text", ["hello", "thanks!", "yes, go ahead", "no", "see you tomorrow"])
def test_small_talk_calls_nothing(text: str) -> None:
    found = understand(text, desk_specs())
    assert (found.plan, found.tool, found.ambiguous) == ([], "", ())


def test_a_required_argument_not_in_the_text_is_asked_for() -> None:
    found = understand("look up my order", desk_specs())
    assert (found.plan, found.tool, found.missing) == ([], "lookup_order", ("order_id",))


def test_dates_times_enums_and_numbers_follow_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "size": {"type": "string", "enum": ["small", "large"]},
            "day": {"type": "string", "format": "date"},
            "time": {"type": "string"},
            "guests": {"type": "integer"},
            "starts_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        },
        "required": ["size", "day", "time", "guests"],
    }
    today = dt.date(2026, 12, 7)  # a Monday
    args, missing = fill("a LARGE table for 4 on friday at 7:30pm", schema, today)
    assert missing == ()
    assert args["size"] == "large" and args["guests"] == 4
    assert (args["day"], args["time"]) == ("2026-12-11", "19:30")
    assert args["starts_at"] == "2026-12-11T19:30:00"
    args, missing = fill("small table tomorrow at 10 for 2", schema, today)
    assert (args["day"], args["time"], args["guests"]) == ("2026-12-08", "10:00", 2)
    assert fill("2027-01-02 at 3pm", schema, today)[1] == ("size", "guests")


def test_a_result_is_said_as_short_text_never_as_json() -> None:
    from runtime.models.base import ToolOutcome

    order = orjson.dumps({"order_id": "o-42", "status": "shipped", "items": [{"name": "lamp"}]})
    said = summarise(ToolOutcome("lookup_order", {}, order.decode()))
    assert said == "Lookup order: order id o-42; status shipped; items lamp."
    many = orjson.dumps([{"id": f"c-{i}"} for i in range(12)]).decode()
    assert summarise(ToolOutcome("crm__list", {}, many)) == (
        "List: 12 results: c-0, c-1, c-2, c-3, c-4, c-5, c-6, c-7 and 4 more."
    )
    assert summarise(ToolOutcome("crm__add_note", {}, "noted for c-1")) == "noted for c-1"


# -- a declared agent, end to end in process ----------------------------------------


async def test_the_order_desk_of_tools_md_works_from_plain_language(desk: LocalBackend) -> None:
    sid = await session(desk)
    r = await turn(desk, sid, "look up order o-42")
    assert calls(r) == [("lookup_order", "T1", "ok")]
    assert no_json(r["reply"]) == "Lookup order: order id o-42; status shipped; tenant acme."

    r = await turn(desk, sid, "refund order o-42 for 20 dollars")
    assert calls(r) == [("refund_order", "T3", "proposed")]
    [p] = r["proposals"]
    assert (await desk.book.get(TENANT, p["proposal_id"])).args == {
        "order_id": "o-42",
        "amount": 20.0,
    }
    assert no_json(r["reply"]) == (
        "Proposed: refund_order(order_id=o-42, amount=20.0). Waiting for your confirmation."
    )
    done = await desk.confirm(TENANT, p["proposal_id"])
    assert done["status"] == "EXECUTED" and done["result"]["logged"] == "refund o-42 20"

    r = await turn(desk, sid, "look up my order")
    assert r["tool_calls"] == []
    assert r["reply"] == "I can do that with lookup_order, but I need the order id."


async def test_script_rules_come_first_and_type_their_arguments(desk: LocalBackend) -> None:
    sid = await session(desk)
    r = await turn(desk, sid, "Money back on o-7 $15 please")
    [p] = r["proposals"]
    stored = await desk.book.get(TENANT, p["proposal_id"])
    assert (stored.tool, stored.args) == ("refund_order", {"order_id": "o-7", "amount": 15.0})


async def test_the_exact_form_stays(desk: LocalBackend) -> None:
    sid = await session(desk)
    r = await turn(desk, sid, '!tools lookup_order {"order_id": "o-1"}; lookup_order*2 {}')
    assert calls(r) == [("lookup_order", "T1", "ok")] + [("lookup_order", "T1", "invalid")] * 2


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"match": "refund (", "tool": "refund_order"}, r"\.match: .*not a valid regular"),
        (
            {"match": "refund (?P<id>\\S+)", "tool": "refund_order", "args": {"x": "{order}"}},
            r": .*args\.x: \{order\} is not a named group of `match` \(groups: id\)",
        ),
        ({"match": "refund", "tool": "refnd"}, r"\.tool: no tool 'refnd' \(its tools: "),
        ({"match": "x", "tool": "y", "argz": {}}, r"\.argz: unknown key"),
    ],
)
def test_a_bad_script_rule_stops_the_start(rule: dict[str, Any], says: str) -> None:
    data = {"agents": {"desk": DESK | {"script": [rule]}}, "tools": TOOLS}
    with pytest.raises(ConfigError, match=r"^orchestra\.toml: agents\.desk\.script\.0" + says):
        catalog(data)


def test_script_rules_are_for_declared_agents() -> None:
    lab = {"class": "runtime.testing.agents:LabOrchestrator"}
    data = {"demo": False, "agents": {"lab": lab | {"script": [{"match": "x", "tool": "echo"}]}}}
    with pytest.raises(ConfigError, match=r"agents.lab.script: script rules are for declared"):
        catalog(data)


# -- failures: a short, safe reason, logged once ------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The process's JSON log lines, into a buffer (our handler first in line)."""
    out = io.StringIO()
    handler = logs.JsonLinesHandler(out)
    logs.logger.handlers.insert(0, handler)
    try:
        yield out
    finally:
        handler.flush()
        logs.logger.removeHandler(handler)


def logged(out: io.StringIO, event: str) -> list[dict[str, Any]]:
    for h in logs.logger.handlers:
        h.flush()
    lines = [orjson.loads(x) for x in out.getvalue().splitlines() if x]
    return [x for x in lines if x["event"] == event]


async def test_a_tool_that_raises_says_why_without_its_secrets(
    desk: LocalBackend, log_lines: io.StringIO
) -> None:
    sid = await session(desk)
    token = logs.REQUEST_ID.set("req-stock-1")
    try:
        r = await turn(desk, sid, "check the warehouse stock of sku w-1")
    finally:
        logs.REQUEST_ID.reset(token)
    assert calls(r) == [("warehouse_stock", "T1", "error")]
    assert r["reply"] == (
        "warehouse_stock failed: backend down (Authorization: Bearer [redacted])."
    )
    assert SECRET not in str(r)
    audit = await desk.audit(TENANT, sid)
    [call] = [e for e in audit if e["type"] == "tool_call"]
    assert call["reason"] == "backend down (Authorization: Bearer [redacted])"
    [failed] = logged(log_lines, "tool_failed")  # once
    assert (failed["tool"], failed["tier"], failed["session_id"]) == ("warehouse_stock", "T1", sid)
    assert failed["request_id"] == "req-stock-1"
    assert failed["error"] == "RuntimeError"
    assert "acme_tools.py" in failed["traceback"] and "RuntimeError" in failed["traceback"]
    assert SECRET not in log_lines.getvalue()


def test_redaction_masks_what_looks_like_a_secret_and_caps_the_length() -> None:
    assert redact("GET https://bob:hunter2@db.internal/x") == "GET https://[redacted]@db.internal/x"
    assert redact("password=hunter2 user=bob") == "password=[redacted] user=bob"
    assert redact('{"api_key": "abc123"}') == '{"api_key": "[redacted]"}'
    assert "orc_" not in redact("key orc_AbCdEfGhIjKlMnOp rejected")
    long = reason(RuntimeError("the backend said no " * 50))
    assert long.endswith("...") and len(long) <= 160
    assert redact("token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") == (
        "token [redacted]"
    )
    assert redact("in /work/src/acme/tools.py line 12") == "in /work/src/acme/tools.py line 12"
    assert reason(RuntimeError()) == "RuntimeError"


# -- usage: words as tokens ----------------------------------------------------------


async def test_the_scripted_model_reports_its_usage() -> None:
    model = ScriptedModel()
    spec = desk_specs()[0]
    req = ModelRequest(system="You are a desk.", messages=(user_text("look up order o-1"),))
    answer = await model.complete(req)
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (8, 13)
    call = await model.complete(ModelRequest(system="desk", messages=req.messages, tools=(spec,)))
    assert call.tool_uses and call.usage.input_tokens == 5 and call.usage.output_tokens == 3


async def test_the_demo_fills_the_token_counter(desk: LocalBackend) -> None:
    def tokens(kind: str) -> float:
        return float(metrics.MODEL_TOKENS.labels("scripted", kind)._value.get())

    before = (tokens("input"), tokens("output"))
    sid = await session(desk)
    await turn(desk, sid, "look up order o-42")
    assert tokens("input") > before[0] and tokens("output") > before[1]


async def test_an_approved_write_that_raises_fails_with_a_safe_reason(
    desk: LocalBackend, log_lines: io.StringIO
) -> None:
    sid = await session(desk)
    r = await turn(desk, sid, "cancel the shipment of order o-3")
    [p] = r["proposals"]
    done = await desk.confirm(TENANT, p["proposal_id"])
    assert done["status"] == "FAILED"
    why = "RuntimeError: carrier down (https://carrier.example:443)"  # the endpoint only
    assert done["result"] == {"error": why}
    audit = await desk.audit(TENANT, sid)
    [failed_event] = [e for e in audit if e.get("to") == "FAILED"]
    assert failed_event["reason"] == why
    [line] = logged(log_lines, "tool_failed")
    assert (line["tool"], line["tier"], line["proposal_id"]) == (
        "cancel_shipment",
        "T3",
        p["proposal_id"],
    )
    assert "hunter2" not in log_lines.getvalue() and "hunter2" not in str(audit)
