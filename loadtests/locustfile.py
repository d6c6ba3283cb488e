"""Locust: end users running the three demo agents' journeys against a gateway.

    ORCHESTRA_API_KEY=<key printed by orchestra serve> \\
    locust -f loadtests/locustfile.py --headless -u 100 -r 20 -t 60s \\
        --host http://127.0.0.1:8000 \\
        --csv loadtests/results/run --html loadtests/results/run.html

Each simulated user creates its own session when it starts (agents dealt from
shuffled decks of chatbot/onboarding/admin, so any 3 consecutive users cover
all three) and then runs that agent's journey again and again, thinking
LOCUST_THINK_MIN..LOCUST_THINK_MAX seconds (default 0.5..2) between steps:

- chatbot: list services (T1), check availability (T1), propose a booking
  (T3) on a random far-future date and hour, confirm it with
  POST /v1/proposals/{id}/confirm. A booking that FAILs because the slot is
  taken (or a 409 from a confirm that lost a race) is an expected business
  outcome, counted separately, not an error;
- onboarding: business name, a service, opening hours, publish (four T2
  proposals), each soft-confirmed by the next message, which must report the
  previous step EXECUTED;
- admin: list services, create a uniquely named service (T2), update it
  (T2, soft-confirms the create), delete it (T3, soft-confirms the update),
  confirm the delete.

A response that breaks the journey's contract (wrong status, missing tool
call or proposal, a proposal in an unexpected state) is a Locust failure.
Requests are named by route template ("/v1/sessions/[id]/messages") so the
statistics aggregate across sessions. Journeys per agent (completed, failed,
booking outcomes, mean duration) are printed at the end and, with --csv
PREFIX, written to PREFIX_journeys.csv. The demo setup keeps a tenant's load
below the default per-tenant rate limit (200 req/s per gateway process): 100
users with the default think time send ~80 req/s.

Environment: ORCHESTRA_API_KEY (required), LOCUST_THINK_MIN / LOCUST_THINK_MAX
(seconds).
"""

from __future__ import annotations

import logging
import os
import random
import string
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

log = logging.getLogger("orchestra.locust")

API_KEY = os.environ.get("ORCHESTRA_API_KEY", "")
THINK_MIN = float(os.environ.get("LOCUST_THINK_MIN", "0.5"))
THINK_MAX = max(THINK_MIN, float(os.environ.get("LOCUST_THINK_MAX", "2")))
AGENTS = ("chatbot", "onboarding", "admin")
SERVICES = ("haircut", "coloring", "manicure")

SESSIONS = "/v1/sessions"
MESSAGES = "/v1/sessions/[id]/messages"
CONFIRM = "/v1/proposals/[id]/confirm"

_deck: list[str] = []


def next_agent() -> str:
    """Random, but balanced: agents come from shuffled decks of all three."""
    if not _deck:
        _deck.extend(random.sample(AGENTS, len(AGENTS)))
    return _deck.pop()


# Journey bookkeeping (per Locust process).
JOURNEYS: dict[str, Counter[str]] = defaultdict(Counter)
JOURNEY_MS: dict[str, float] = defaultdict(float)


class JourneyBroken(Exception):
    """A response that does not follow the journey's contract (already reported)."""


def far_future_slot() -> tuple[str, str, str]:
    """(ISO date, 'at ...' phrase, HH:MM) of a random opening-hours slot, years ahead."""
    day = f"{random.randint(2030, 2099)}-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
    hour = random.randint(9, 16)  # the demo salon's slots: 09:00 .. 16:00
    return day, f"at {hour}", f"{hour:02d}:00"


def service_name() -> str:
    """Letters only (the scripted model reads names as [a-z]+), unique per journey."""
    return "svc" + "".join(random.choices(string.ascii_lowercase, k=10))


def tools_of(body: dict[str, Any]) -> list[str]:
    return [c["tool"] for c in body.get("tool_calls", [])]


def proposal(body: dict[str, Any], tool: str) -> dict[str, Any] | None:
    for p in body.get("proposals", []):
        if p["tool"] == tool:
            found: dict[str, Any] = p
            return found
    return None


class OrchestraUser(FastHttpUser):
    wait_time = between(THINK_MIN, THINK_MAX)

    def on_start(self) -> None:
        if not API_KEY:
            log.error("ORCHESTRA_API_KEY is not set: every request will be a 401")
        self.headers = {"Authorization": f"Bearer {API_KEY}"}
        self.agent = next_agent()
        self.subject = f"locust-{uuid.uuid4().hex[:12]}"
        self.sid: str | None = None
        self.create_session()

    # -- steps ---------------------------------------------------------------------

    def create_session(self) -> None:
        with self.client.post(
            SESSIONS,
            json={"agent": self.agent, "subject": self.subject},
            headers=self.headers,
            name=SESSIONS,
            catch_response=True,
        ) as r:
            if r.status_code not in (200, 201):
                r.failure(f"create session: HTTP {r.status_code} {r.text[:200]}")
                return
            self.sid = r.json()["session_id"]
            r.success()

    def think(self) -> None:
        time.sleep(random.uniform(THINK_MIN, THINK_MAX))  # gevent-patched: yields

    def say(
        self, text: str, *, tool: str, proposes: str | None = None, executes: str | None = None
    ) -> dict[str, Any]:
        """Send `text`; the turn must call `tool`, or propose `proposes`, and report the
        previous step's `executes` proposal EXECUTED (soft-confirmed by this message)."""
        with self.client.post(
            f"/v1/sessions/{self.sid}/messages",
            json={"text": text},
            headers=self.headers,
            name=MESSAGES,
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"{text!r}: HTTP {r.status_code} {r.text[:200]}")
                raise JourneyBroken
            body: dict[str, Any] = r.json()
            problem = None
            if tool not in tools_of(body):
                problem = f"{text!r}: expected a {tool} call, got {tools_of(body)}"
            elif proposes is not None:
                p = proposal(body, proposes)
                if p is None or p["status"] != "PENDING":
                    problem = f"{text!r}: expected a PENDING {proposes} proposal, got {p}"
            if problem is None and executes is not None:
                p = proposal(body, executes)
                if p is None or p["status"] != "EXECUTED":
                    problem = f"{text!r}: expected {executes} soft-confirmed (EXECUTED), got {p}"
            if problem is not None:
                r.failure(problem)
                raise JourneyBroken
            r.success()
            return body

    def confirm(self, p: dict[str, Any], *, clash_ok: bool) -> str:
        """Confirm a T3 proposal; returns the outcome ("executed", "slot_taken", "conflict")."""
        with self.client.post(
            f"/v1/proposals/{p['proposal_id']}/confirm",
            headers=self.headers,
            name=CONFIRM,
            catch_response=True,
        ) as r:
            if r.status_code == 409 and clash_ok:  # lost a race: not an error here
                r.success()
                return "conflict"
            if r.status_code != 200:
                r.failure(f"confirm {p['tool']}: HTTP {r.status_code} {r.text[:200]}")
                raise JourneyBroken
            done = r.json()
            if done["status"] == "EXECUTED":
                r.success()
                return "executed"
            error = str((done.get("result") or {}).get("error", ""))
            if done["status"] == "FAILED" and clash_ok and "not available" in error:
                r.success()  # somebody booked the slot first: a business outcome
                return "slot_taken"
            r.failure(f"confirm {p['tool']}: {done['status']} {done.get('result')}")
            raise JourneyBroken

    # -- journeys -----------------------------------------------------------------

    def chatbot(self) -> None:
        self.say("what services do you have?", tool="list_services")
        self.think()
        service = random.choice(SERVICES)
        day, at, _ = far_future_slot()
        self.say(f"is there availability for {service} on {day}?", tool="check_availability")
        self.think()
        body = self.say(
            f"book a {service} on {day} {at}",
            tool="check_availability",
            proposes="book_appointment",
        )
        self.think()
        p = proposal(body, "book_appointment")
        assert p is not None
        JOURNEYS["chatbot"]["booking_" + self.confirm(p, clash_ok=True)] += 1

    def onboarding(self) -> None:
        self.say(
            "my business is called Demo Salon",
            tool="set_business_profile",
            proposes="set_business_profile",
        )
        self.think()
        self.say(
            "add a service facial for $40 60 min",
            tool="add_service",
            proposes="add_service",
            executes="set_business_profile",
        )
        self.think()
        self.say(
            "our hours are 9am to 5pm",
            tool="set_hours",
            proposes="set_hours",
            executes="add_service",
        )
        self.think()
        self.say(
            "publish my site", tool="publish_site", proposes="publish_site", executes="set_hours"
        )
        self.think()
        self.say("show my profile", tool="get_profile", executes="publish_site")

    def admin(self) -> None:
        name = service_name()
        self.say("what services do we have?", tool="list_services")
        self.think()
        self.say(
            f"create service {name} for ${random.randint(10, 90)}",
            tool="create_service",
            proposes="create_service",
        )
        self.think()
        self.say(
            f"update {name} to ${random.randint(10, 90)}",
            tool="update_service",
            proposes="update_service",
            executes="create_service",
        )
        self.think()
        body = self.say(
            f"delete service {name}",
            tool="delete_service",
            proposes="delete_service",
            executes="update_service",
        )
        self.think()
        p = proposal(body, "delete_service")
        assert p is not None
        self.confirm(p, clash_ok=False)

    @task
    def journey(self) -> None:
        if self.sid is None:
            self.create_session()
            if self.sid is None:
                return
        started = time.perf_counter()
        JOURNEYS[self.agent]["started"] += 1
        try:
            getattr(self, self.agent)()
        except JourneyBroken:
            JOURNEYS[self.agent]["failed"] += 1
            return
        JOURNEYS[self.agent]["completed"] += 1
        JOURNEY_MS[self.agent] += (time.perf_counter() - started) * 1000


# -- reporting --------------------------------------------------------------------------


def _csv_prefix(environment: Any) -> str | None:
    options = getattr(environment, "parsed_options", None)
    prefix = getattr(options, "csv_prefix", None)
    return str(prefix) if prefix else None


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    for option in ("csv_prefix", "html_file"):
        value = getattr(getattr(environment, "parsed_options", None), option, None)
        if value:
            Path(value).parent.mkdir(parents=True, exist_ok=True)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    rows = []
    for agent in AGENTS:
        c = JOURNEYS.get(agent, Counter())
        mean = JOURNEY_MS[agent] / c["completed"] if c["completed"] else 0.0
        rows.append(
            (
                agent,
                c["started"],
                c["completed"],
                c["failed"],
                c["booking_executed"],
                c["booking_slot_taken"],
                c["booking_conflict"],
                round(mean, 1),
            )
        )
    header = (
        "agent",
        "started",
        "completed",
        "failed",
        "booking_executed",
        "booking_slot_taken",
        "booking_conflict",
        "mean_journey_ms",
    )
    log.info("journeys:\n%s", "\n".join(" ".join(f"{v!s:>18}" for v in r) for r in [header, *rows]))
    prefix = _csv_prefix(environment)
    if prefix:
        with open(f"{prefix}_journeys.csv", "w") as f:
            f.write(",".join(header) + "\n")
            for row in rows:
                f.write(",".join(str(v) for v in row) + "\n")
