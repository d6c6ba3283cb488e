"""History: the window cut, compaction into a summary, and its persistence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import metrics
from runtime.errors import ErrorClass, ModelError
from runtime.inbound import Inbound
from runtime.models.base import (
    Message,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    assistant_text,
    message_from_dict,
    message_to_dict,
    user_text,
)
from runtime.models.scripted import ScriptedModel
from runtime.sessions.history import History, cut_index, is_turn_start
from runtime.sessions.session import settle

from .conftest import TENANT, Harness, MakeHarness, lab_config

# -- random conversations ----------------------------------------------------------


def build_conversation(turns: list[list[int]], skip: int) -> list[Message]:
    """Each turn: a user text, tool exchanges (one int = calls in that exchange), a reply.

    `skip` drops a prefix so a conversation may begin mid-exchange, as a loaded
    tail of the store can.
    """
    msgs: list[Message] = []
    n = 0
    for t, exchanges in enumerate(turns):
        msgs.append(user_text(f"question {t}"))
        for calls in exchanges:
            ids = [f"tu{n + i}" for i in range(calls)]
            n += calls
            msgs.append(Message("assistant", tuple(ToolUseBlock(i, "echo", {}) for i in ids)))
            msgs.append(Message("user", tuple(ToolResultBlock(i, "ok") for i in ids)))
        msgs.append(assistant_text(f"answer {t}"))
    return msgs[skip:]


conversations = st.builds(
    build_conversation,
    st.lists(st.lists(st.integers(1, 3), max_size=4), max_size=8),
    st.integers(0, 4),
)


def pairs_intact(kept: list[Message]) -> bool:
    uses = {b.id for m in kept for b in m.content if isinstance(b, ToolUseBlock)}
    results = {b.tool_use_id for m in kept for b in m.content if isinstance(b, ToolResultBlock)}
    return results <= uses


@settings(max_examples=300, deadline=None)
@given(conversations, st.integers(0, 40))
def test_cut_never_separates_a_tool_call_from_its_result(msgs: list[Message], keep: int) -> None:
    idx = cut_index(msgs, keep)
    assert 0 <= idx <= len(msgs)
    kept = msgs[idx:]
    assert idx == len(msgs) or is_turn_start(msgs[idx])  # always a turn start
    assert pairs_intact(kept)
    # the window bound: if a turn starts inside the last `keep`, no more than `keep` remain
    if any(is_turn_start(m) for m in msgs[max(0, len(msgs) - keep) :]):
        assert len(kept) <= keep
    # and the cut drops as little as possible: no later turn start would fit
    if idx > 0 and len(kept) <= keep:
        earlier = [i for i in range(max(0, len(msgs) - keep), idx) if is_turn_start(msgs[i])]
        assert earlier == []


def test_cut_examples() -> None:
    msgs = build_conversation([[1], [], [2, 1]], 0)
    # turn starts at 0, 4, 6
    assert [i for i, m in enumerate(msgs) if is_turn_start(m)] == [0, 4, 6]
    assert cut_index(msgs, len(msgs)) == 0
    assert cut_index(msgs, 7) == 6  # 4 would keep 8 > 7
    assert cut_index(msgs, 2) == 6  # no turn in the last 2: keep the whole latest turn
    assert cut_index([], 5) == 0
    tail = msgs[1:4]  # only tool messages and a reply: no turn start at all
    assert cut_index(tail, 1) == 3  # keep nothing rather than an orphaned tool result


def test_message_round_trip_through_dicts() -> None:
    for msg in build_conversation([[2]], 0):
        assert message_from_dict(message_to_dict(msg)) == msg
    with pytest.raises(ValueError):
        message_from_dict({"role": "system", "content": []})
    with pytest.raises(ValueError):
        message_from_dict({"role": "user", "content": [{"type": "image"}]})


# -- History.compact ----------------------------------------------------------------------


async def test_compact_summarises_the_overflow() -> None:
    hist = History(4, build_conversation([[], [1], [], []], 0))
    assert len(hist.messages) == 10 and hist.needs_compaction() is True
    dropped = await hist.compact(ScriptedModel())
    assert len(hist.messages) == 4 and is_turn_start(hist.messages[0])
    assert [m.text for m in dropped if m.text] == [
        "question 0",
        "answer 0",
        "question 1",
        "answer 1",
    ]
    # the summary is sanitised once, here: one line, role markers gone
    assert hist.summary == "Earlier: question 0 answer 0 question 1 (used echo) answer 1"
    assert not hist.needs_compaction()


async def test_compact_keeps_everything_when_nothing_can_be_cut() -> None:
    hist = History(2, build_conversation([[3, 3]], 0))  # one long turn
    assert await hist.compact(ScriptedModel()) == []
    assert len(hist.messages) == 6 and hist.summary == ""


@dataclass
class FlakySummaries:
    """Chats like ScriptedModel; every summary request fails."""

    name: str = "flaky"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose == "summary":
            raise ModelError("nope", ErrorClass.VALIDATION)
        return ModelResponse((TextBlock("fine"),))


# -- through the runtime ------------------------------------------------------------------------


def small_history(make_harness: MakeHarness) -> Harness:
    return make_harness(configs={"lab": lab_config(max_history_messages=4)})


async def test_compaction_puts_the_summary_in_the_next_system_prompt(
    make_harness: MakeHarness,
) -> None:
    h = small_history(make_harness)
    sid = await h.session()
    for word in ("alpha", "bravo", "charlie"):
        await h.send(sid, f"remember {word}")
    assert h.model.summaries() == []
    await h.send(sid, "remember delta")  # 8 messages > 4 + 2: compacts
    [summary_req] = h.model.summaries()
    assert "remember alpha" in summary_req.messages[0].text
    assert "remember bravo" in summary_req.messages[0].text
    assert "Earlier summary: none" in summary_req.system
    await h.send(sid, "what do you remember?")
    system = h.model.last_system()
    # the summary is sanitised into the prompt: one line, role markers gone
    assert "Earlier in this conversation: Earlier: remember alpha Got it." in system
    assert "remember bravo" in system and "user:" not in system
    sent = h.model.chats()[-1].messages
    assert all("alpha" not in m.text for m in sent)  # summarised, not repeated
    assert sent[0].text == "remember charlie"


async def test_window_stays_bounded(make_harness: MakeHarness) -> None:
    h = small_history(make_harness)
    sid = await h.session()
    for i in range(15):
        await h.send(sid, "!tools echo" if i % 2 else f"message {i}")
        core = h.rt.pool.cores[sid]
        assert len(core.state.history.messages) <= 4 + 2
        assert is_turn_start(core.state.history.messages[0])
    assert len(h.model.summaries()) >= 3
    # the whole conversation is still in the store
    assert len(await h.rt.list_messages(TENANT, sid)) == 2 * 15


async def test_summary_survives_reload(make_harness: MakeHarness) -> None:
    h = small_history(make_harness)
    sid = await h.session()
    for word in ("alpha", "bravo", "charlie", "delta"):
        await h.send(sid, f"remember {word}")
    summary = h.rt.pool.cores[sid].state.history.summary
    assert summary.startswith("Earlier: remember alpha Got it.")
    assert h.store.state[(TENANT, sid)]["summary"] == summary
    window = [m.text for m in h.rt.pool.cores[sid].state.history.messages]
    assert window[0] == "remember charlie"
    h.rt.pool.evict_idle(-1)
    assert sid not in h.rt.pool.cores
    await h.send(sid, "and now?")
    assert h.rt.pool.cores[sid].state.history.summary == summary
    assert "Earlier in this conversation: Earlier: remember alpha" in h.model.last_system()
    # the reload resumes the same window: summarised messages are not sent again
    assert [m.text for m in h.model.chats()[-1].messages] == [*window, "and now?"]
    assert len(h.model.summaries()) == 1


async def test_failed_summary_does_not_lose_the_turn(make_harness: MakeHarness) -> None:
    h = make_harness(configs={"lab": lab_config(max_history_messages=2)}, inner=FlakySummaries())
    sid = await h.session()
    for i in range(4):
        r = await h.send(sid, f"hi {i}")
        assert r["reply"] == "fine"
    assert len(h.model.summaries()) >= 1
    assert h.rt.pool.cores[sid].state.history.summary == ""
    assert len(await h.rt.list_messages(TENANT, sid)) == 8


async def test_reload_starts_at_a_turn(make_harness: MakeHarness) -> None:
    h = make_harness(configs={"lab": lab_config(max_history_messages=2)})
    sid = await h.session()
    await h.send(sid, "hello")
    await h.send(sid, "!tools echo*3")  # 8 messages; a reload keeps the newest 4
    h.rt.pool.evict_idle(-1)
    await h.send(sid, "again")
    sent = h.model.chats()[-1].messages
    # the loaded tail began with a tool result whose call was not loaded: dropped
    assert is_turn_start(sent[0]) and pairs_intact(list(sent))
    assert [m.text for m in sent] == ["again"]


# -- summaries off the reply's path -------------------------------------------------------


@dataclass
class HeldSummaries:
    """The ScriptedModel, whose summaries wait until the test lets them go."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    inner: ScriptedModel = field(default_factory=ScriptedModel)
    name: str = "held"
    asked: int = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose == "summary":
            self.asked += 1
            await self.release.wait()
        return await self.inner.complete(request)

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(request)


async def _until(check: Callable[[], bool]) -> None:
    """Let the event loop run until `check` holds (no clock involved)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_a_summary_never_delays_the_reply_it_follows(make_harness: MakeHarness) -> None:
    held = HeldSummaries()
    h = make_harness(configs={"lab": lab_config(max_history_messages=4)}, inner=held)
    sid = await h.session()
    for word in ("alpha", "bravo", "charlie"):
        await h.send(sid, f"remember {word}")
    # the fourth turn makes the window due a summary, which cannot finish yet
    r = await h.rt.send_message(Inbound(TENANT, sid, "remember delta"))
    assert r["reply"]  # answered while its summary is still being made
    await _until(lambda: held.asked == 1)
    core = h.rt.pool.cores[sid]
    assert core.state.history.summary == ""
    # a next turn whose window still fits does not wait for it either
    r = await h.rt.send_message(Inbound(TENANT, sid, "remember echo"))
    assert r["reply"] and held.asked == 1
    assert "Earlier in this conversation" not in h.model.last_system()
    held.release.set()
    await settle()  # landed between turns, and saved: a reload starts from it
    summary = core.state.history.summary
    assert summary.startswith("Earlier: remember alpha")
    assert h.store.state[(TENANT, sid)]["summary"] == summary
    assert h.store.state[(TENANT, sid)]["window"] == len(core.state.history.messages)
    await h.send(sid, "what do you remember?")
    assert "Earlier in this conversation: Earlier: remember alpha" in h.model.last_system()
    assert all("alpha" not in m.text for m in h.model.chats()[-1].messages)


async def test_a_turn_waits_for_the_summary_only_when_its_window_is_overfull(
    make_harness: MakeHarness,
) -> None:
    held = HeldSummaries()
    h = make_harness(configs={"lab": lab_config(max_history_messages=4)}, inner=held)
    sid = await h.session()
    for word in ("alpha", "bravo", "charlie"):
        await h.send(sid, f"remember {word}")
    await h.rt.send_message(Inbound(TENANT, sid, "remember delta"))  # due: 8 > 4 + 2
    await h.rt.send_message(Inbound(TENANT, sid, "remember echo"))  # 10 > 2 * 4 after it
    await _until(lambda: held.asked == 1)
    core = h.rt.pool.cores[sid]
    assert core.state.history.overfull()
    chats = len(h.model.chats())
    waiting = asyncio.ensure_future(h.rt.send_message(Inbound(TENANT, sid, "remember foxtrot")))
    await _until(lambda: core.busy())
    for _ in range(50):
        await asyncio.sleep(0)
    assert not waiting.done() and len(h.model.chats()) == chats  # the turn has not started
    held.release.set()
    assert (await waiting)["reply"]
    # it ran with the summary in its prompt and the window it shortened
    assert "Earlier in this conversation: Earlier: remember alpha" in h.model.last_system()
    sent = [m.text for m in h.model.chats()[-1].messages]
    assert "remember alpha" not in sent and sent[-1] == "remember foxtrot"
    await settle()


async def test_a_summary_call_is_retried_and_counted(make_harness: MakeHarness) -> None:
    flaky = FlakyOnce()
    h = make_harness(configs={"lab": lab_config(max_history_messages=2)}, inner=flaky)
    sid = await h.session()
    before = _retries("NETWORK")
    for i in range(3):
        await h.send(sid, f"hi {i}")
    assert flaky.failed == 1  # the first summary attempt failed with a network error
    assert _retries("NETWORK") == before + 1
    assert h.rt.pool.cores[sid].state.history.summary.startswith("Earlier:")


def _retries(error_class: str) -> float:
    sample = metrics.REGISTRY.get_sample_value(
        "orchestra_model_retries_total", {"error_class": error_class}
    )
    return sample or 0.0


@dataclass
class FlakyOnce:
    """The ScriptedModel, whose first summary attempt fails with a network error."""

    inner: ScriptedModel = field(default_factory=ScriptedModel)
    name: str = "flaky-once"
    failed: int = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose == "summary" and not self.failed:
            self.failed += 1
            raise ModelError("connection reset", ErrorClass.NETWORK)
        return await self.inner.complete(request)

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(request)
