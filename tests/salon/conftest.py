"""Fixtures of the demo plugin's tests: the in-process harness with the salon's
agents ("onboarding", "chatbot", "admin", and "lab" with the salon's tools)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from salon.domain import Business
from salon.testing import SALON_AGENTS, SALON_LAB, business
from tests.support.harness import OTHER_TENANT as OTHER_TENANT
from tests.support.harness import T0 as T0
from tests.support.harness import TENANT as TENANT
from tests.support.harness import FakeClock as FakeClock
from tests.support.harness import Harness as BaseHarness
from tests.support.harness import lab_config as lab_config
from tests.support.harness import new_harness


class Harness(BaseHarness):
    """The salon's harness: `business()` reads the tenant's business document."""

    async def business(self, tenant: str = TENANT) -> Business:
        return await business(self.store, tenant)


MakeHarness = Callable[..., Harness]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_harness(clock: FakeClock) -> MakeHarness:
    """`make_harness(configs=..., store=..., inner=..., clock=...)` -> a fresh `Harness`."""
    return new_harness(clock, SALON_AGENTS | SALON_LAB, Harness)


@pytest.fixture
def h(make_harness: MakeHarness) -> Harness:
    """The default harness: the salon's lab agent with a 100 ms tool timeout."""
    return make_harness()
