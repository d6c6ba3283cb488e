"""`orchestra chat`: a terminal client of the HTTP API, as a person expects one.

Rule: it only speaks the public API (API.md) over HTTP. It finds the gateway
and key that the last `orchestra serve` saved under ORCHESTRA_HOME (flags and
environment win), streams each reply as server-sent events (a spinner on a
terminal until the first token), resumes the subject's active session, and
answers a gateway that is not there with one line naming its URL, never a
traceback. Lines starting with `/` are commands (`/help`); every other line is
a message to the agent.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_FILE = "gateway_url"
KEY_FILE = "demo_key"
HISTORY_SHOWN = 4

HELP = """\
commands:
  /confirm [ID]   run a pending proposal (without ID: the only pending one)
  /reject [ID]    reject a pending proposal (without ID: the only pending one)
  /pending        this session's pending proposals
  /sessions       your sessions with this gateway (resume one: --subject)
  /help           this list
  /quit           leave (the session stays open; --subject resumes it)
anything else is a message to the agent."""


class ChatError(Exception):
    """What ends the client with one line on stderr (exit code 1)."""


def saved(home: Path, name: str) -> str | None:
    path = home / name
    if not path.exists():
        return None
    return path.read_text().strip() or None


def save_url(home: Path, url: str) -> None:
    """`orchestra serve` leaves its URL beside the demo key it saves."""
    (home / URL_FILE).write_text(url + "\n")


def resolve(url: str | None, key: str | None, home: Path) -> tuple[str, str | None]:
    """The gateway URL and key: flags, then the environment, then the last serve's."""
    found_url = (
        url or os.environ.get("ORCHESTRA_URL") or saved(home, URL_FILE) or DEFAULT_URL
    ).rstrip("/")
    found_key = key or os.environ.get("ORCHESTRA_API_KEY") or saved(home, KEY_FILE)
    return found_url, found_key


class Spinner:
    """A spinner on stderr until `stop()`; nothing at all when not on a terminal."""

    FRAMES = "|/-\\"

    def __init__(self, out: IO[str], enabled: bool) -> None:
        self._out = out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if enabled:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        for frame in itertools.cycle(self.FRAMES):
            self._out.write(f"\r{frame} ")
            self._out.flush()
            if self._stop.wait(0.1):
                break
        self._out.write("\r  \r")
        self._out.flush()

    def stop(self) -> None:
        if self._thread is not None and not self._stop.is_set():
            self._stop.set()
            self._thread.join()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs of a server-sent event stream; comments are skipped."""
    event, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def proposal_line(p: dict[str, Any]) -> str:
    hint = ""
    if p["status"] == "PENDING":
        hint = " (/confirm to run, /reject to drop)" if p["tier"] == "T3" else ""
    return f"  [{p['tier']} {p['status']}] {p['preview']} id={p['proposal_id']}{hint}"


def _error_text(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}"


@dataclass
class Chat:
    http: httpx.Client
    out: IO[str]
    err: IO[str]
    tty: bool
    sid: str = ""

    def open(self, agent: str, subject: str) -> None:
        r = self.http.post("/v1/sessions", json={"agent": agent, "subject": subject})
        if r.status_code >= 400:
            raise ChatError(f"could not start a session: {_error_text(r)}")
        session = r.json()
        self.sid = session["session_id"]
        if r.status_code == 201:
            self.print(f"[{agent} session {self.sid} for {subject}] {session['greeting']}")
        else:
            msgs = self.http.get(f"/v1/sessions/{self.sid}/messages").json()["messages"]
            self.print(f"[{agent} session {self.sid} for {subject}, resumed: {len(msgs)} messages]")
            for m in msgs[-HISTORY_SHOWN:]:
                self.print(f"  {'you' if m['role'] == 'user' else agent}: {m['content']}")
        self.print("(/help for commands)")

    def print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def handle(self, text: str) -> None:
        """One input line: a command or a message."""
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        if word in ("/confirm", "/reject"):
            self.decide(word[1:], rest)
        elif word in ("/pending", "/proposals"):
            pending = self.pending()
            self.print("\n".join(proposal_line(p) for p in pending) or "  (no pending proposal)")
        elif word == "/sessions":
            self.sessions()
        elif word == "/help":
            self.print(HELP)
        elif word.startswith("/"):
            self.print(f"! unknown command {word} (/help lists them)")
        else:
            self.send(text)

    def pending(self) -> list[dict[str, Any]]:
        r = self.http.get("/v1/proposals", params={"session_id": self.sid, "status": "PENDING"})
        found: list[dict[str, Any]] = r.json()["proposals"]
        return found

    def decide(self, verb: str, pid: str) -> None:
        if not pid:
            pending = self.pending()
            if not pending:
                self.print("! no pending proposal")
                return
            if len(pending) > 1:
                self.print(f"{len(pending)} proposals are pending; which one? /{verb} ID")
                for p in pending:
                    self.print(proposal_line(p))
                return
            pid = pending[0]["proposal_id"]
        r = self.http.post(f"/v1/proposals/{pid}/{verb}")
        if r.status_code >= 400:
            self.print(f"! {_error_text(r)}")
            return
        body = r.json()
        result = body.get("result")
        shown = f" {json.dumps(result)}" if result is not None else ""
        self.print(f"proposal {pid}: {body['status']} {body['preview']}{shown}")

    def sessions(self) -> None:
        r = self.http.get("/v1/sessions", params={"limit": 20})
        for s in r.json()["sessions"]:
            mark = "*" if s["session_id"] == self.sid else " "
            self.print(f" {mark} {s['session_id']} {s['agent']} {s['subject']} {s['status']}")

    def send(self, text: str) -> None:
        """One turn, streamed: tokens as they come, then its proposals."""
        spinner = Spinner(self.err, self.tty)
        started = False
        try:
            with self.http.stream(
                "POST",
                f"/v1/sessions/{self.sid}/messages",
                json={"text": text},
                headers={"Accept": "text/event-stream"},
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    spinner.stop()
                    self.print(f"! {_error_text(r)}")
                    return
                for event, data in sse_events(r.iter_lines()):
                    if event == "token":
                        spinner.stop()
                        started = True
                        self.out.write(data["text"])
                        self.out.flush()
                    elif event == "done":
                        spinner.stop()
                        if not started:
                            self.out.write(data["reply"])
                        self.out.write("\n")
                        for p in data["proposals"]:
                            self.out.write(proposal_line(p) + "\n")
                        self.out.flush()
                    elif event == "error":
                        spinner.stop()
                        self.print(("\n" if started else "") + f"! {data['error']['message']}")
        finally:
            spinner.stop()


def run(
    url: str | None, key: str | None, agent: str, subject: str, home: Path, lines: IO[str]
) -> int:
    """The chat loop over `lines` (stdin); the process's exit code."""
    base, found_key = resolve(url, key, home)
    if not found_key:
        print(
            "orchestra: no API key: pass --key, set ORCHESTRA_API_KEY, or run `orchestra serve`",
            file=sys.stderr,
        )
        return 2
    headers = {"Authorization": f"Bearer {found_key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            chat = Chat(http, sys.stdout, sys.stderr, sys.stdout.isatty())
            chat.open(agent, subject)
            for line in lines:
                text = line.strip()
                if not text:
                    continue
                if text in ("/quit", "/exit"):
                    break
                chat.handle(text)
    except httpx.TransportError as exc:
        reason = type(exc).__name__ if not str(exc) else str(exc)
        print(
            f"orchestra: no gateway answers at {base} ({reason}); start one with "
            "`orchestra serve`, or pass --url",
            file=sys.stderr,
        )
        return 1
    except ChatError as exc:
        print(f"orchestra: {exc}", file=sys.stderr)
        return 1
    return 0
