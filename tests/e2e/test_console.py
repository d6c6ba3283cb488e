"""The web console in a real browser against a real `orchestra serve`.

Headless Chromium (Debian's `chromium`; `.ci/run` installs it) driven by
Playwright, finding everything as a person with a screen reader would: by
role and label. The server is the CLI in a subprocess (`runtime.testing.served()`),
with the admin agent's T2 window cut to a few seconds so that an expiry can
be watched. The breaker test needs the "lab" agent (runtime.testing), whose
tools fail on request: it runs against the in-process gateway of
tests/gateway (real uvicorn, real HTTP) that has it.

`ORCHESTRA_UPDATE_SCREENSHOT=1 pytest tests/e2e/test_console.py -k booking`
rewrites docs/img/console.png from the booking journey.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from runtime.proposals.model import Proposal, ProposalStatus
from runtime.testing import Served
from runtime.testing import served as orchestra_serve
from runtime.tiers import Tier
from tests.gateway.conftest import MAIN_SETTINGS, LiveServer

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium dials out at start, and this
# machine's closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_WINDOW_MS = 4000
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "console.png"
XSS = "<img src=x onerror=alert(1)>"

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with orchestra_serve(
        "--hosts",
        "1",
        home=tmp_path_factory.mktemp("home"),
        env={"ORCHESTRA_ADMIN__SOFT_CONFIRM_WINDOW_MS": str(ADMIN_WINDOW_MS)},
    ) as s:
        yield s


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class Watched:
    """A page and what it did: dialogs opened, script errors, CSP violations, requests."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    w = Watched(page)

    def on_dialog(dialog: object) -> None:
        w.dialogs.append(getattr(dialog, "message", "?"))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: w.errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: w.errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("request", lambda r: w.posts.append(r.url) if r.method == "POST" else None)
    yield w
    context.close()
    assert w.errors == []  # no script error, nothing the CSP had to block


def banner_link(served: Served) -> str:
    m = re.search(r"open the console: (http://\S+/ui#key=\S+)", "".join(served.output))
    assert m, "".join(served.output)
    return m.group(1)


def open_console(page: Page, served: Served) -> None:
    page.goto(banner_link(served))
    expect(page.get_by_label("Agent")).to_be_visible()
    assert page.url == f"{served.url}/ui"  # the key left the address bar
    assert page.evaluate("sessionStorage.getItem('orchestra.key')") == served.key


def open_session(page: Page, agent: str, who: str) -> None:
    page.get_by_label("Agent").select_option(agent)
    page.get_by_label("Subject").fill(who)
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_text(f"{agent} session of {who} (active)")).to_be_visible()
    expect(page.get_by_label("Message")).to_be_enabled()


def type_message(page: Page, text: str) -> None:
    """Type like a person and press Enter; returns when the turn has ended."""
    box = page.get_by_label("Message")
    box.click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(box).to_have_value("")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def card(page: Page, tool: str, has_text: str | None = None) -> Locator:
    found = page.get_by_role("article", name=re.compile(tool))
    return found.filter(has_text=has_text) if has_text else found


def status_of(c: Locator) -> Locator:
    return c.get_by_role("status")


def subject() -> str:
    return f"ann-{uuid.uuid4().hex[:6]}"


def api_proposals(served: Served, who: str) -> list[dict[str, object]]:
    with served.client() as api:
        [session] = api.get("/v1/sessions", params={"subject": who}).json()["sessions"]
        found: list[dict[str, object]] = api.get(
            "/v1/proposals", params={"session_id": session["session_id"]}
        ).json()["proposals"]
        return found


def test_chatbot_booking_confirm_and_reject_by_clicking(
    served: Served, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    open_console(page, served)
    who = subject()
    open_session(page, "chatbot", who)
    expect(page.get_by_role("log")).to_contain_text("How can I help you today?")  # greeting

    page.get_by_label("Message").fill("book a haircut tomorrow at 10")
    with page.expect_response(
        lambda r: r.url.endswith("/messages") and r.request.method == "POST"
    ) as sent:
        page.get_by_role("button", name="Send").click()
    response = sent.value
    assert response.request.headers["accept"] == "text/event-stream"
    assert response.headers["content-type"].startswith("text/event-stream")

    expect(card(page, "book_appointment")).to_have_count(1)
    booking = card(page, "book_appointment", has_text="time=10:00")
    expect(status_of(booking)).to_have_text("PENDING")
    expect(booking).to_contain_text("T3")
    expect(booking).to_contain_text("explicit confirmation")
    # the tool calls inline, with their tiers and statuses
    log = page.get_by_role("log")
    expect(log.locator(".toolcall")).to_have_text(
        [
            re.compile(r"check_availability\s+T1\s+ok"),
            re.compile(r"book_appointment\s+T3\s+proposed"),
        ]
    )
    # the reply arrived as token events, appended one text node at a time
    nodes = page.evaluate(
        "[...document.querySelectorAll('.turn .msg .text')].at(-1).childNodes.length"
    )
    assert nodes > 5
    pending = page.get_by_role("region", name="Pending proposals")
    expect(pending).to_contain_text("book_appointment")

    booking.get_by_role("button", name="Confirm").click()
    expect(status_of(booking)).to_have_text("EXECUTED")
    expect(booking).to_contain_text("haircut")
    expect(booking).to_contain_text("10:00")
    expect(booking).to_contain_text(who)  # the appointment's customer
    expect(booking.get_by_role("button")).to_have_count(0)  # nothing left to click
    expect(pending).to_contain_text("Nothing waits for you.")

    type_message(page, "book a haircut tomorrow at 11")
    second = card(page, "book_appointment", has_text="time=11:00")
    expect(status_of(second)).to_have_text("PENDING")
    second.get_by_role("button", name="Reject").click()
    expect(status_of(second)).to_have_text("REJECTED")
    expect(second.get_by_role("button")).to_have_count(0)
    expect(status_of(booking)).to_have_text("EXECUTED")

    state = page.get_by_role("region", name="Session state")
    expect(state).to_contain_text("T1 1 · T2 0 · T3 1")
    expect(state).to_contain_text("closed")  # the breaker
    audit = page.get_by_role("region", name="Audit")
    expect(audit).to_contain_text("CONFIRMED → EXECUTED")
    expect(audit).to_contain_text("PENDING → REJECTED")
    statuses = sorted(str(p["status"]) for p in api_proposals(served, who))
    assert statuses == ["EXECUTED", "REJECTED"]

    page.screenshot(path=str(tmp_path / "console.png"))
    assert (tmp_path / "console.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("ORCHESTRA_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "console.png", SCREENSHOT)

    # reopening the subject (the key stays in this tab) shows its history
    page.reload()
    sessions = page.get_by_role("navigation", name="Sessions")
    sessions.get_by_role("button", name=re.compile(f"chatbot · {who}")).click()
    expect(log).to_contain_text("book a haircut tomorrow at 10")
    expect(log).to_contain_text("book a haircut tomorrow at 11")
    expect(status_of(card(page, "book_appointment", has_text="time=10:00"))).to_have_text(
        "EXECUTED"
    )
    expect(status_of(card(page, "book_appointment", has_text="time=11:00"))).to_have_text(
        "REJECTED"
    )
    expect(log.locator(".toolcall")).to_have_count(4)
    expect(log.get_by_role("button")).to_have_count(0)  # finished cards, from history too


def test_onboarding_soft_confirmed_by_typing(served: Served, watched: Watched) -> None:
    page = watched.page
    open_console(page, served)
    open_session(page, "onboarding", subject())
    steps = [
        ("my business is called Ann's Nails", "set_business_profile"),
        ("add service massage for 50 dollars", "add_service"),
        ("open 9am to 5pm", "set_hours"),
        ("publish the site", "publish_site"),
    ]
    previous: Locator | None = None
    for text, tool in steps:
        type_message(page, text)
        step = card(page, tool)
        expect(status_of(step)).to_have_text("PENDING")
        expect(step).to_contain_text("T2")
        expect(step).to_contain_text("A clear yes in your next message confirms it")
        expect(step).to_contain_text(re.compile(r"Expires in \d+:\d\d"))
        expect(step.get_by_role("button", name="Confirm")).to_be_enabled()  # T2 too
        if previous is not None:
            expect(status_of(previous)).to_have_text("EXECUTED")
        previous = step
    type_message(page, "thanks")
    for _, tool in steps:
        expect(status_of(card(page, tool))).to_have_text("EXECUTED")
    expect(card(page, "publish_site")).to_contain_text("published")

    type_message(page, "add service nails for 20 dollars")
    refused = card(page, "add_service", has_text="name=nails")
    expect(status_of(refused)).to_have_text("PENDING")
    type_message(page, "no")
    expect(status_of(refused)).to_have_text("REJECTED")
    expect(refused).not_to_contain_text("Expires in")
    expect(status_of(card(page, "add_service", has_text="name=massage"))).to_have_text("EXECUTED")


def test_t2_cards_have_buttons_and_say_when_a_clear_answer_is_awaited(
    served: Served, watched: Watched
) -> None:
    page = watched.page
    open_console(page, served)
    open_session(page, "onboarding", subject())
    bodies: list[Any] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(r.post_data_json)
            if r.method == "POST" and r.url.endswith("/messages")
            else None
        ),
    )
    type_message(page, "add service massage for 50 dollars")
    step = card(page, "add_service")
    expect(status_of(step)).to_have_text("PENDING")
    assert bodies[-1]["seen"] == []  # nothing was on screen yet
    expect(step.get_by_role("button", name="Reject")).to_be_enabled()
    type_message(page, "hmm, how much does it cost?")
    expect(step).to_contain_text("Waiting for a clear yes or no")
    expect(status_of(step)).to_have_text("PENDING")
    assert bodies[-1]["seen"] == [step.get_attribute("data-proposal-id")]
    step.get_by_role("button", name="Confirm").click()
    expect(status_of(step)).to_have_text("EXECUTED")
    expect(step).not_to_contain_text("Waiting for a clear yes or no")

    type_message(page, "add service nails for 20 dollars")
    nails = card(page, "add_service", has_text="name=nails")
    expect(status_of(nails)).to_have_text("PENDING")
    nails.get_by_role("button", name="Reject").click()
    expect(status_of(nails)).to_have_text("REJECTED")
    expect(nails.get_by_role("button")).to_have_count(0)  # decided: the buttons are gone


def test_a_t2_card_shows_expired_when_its_window_passes(served: Served, watched: Watched) -> None:
    page = watched.page
    open_console(page, served)
    open_session(page, "admin", subject())
    type_message(page, f"create service yoga{uuid.uuid4().hex[:4]} 30 min $20")
    step = card(page, "create_service")
    expect(status_of(step)).to_have_text("PENDING")
    expect(step).to_contain_text(re.compile(r"Expires in 0:0\d"))
    # nobody answers: the window passes, the sweeper expires it, the page notices
    expect(status_of(step)).to_have_text("EXPIRED", timeout=ADMIN_WINDOW_MS + 15_000)
    expect(step).to_contain_text("Expired")
    expect(page.get_by_role("region", name="Pending proposals")).to_contain_text(
        "Nothing waits for you."
    )


def test_markup_in_messages_is_shown_as_text_and_never_runs(
    served: Served, watched: Watched
) -> None:
    page = watched.page
    open_console(page, served)
    open_session(page, "onboarding", f"<b>{subject()}</b>")
    type_message(page, XSS)
    # the model's reply and the proposal's preview carry it back too
    type_message(page, f"my business is called {XSS}")
    log = page.get_by_role("log")
    expect(log.get_by_text(XSS, exact=True)).to_have_count(1)  # the user's first message
    expect(card(page, "set_business_profile")).to_contain_text(f"name={XSS}")
    page.wait_for_timeout(500)  # time for an onerror to fire, were there an <img>
    assert watched.dialogs == []
    assert page.locator("#log img, #log b, #session-list b").count() == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    expect(page.get_by_role("navigation", name="Sessions")).to_contain_text("<b>ann-")


def test_a_wrong_key_says_so_and_a_right_one_connects(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served.url}/ui#key=orc_wrong")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The API key was not accepted")
    expect(alert).to_contain_text("401")
    expect(page.get_by_label("Agent")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('orchestra.key')") is None

    page.get_by_label("API key").fill(served.key)
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_label("Agent")).to_be_visible()
    expect(alert).to_be_hidden()

    # without any key the page asks for one
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{served.url}/")  # redirects to /ui
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.url == f"{served.url}/ui"


def test_a_double_click_on_confirm_executes_once(served: Served, watched: Watched) -> None:
    page = watched.page
    open_console(page, served)
    who = subject()
    open_session(page, "chatbot", who)
    type_message(page, "book a haircut tomorrow at 13")
    booking = card(page, "book_appointment")
    expect(status_of(booking)).to_have_text("PENDING")
    watched.posts.clear()
    booking.get_by_role("button", name="Confirm").dblclick()
    expect(status_of(booking)).to_have_text("EXECUTED")
    expect(booking).to_contain_text("13:00")
    page.wait_for_timeout(300)
    assert [u for u in watched.posts if u.endswith("/confirm")] == [
        f"{served.url}/v1/proposals/{booking.get_attribute('data-proposal-id')}/confirm"
    ]
    [proposal] = api_proposals(served, who)
    with served.client() as api:
        events = api.get("/v1/audit", params={"session_id": proposal["session_id"]}).json()
    executed = [
        e
        for e in events["events"]
        if e.get("proposal_id") == proposal["proposal_id"] and e.get("to") == "EXECUTED"
    ]
    assert len(executed) == 1


@pytest.fixture(scope="module")
def lab_server() -> Iterator[LiveServer]:
    live = LiveServer(MAIN_SETTINGS).start()
    yield live
    live.stop()


def test_a_tripped_breaker_shows_when_it_half_opens(
    lab_server: LiveServer, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{lab_server.base_url}/ui#key={lab_server.keys['A']}")
    open_session(page, "lab", subject())
    type_message(page, "!tools fail*3")
    log = page.get_by_role("log")
    expect(log.locator(".toolcall")).to_have_text([re.compile(r"fail\s+T1\s+error")] * 3)
    state = page.get_by_role("region", name="Session state")
    expect(state).to_contain_text(re.compile(r"open: half-open in (0:[0-5]\d|1:00)"))
    expect(state).to_contain_text("T1 3 · T2 0 · T3 0")
    type_message(page, "!tools echo")
    blocked = log.locator(".toolcall").last
    expect(blocked).to_have_text(re.compile(r"echo\s+T1\s+breaker_open"))  # the event's reason
    expect(blocked.locator(".tool-status")).to_have_class("tool-status s-blocked")  # its status
    expect(page.get_by_role("region", name="Audit")).to_contain_text("breaker closed → open")


def test_a_confirm_that_lost_the_race_shows_the_status(served: Served, watched: Watched) -> None:
    """Confirmed elsewhere first (another tab, curl): the 409 says what it became."""
    page = watched.page
    page.clock.install()
    open_console(page, served)
    who = subject()
    open_session(page, "chatbot", who)
    type_message(page, "book a haircut tomorrow at 15")
    booking = card(page, "book_appointment")
    expect(status_of(booking)).to_have_text("PENDING")
    # stop the page's timers, so no refresh sees the change before the click does
    page.clock.pause_at(datetime.datetime.now() + datetime.timedelta(seconds=1))
    page.wait_for_timeout(500)
    [proposal] = api_proposals(served, who)
    with served.client() as api:
        confirmed = api.post(f"/v1/proposals/{proposal['proposal_id']}/confirm")
        assert confirmed.json()["status"] == "EXECUTED"
    booking.get_by_role("button", name="Confirm").click()
    expect(booking).to_contain_text("Already EXECUTED")
    expect(status_of(booking)).to_have_text("EXECUTED")
    expect(booking).to_contain_text("15:00")  # the result, fetched after the 409
    expect(booking.get_by_role("button")).to_have_count(0)


LIVE_CHUNKS = [  # one live turn, cut at awkward places (mid-field, between CR and LF)
    "id: 0\nevent: tok",
    'en\ndata: {"text": "Let me "}\r',
    "\n\r\n",
    'event: tool_call\ndata: {"tool": "check_availability", "tier": "T1",',
    ' "status": "started"}\n\n: a comment\n\n',
    'event: tool_call\ndata: {"tool": "check_availability", "tier": "T1", "status": "ok"}\n\n',
    'event: token\ndata: {"text": "check: "}\n\nevent: token\ndata: {"text": "free."}\n\n',
    'event: done\ndata: {"reply": "Let me check: free. Anything else?",\n',
    'data: "tool_calls": [{"tool": "check_availability", "tier": "T1", "status": "ok"}]}\n\n',
    "event: cut\ndata: {}",
]

LIVE_TURN_JS = """async (chunks) => {
  const { readEvents } = await import("/ui/sse.js");
  const { newTurn, applyTurnEvent } = await import("/ui/store.js");
  const { TurnBlock } = await import("/ui/turn.js");
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
  const frames = [];
  const turn = newTurn("chatbot");
  const view = new TurnBlock("chatbot");
  for await (const f of readEvents(body)) {
    frames.push([f.id, f.event]);
    applyTurnEvent(turn, f.event, JSON.parse(f.data));
    view.render(turn);
  }
  return { frames, items: [...view.node.children].map((n) => [n.className, n.textContent]) };
}"""


def test_live_events_render_in_arrival_order(served: Served, watched: Watched) -> None:
    """The page's SSE reader, turn state and turn view on a live-shaped stream (API.md): tokens
    around a tool call, `started` then `ok` in place, frames cut anywhere, a
    multi-line `data`, a comment, and a frame the stream cut off (dropped)."""
    page = watched.page
    page.goto(f"{served.url}/ui")
    out: dict[str, Any] = page.evaluate(LIVE_TURN_JS, LIVE_CHUNKS)
    assert out["frames"] == [
        ["0", "token"],
        [None, "tool_call"],
        [None, "tool_call"],
        [None, "token"],
        [None, "token"],
        [None, "done"],
    ]
    assert out["items"] == [
        ["msg assistant", "chatbotLet me "],
        ["toolcall", "Tool check_availability T1 ok"],
        ["msg assistant", "chatbotcheck: free. Anything else?"],
    ]


FAILED_CARDS_JS = """async (bodies) => {
  const { ProposalCard } = await import("/ui/cards.js");
  const actions = { decide: async () => null, refresh() {}, changed() {} };
  return bodies.map((body) => {
    const card = new ProposalCard(body, actions);
    document.body.append(card.node);
    return {
      hint: card.node.querySelector(".hint").textContent,
      reason: card.node.querySelector(".reason").textContent,
      tags: card.node.querySelectorAll(".reason *").length,
    };
  });
}"""


def test_a_failed_card_says_why_and_when_the_outcome_is_unknown(
    served: Served, watched: Watched
) -> None:
    """A FAILED proposal's `result` ({"error", "error_kind"}) on its card: the reason
    as text, and `outcome_unknown` never called "did not run" (the tool may have acted)."""
    page = watched.page
    page.goto(f"{served.url}/ui")
    cut_short = "its execution was interrupted; whether it took effect is unknown"
    failures = [(cut_short, "outcome_unknown"), (f"card declined {XSS}", "tool_error")]
    # The bodies the API sends for two FAILED proposals (their hints are the server's).
    bodies = [
        Proposal(
            proposal_id=f"p_{i}",
            tenant_id="t",
            session_id="s_1",
            agent="lab",
            tool="charge_card",
            tier=Tier.T3,
            status=ProposalStatus.FAILED,
            preview="charge 10 EUR",
            created_at=0,
            error=error,
            error_kind=kind,
        ).public()
        for i, (error, kind) in enumerate(failures)
    ]
    out: list[dict[str, Any]] = page.evaluate(FAILED_CARDS_JS, bodies)
    assert out == [
        {
            "hint": "Outcome unknown: it may have run; check before retrying.",
            "reason": f"Reason: {cut_short}",
            "tags": 0,
        },
        {"hint": "It did not run.", "reason": f"Reason: card declined {XSS}", "tags": 0},
    ]
    assert watched.dialogs == []


def test_details_under_each_reply_show_the_turns_timeline(
    lab_server: LiveServer, watched: Watched
) -> None:
    """The turn inspector in the console: a collapsed "Details" under each reply, live
    and after reopening the session, that loads the turn's steps when opened."""
    page = watched.page
    page.goto(f"{lab_server.base_url}/ui#key={lab_server.keys['A']}")
    who = subject()
    open_session(page, "lab", who)
    type_message(page, '!tools echo; slow {"seconds": 0.05, "api_key": "abc"}')
    type_message(page, '!tools slow_effect {"seconds": 0}')
    log = page.get_by_role("log")
    details = log.locator("details.turn-details")
    expect(details).to_have_count(2)
    expect(details.first).not_to_have_attribute("open", "")
    with page.expect_response(re.compile(r"/turns/1$")):
        details.first.locator("summary").click()
    steps = page.get_by_role("list", name="Turn 1 steps").get_by_role("listitem")
    expect(steps).to_have_text(
        [
            re.compile(r"^\+[\d.]+ ms model .*: ok · \d+ in / \d+ out tokens · 1 tool call"),
            re.compile(r"tool echo T1 ok.*arguments\{\}result\{\"tenant\""),
            re.compile(r"model .*: ok"),
            re.compile(r'tool slow T1 invalid.*arguments\{.*"api_key":"\[redacted\]"'),
            re.compile(r"model .*: ok"),
            re.compile(r"budget used: T1 2, T2 0, T3 0; left: T1 \d+"),
        ]
    )
    # reopened from the session list, the history keeps a Details per turn (the old
    # log stays until the session's history is in: wait for the new one, whose first
    # Details is closed, before clicking)
    with page.expect_response(re.compile(r"/turns$")):
        page.get_by_role("button", name=re.compile(f"lab · {who}")).click()
    expect(details).to_have_count(2)
    expect(details.first).not_to_have_attribute("open", "")
    details.last.locator("summary").click()
    expect(page.get_by_role("list", name="Turn 2 steps")).to_contain_text(
        re.compile(r"tool slow_effect T2 proposed.*proposal slow_effect \(T2\): proposed → PENDING")
    )


# -- polish: typing, scrolling, the connection state, narrow screens ---------------------

TYPING_WATCH = """
(log) => {
  window.typingSeen = [];
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n.nodeType !== 1) continue;
        const typing = n.matches(".typing") ? n : n.querySelector?.(".typing");
        if (typing) window.typingSeen.push(typing.getClientRects().length ? "typing" : "hidden");
        if (n.matches(".msg.assistant")) window.typingSeen.push("reply");
      }
      for (const n of r.removedNodes) {
        if (n.nodeType === 1 && n.matches(".typing")) window.typingSeen.push("gone");
      }
    }
  }).observe(log, { childList: true, subtree: true });
}
"""


def test_a_typing_indicator_shows_until_the_first_token(
    lab_server: LiveServer, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{lab_server.base_url}/ui#key={lab_server.keys['A']}")
    open_session(page, "lab", subject())
    log = page.get_by_role("log")
    log.evaluate(TYPING_WATCH)
    typing = log.get_by_role("status", name="lab is typing")
    expect(typing).to_have_count(0)
    page.get_by_label("Message").fill('!tools slow {"seconds": 0.2}')
    page.keyboard.press("Enter")
    expect(log.locator(".toolcall").last).to_have_text(re.compile(r"slow\s+T1\s+ok"))
    expect(log.locator(".turn .msg.assistant")).to_have_count(1)
    expect(typing).to_have_count(0)
    # it showed (laid out on the page) before the reply, and left as the first token came
    assert page.evaluate("window.typingSeen") == ["typing", "gone", "reply"]


def at_bottom(log: Locator) -> bool:
    """Whether the log shows its end (waiting up to 5 s for it to get there)."""
    try:
        log.page.wait_for_function(
            "l => l.scrollHeight - l.scrollTop - l.clientHeight < 4",
            arg=log.element_handle(),
            timeout=5000,
        )
    except PlaywrightError:
        return False
    return True


def test_the_log_follows_new_content_and_a_confirms_result(
    served: Served, watched: Watched
) -> None:
    page = watched.page
    page.set_viewport_size({"width": 1280, "height": 640})
    open_console(page, served)
    open_session(page, "chatbot", subject())
    log = page.get_by_role("log")
    for _ in range(4):  # more than the log can show
        type_message(page, "what services do you have?")
        expect(log.locator(".turn .msg.assistant")).not_to_have_count(0)
        assert at_bottom(log)
    assert log.evaluate("l => l.scrollHeight > l.clientHeight * 1.5")
    type_message(page, "book a haircut tomorrow at 12")
    booking = card(page, "book_appointment", has_text="time=12:00")
    expect(status_of(booking)).to_have_text("PENDING")
    expect(booking.get_by_role("button", name="Confirm")).to_be_in_viewport()
    assert at_bottom(log)
    booking.get_by_role("button", name="Confirm").click()
    expect(status_of(booking)).to_have_text("EXECUTED")
    expect(booking.locator(".result")).to_be_in_viewport(ratio=1)  # the result shows whole


def test_a_gateway_that_does_not_answer_shows_disconnected_and_recovers(
    served: Served, watched: Watched
) -> None:
    page = watched.page
    open_console(page, served)
    open_session(page, "chatbot", subject())
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Connected as owner (owner).")
    # the gateway goes away: every request is refused, as by a closed port
    page.route("**/*", lambda route: route.abort("connectionrefused"))
    expect(header).to_contain_text("Disconnected - retrying")  # the heartbeat saw it
    expect(header).not_to_contain_text("Connected")
    page.get_by_label("Message").fill("what services do you have?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("Not sent: the gateway did not answer.")
    body = page.locator("body")
    expect(body).not_to_contain_text("TypeError")
    expect(body).not_to_contain_text("Failed to fetch")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    # it comes back
    page.unroute("**/*")
    expect(header).to_contain_text("Connected as owner (owner).")
    expect(page.get_by_role("alert")).to_be_hidden()
    type_message(page, "what services do you have?")
    expect(page.get_by_role("log").locator(".turn .msg.assistant")).to_have_count(1)


def test_the_composer_is_pinned_on_a_narrow_screen(served: Served, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        open_console(page, served)
        open_session(page, "chatbot", subject())
        for _ in range(3):
            type_message(page, "what services do you have?")
        composer = page.locator("#composer")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 844 + 2, f"the page is {height}px long"
        expect(composer).to_be_in_viewport(ratio=1)
        box = composer.bounding_box()
        assert box is not None and box["y"] > 844 - 200 and box["y"] + box["height"] <= 844
        # scrolled to the panels at the end, the composer is still there
        page.locator("#console").evaluate("l => { l.scrollTop = l.scrollHeight; }")
        expect(page.get_by_role("region", name="Audit")).to_be_in_viewport()
        expect(composer).to_be_in_viewport(ratio=1)
        expect(page.get_by_label("Message")).to_be_enabled()
        # and the newest reply shows above it
        page.locator("#console").evaluate("l => { l.scrollTop = 0; }")
        last = page.locator(".turn .msg.assistant").last
        expect(last).to_be_in_viewport()
    finally:
        context.close()


# -- principals: the Inbox, a session token's console, the embeddable chat ---------------


def _letters() -> str:
    return "".join(chr(ord("a") + b % 26) for b in uuid.uuid4().bytes[:10])


def test_staff_approves_an_admin_deletion_from_the_inbox(served: Served, watched: Watched) -> None:
    name = _letters()
    with served.client() as owner:
        staff = owner.post("/v1/keys", json={"name": f"sam-{name}", "role": "staff"}).json()
        sid = owner.post("/v1/sessions", json={"agent": "admin", "subject": subject()}).json()[
            "session_id"
        ]
        owner.post(f"/v1/sessions/{sid}/messages", json={"text": f"create service {name} for $20"})
        done = owner.post(f"/v1/sessions/{sid}/messages", json={"text": "yes"}).json()
        assert done["proposals"][0]["status"] == "EXECUTED"
        turn = owner.post(f"/v1/sessions/{sid}/messages", json={"text": f"delete service {name}"})
        pid = turn.json()["proposals"][0]["proposal_id"]
    page = watched.page
    page.goto(f"{served.url}/ui#key={staff['key']}")
    expect(page.get_by_text(f"Connected as sam-{name} (staff).")).to_be_visible()
    expect(page.get_by_role("button", name="Create key")).to_be_hidden()  # owners only
    inbox = page.get_by_role("region", name="Inbox")
    item = inbox.locator(f"li[data-proposal-id='{pid}']")
    expect(item).to_contain_text("delete_service")
    expect(item).to_contain_text("Requested by owner (owner).")
    item.get_by_role("button", name="Approve").click()
    expect(item).to_contain_text("EXECUTED")
    expect(item).to_contain_text(f"Approved by sam-{name} (staff).")
    with served.client() as owner:
        assert owner.get(f"/v1/proposals/{pid}").json()["status"] == "EXECUTED"
        events = owner.get("/v1/audit", params={"session_id": sid}).json()["events"]
        confirmed = [
            e for e in events if e.get("proposal_id") == pid and e.get("to") == "CONFIRMED"
        ]
        assert [e["by"] for e in confirmed] == [{"principal": f"sam-{name}", "role": "staff"}]
    expect(inbox.locator(f"li[data-proposal-id='{pid}']")).to_have_count(0, timeout=10_000)


def test_an_owner_creates_rotates_and_revokes_keys_in_the_console(
    served: Served, watched: Watched
) -> None:
    page = watched.page
    open_console(page, served)
    name = f"kim-{_letters()}"
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create key").click()
    shown = page.locator("#new-key")
    expect(shown).to_contain_text(f"New key for {name} (staff), shown once: orc_")
    first = shown.inner_text().rsplit(" ", 1)[1]
    row = page.locator("#keys li", has_text=name)
    row.get_by_role("button", name="Rotate").click()
    expect(shown).not_to_contain_text(first)
    second = shown.inner_text().rsplit(" ", 1)[1]
    with served.client(first) as old, served.client(second) as new:
        assert new.get("/v1/sessions").status_code == 200
        assert old.get("/v1/sessions").status_code == 401
        page.locator("#keys li", has_text=name).get_by_role("button", name="Revoke").click()
        expect(page.locator("#keys li", has_text=name)).to_have_count(0)
        assert new.get("/v1/sessions").status_code == 401


def test_a_session_token_console_shows_its_one_session(served: Served, watched: Watched) -> None:
    who = subject()
    with served.client() as owner:
        token = owner.post(
            "/v1/session-tokens", json={"agent": "chatbot", "subject": who, "ttl_s": 600}
        ).json()["token"]
    page = watched.page
    page.goto(f"{served.url}/ui#key={token}")
    expect(page.get_by_text(f"chatbot session of {who} (active)")).to_be_visible()
    expect(page.get_by_role("navigation", name="Sessions")).to_be_hidden()
    expect(page.get_by_label("Agent")).to_be_hidden()
    expect(page.get_by_role("region", name="Inbox")).to_be_hidden()
    type_message(page, "book a haircut tomorrow at 14")
    booking = card(page, "book_appointment")
    expect(booking).to_contain_text(f"Requested by {who} (subject).")
    booking.get_by_role("button", name="Confirm").click()
    expect(status_of(booking)).to_have_text("EXECUTED")


def test_the_embed_page_books_as_a_customer(served: Served, watched: Watched) -> None:
    """A tenant backend mints a token with its key; the customer's browser chats with it."""
    who = subject()
    with served.client() as backend:
        token = backend.post(
            "/v1/session-tokens", json={"agent": "chatbot", "subject": who, "ttl_s": 600}
        ).json()["token"]
    page = watched.page
    page.goto(f"{served.url}/ui/embed#token={token}")
    expect(page.get_by_role("status")).to_have_text(f"Chatting as {who}.")
    assert token not in page.url  # out of the address bar
    page.get_by_label("Message").fill("book a haircut tomorrow at 16")
    page.get_by_role("button", name="Send").click()
    booking = page.get_by_role("article", name="book_appointment")
    expect(booking).to_contain_text("haircut")
    booking.get_by_role("button", name="Confirm").click()
    expect(booking).to_contain_text("EXECUTED")
    with served.client() as owner:
        [session] = owner.get("/v1/sessions", params={"subject": who}).json()["sessions"]
        [p] = owner.get("/v1/proposals", params={"session_id": session["session_id"]}).json()[
            "proposals"
        ]
        assert p["status"] == "EXECUTED"
        assert p["approvals"][0]["by"] == who and p["approvals"][0]["role"] == "subject"


# -- one state, one render per view: what the server says is what a card shows ------------

UPSERT_JS = """async (body) => {
  const store = await import("/ui/store.js");  // the page's own state (one module instance)
  store.upsertProposal(body);
  await new Promise((drawn) => queueMicrotask(drawn));  // after the render it queued
  const node = document.querySelector(`article[data-proposal-id="${body.proposal_id}"]`);
  return [node.querySelector(".approvals").textContent, node.querySelector(".hint").textContent];
}"""


def test_a_card_draws_the_servers_approval_line_from_the_state(
    lab_server: LiveServer, watched: Watched
) -> None:
    """A card's approval line is the server's `approval_text` as sent, and the card is
    drawn again from the state whenever the state changes: a poll that brings another
    principal's approval, or any update through store.js, with no handler drawing it."""
    name = _letters()
    with lab_server.client() as owner:
        sam, kim = (
            owner.post("/v1/keys", json={"name": f"{who}-{name}", "role": "staff"}).json()["key"]
            for who in ("sam", "kim")
        )
        sid = owner.post("/v1/sessions", json={"agent": "admin", "subject": subject()}).json()[
            "session_id"
        ]
        owner.post(f"/v1/sessions/{sid}/messages", json={"text": f"create service {name} for $20"})
        done = owner.post(f"/v1/sessions/{sid}/messages", json={"text": "yes"}).json()
        assert done["proposals"][0]["status"] == "EXECUTED"
    page = watched.page
    page.goto(f"{lab_server.base_url}/ui#key={sam}")
    open_session(page, "desk", subject())  # desk: two staff members, not the requester
    type_message(page, f'!tools delete_service {{"name": "{name}"}}')
    deletion = card(page, "delete_service")
    expect(status_of(deletion)).to_have_text("PENDING")
    pid = deletion.get_attribute("data-proposal-id")
    line = deletion.locator(".approvals")
    with lab_server.client() as owner:
        asked = owner.get(f"/v1/proposals/{pid}").json()
    assert "0 of 2 approvals" in asked["approval_text"]
    expect(line).to_have_text(asked["approval_text"])
    expect(deletion.get_by_role("button", name="Confirm")).to_be_disabled()  # the requester's
    # kim approves elsewhere: the page's poll puts it in the state, and the card follows
    with httpx.Client(
        base_url=lab_server.base_url, headers={"Authorization": f"Bearer {kim}"}
    ) as other:
        one = other.post(f"/v1/proposals/{pid}/confirm").json()
    assert one["status"] == "PENDING" and f"Approved by kim-{name} (staff)" in one["approval_text"]
    expect(line).to_have_text(one["approval_text"])
    expect(status_of(deletion)).to_have_text("PENDING")
    # whatever the state holds, the card shows: it has no words of its own
    drawn = page.evaluate(
        UPSERT_JS, {**one, "approval_text": "Set in the state.", "hint": "A hint, also."}
    )
    assert drawn == ["Set in the state.", "A hint, also."]
    assert watched.dialogs == []
