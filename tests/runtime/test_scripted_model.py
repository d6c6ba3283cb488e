"""The ScriptedModel answers `complete()` directly when it has no pace; the answer
must be the one its stream collects to, for any conversation."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.models.base import ModelRequest, ToolSpec, collect, user_text
from runtime.models.scripted import ScriptedModel

TEXTS = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ['!tools echo {"a": 1}', "!tools slow*2", "!tools nope", "hello  there\n", "  ", ""]
    ),
)


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, summary=st.booleans(), tools=st.booleans())
def test_complete_is_the_collected_stream(text: str, summary: bool, tools: bool) -> None:
    request = ModelRequest(
        system="s",
        messages=(user_text(text),),
        tools=(ToolSpec("echo", "Echo.", {"type": "object"}),) if tools else (),
        purpose="summary" if summary else "chat",
    )
    model = ScriptedModel()

    async def both() -> tuple[object, object]:
        return await model.complete(request), await collect(model.stream(request))

    whole, streamed = asyncio.run(both())
    assert whole == streamed
