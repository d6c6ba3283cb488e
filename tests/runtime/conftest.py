"""Fixtures of the runtime unit tests: a fake clock, a recording model, runtimes.

The harness itself is `tests.support.harness`; the agents here are the library's
own test agents (`runtime.testing`: "lab" with the records tools, "clerk") and
"probe" (probe.py). No test under tests/runtime uses the demo plugin (`salon`):
its behaviour is tested in tests/salon.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.testing import RECORDS_AGENTS
from runtime.testing.records import Records, records
from tests.support.harness import OTHER_TENANT as OTHER_TENANT
from tests.support.harness import T0 as T0
from tests.support.harness import TENANT as TENANT
from tests.support.harness import FakeClock as FakeClock
from tests.support.harness import Harness as BaseHarness
from tests.support.harness import TickingClock as TickingClock
from tests.support.harness import YieldingStore as YieldingStore
from tests.support.harness import gather_outcomes as gather_outcomes
from tests.support.harness import lab_config as lab_config
from tests.support.harness import new_harness

from .probe import PROBE_AGENT


class Harness(BaseHarness):
    """The runtime's harness: `records()` reads the test agents' tenant document."""

    async def records(self, tenant: str = TENANT) -> Records:
        return await records(self.store, tenant)


MakeHarness = Callable[..., Harness]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_harness(clock: FakeClock) -> MakeHarness:
    """`make_harness(configs=..., store=..., inner=..., clock=...)` -> a fresh `Harness`.

    Agents: "lab" and "clerk" (runtime.testing) and "probe" (probe.py).
    """
    return new_harness(clock, RECORDS_AGENTS | PROBE_AGENT, Harness)


@pytest.fixture
def h(make_harness: MakeHarness) -> Harness:
    """The default harness: lab agent with a 100 ms tool timeout."""
    return make_harness()
