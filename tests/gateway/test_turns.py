"""The turn inspector over real HTTP: `GET /v1/sessions/{id}/turns[/{n}]`.

Each turn's steps in order with durations (model calls, tool calls with tier,
arguments and result or error, proposals made or decided, the budget, breaker
changes), redacted and capped, scoped to the session's tenant. Runs on the
in-process backend and on real Ray actors with the real store.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from runtime.turnlog import SHOWN_CHARS

from .conftest import new_session, say

SECRET = "sk-live-0123456789abcdefghij"


def turns(api: httpx.Client, sid: object) -> list[dict[str, Any]]:
    r = api.get(f"/v1/sessions/{sid}/turns")
    assert r.status_code == 200, r.text
    listed: list[dict[str, Any]] = r.json()["turns"]
    return listed


def turn(api: httpx.Client, sid: object, n: int) -> dict[str, Any]:
    r = api.get(f"/v1/sessions/{sid}/turns/{n}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_turn_shows_its_model_and_tool_calls_in_order(api: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    say(api, sid, '!tools echo; slow {"seconds": 0.05}')
    [summary] = turns(api, sid)
    assert summary["n"] == 1 and summary["agent"] == "lab" and summary["step_count"] >= 5
    t = turn(api, sid, 1)
    kinds = [s["kind"] for s in t["steps"]]
    # model -> echo -> model -> slow -> model (the answer), then the budget
    assert kinds == ["model", "tool", "model", "tool", "model", "budget"], kinds
    ats = [s["at"] for s in t["steps"]]
    assert ats == sorted(ats)
    echo, slow = (s for s in t["steps"] if s["kind"] == "tool")
    assert (echo["tool"], echo["tier"], echo["status"]) == ("echo", "T1", "ok")
    assert echo["result"]["session"] == sid and echo["call_id"]
    assert slow["arguments"] == {"seconds": 0.05} and slow["result"] == {"slept": 0.05}
    assert slow["ms"] >= 45, slow  # it slept 50 ms
    assert t["ms"] >= slow["ms"]
    model = t["steps"][0]
    assert model["status"] == "ok" and model["tool_calls"] == 1
    assert isinstance(model["input_tokens"], int) and isinstance(model["output_tokens"], int)
    budget = t["steps"][-1]
    assert budget["used"]["T1"] == 2 and budget["left"]["T1"] == budget["left"]["T1"]
    assert budget["used"]["T1"] + budget["left"]["T1"] >= 2


def test_proposals_made_and_decided_breaker_and_errors(api: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    body = say(api, sid, '!tools slow_effect {"seconds": 0}')
    [p] = body["proposals"]
    made = turn(api, sid, 1)["steps"]
    [call] = [s for s in made if s["kind"] == "tool"]
    [proposed] = [s for s in made if s["kind"] == "proposal"]
    assert (call["status"], call["tier"], call["proposal_id"]) == (
        "proposed",
        "T2",
        p["proposal_id"],
    )
    assert (proposed["decision"], proposed["status"]) == ("proposed", "PENDING")
    # the next message soft-confirms it, and a failing tool three times opens the breaker
    say(api, sid, "!tools fail*4")
    decided = turn(api, sid, 2)
    [soft] = [s for s in decided["steps"] if s["kind"] == "proposal"]
    assert soft["proposal_id"] == p["proposal_id"]
    assert (soft["decision"], soft["status"]) == ("soft_confirm", "EXECUTED")
    assert soft["result"] == {"effect": True}
    failed = [s for s in decided["steps"] if s["kind"] == "tool"]
    assert [s["status"] for s in failed] == ["error", "error", "error", "breaker_open"]
    assert "failed on purpose" in failed[0]["error"] and "result" not in failed[0]
    [opened] = [s for s in decided["steps"] if s["kind"] == "breaker"]
    assert (opened["from"], opened["to"]) == ("closed", "open")
    assert decided["breaker"] == "open"
    kinds = [s["kind"] for s in decided["steps"]]
    assert kinds[0] == "proposal" and kinds.index("breaker") > kinds.index("tool")
    assert [t["n"] for t in turns(api, sid)] == [1, 2]


def test_arguments_and_errors_are_redacted_and_capped(api: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    long = "x" * 3000
    directive = (
        f'!tools slow {{"seconds": 0, "api_key": "abc", "note": "Bearer {SECRET}"}}; '
        f'slow {{"seconds": 0, "long": "{long}", "url": "https://bob:hunter22@example.com/x"}}'
    )
    say(api, sid, directive)
    t = turn(api, sid, 1)
    text = orjson.dumps(t).decode()
    assert SECRET not in text and "hunter22" not in text
    first, second = (s for s in t["steps"] if s["kind"] == "tool")
    assert first["status"] == "invalid"  # SleepArgs forbids the extra fields
    assert first["arguments"]["api_key"] == "[redacted]"
    assert first["arguments"]["note"] == "[redacted]"
    assert isinstance(second["arguments"], str)  # over the cap: cut JSON text
    assert len(second["arguments"]) < SHOWN_CHARS + 100
    assert "more characters cut" in second["arguments"]
    assert len(second["error"]) < SHOWN_CHARS + 100


def test_turns_are_scoped_like_the_session(api: httpx.Client, api_b: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    say(api, sid, "!tools echo")
    for path in (f"/v1/sessions/{sid}/turns", f"/v1/sessions/{sid}/turns/1"):
        r = api_b.get(path)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
    assert api.get(f"/v1/sessions/{sid}/turns/2").status_code == 404
    assert api.get(f"/v1/sessions/{sid}/turns/0").status_code == 422
    assert api.get("/v1/sessions/s_nope/turns").status_code == 404
    # a repeat of a message id is the same turn, not a new one
    for _ in range(2):
        r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "hi", "message_id": "m-1"})
        assert r.status_code == 200
    assert [t["n"] for t in turns(api, sid)] == [1, 2]
    assert turn(api, sid, 2)["message_id"] == "m-1"
