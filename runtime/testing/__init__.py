"""Helpers for testing Orchestra and agents built on it (shipped with the library).

`LabOrchestrator` (agent name "lab") has tools that misbehave on request, so
timeouts, failures and the breaker can be driven through the real stack with
the ScriptedModel's `!tools` directive, e.g. `!tools fail*3` or
`!tools slow {"seconds": 2}`. Enable it with `AgentCatalog(extra=LAB_AGENT)`.

`RecordsLab`/`ClerkOrchestrator` (`RECORDS_AGENTS`) add a T1 read, T2 writes and a
T3 write on a tenant data document (`records`), for the rules around writes.

`FakeClock`/`TickingClock` (time that moves when the test says), `RecordingModel`
(keeps the requests a model answered) and `served()` (a real `orchestra serve`
subprocess, for end-to-end tests and benchmarks) are the rest of the kit.
"""

from .agents import LAB_AGENT, LabOrchestrator
from .clock import T0, FakeClock, TickingClock
from .models import RecordingModel
from .records import (
    RECORDS,
    RECORDS_AGENTS,
    CanaryClerk,
    ClerkOrchestrator,
    RecordsLab,
    records,
    records_version,
    records_write,
)
from .serve import Served, ServeFailed, free_port, served

__all__ = [
    "LAB_AGENT",
    "RECORDS",
    "RECORDS_AGENTS",
    "T0",
    "CanaryClerk",
    "ClerkOrchestrator",
    "FakeClock",
    "LabOrchestrator",
    "RecordingModel",
    "RecordsLab",
    "ServeFailed",
    "Served",
    "TickingClock",
    "free_port",
    "records",
    "records_version",
    "records_write",
    "served",
]
