"""`orchestra chat` as a person runs it: a subprocess against a real `orchestra serve`.

The serve streams like a real model (a first-token delay, then a paced stream),
so that streaming and the spinner can be seen from outside: the chat runs under
a pseudo-terminal when the test needs a terminal, with plain pipes otherwise.
Only the last serve's ORCHESTRA_HOME tells the chat where the gateway is.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from runtime.testing import Served
from runtime.testing import served as orchestra_serve
from runtime.testing.serve import free_port

pytestmark = pytest.mark.e2e

TTFT_MS = 800
TOKENS_PER_S = 40


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with orchestra_serve(
        "--hosts",
        "1",
        home=tmp_path_factory.mktemp("home"),
        env={
            "ORCHESTRA_MODEL_TTFT_MS": str(TTFT_MS),
            "ORCHESTRA_MODEL_TOKENS_PER_S": str(TOKENS_PER_S),
        },
    ) as s:
        yield s


def _env(served: Served | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    if served is not None:
        env["ORCHESTRA_HOME"] = str(served.home)
    return env


def chat(
    served: Served | None, lines: list[str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`orchestra chat ARGS` with only ORCHESTRA_HOME to find the gateway; `lines` on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "chat", *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=_env(served),
        timeout=90,
        check=check,
    )


def test_serve_saves_its_url_beside_the_key(served: Served) -> None:
    assert (served.home / "gateway_url").read_text().strip() == served.url
    assert (served.home / "demo_key").read_text().strip() == served.key
    assert not served.url.endswith(":8000")  # so the default URL could not have found it


def test_chat_finds_the_serve_and_confirms_the_only_pending_proposal(served: Served) -> None:
    out = chat(
        served,
        ["/help", "book a haircut tomorrow at 11", "/pending", "/confirm", "/confirm", "/quit"],
        "--subject",
        "ann",
    ).stdout
    assert "How can I help you today?" in out
    assert "/confirm [ID]" in out and "/sessions" in out  # /help
    # the turn shows the proposal, and /pending shows it again
    [pid] = set(re.findall(r"\[T3 PENDING\] book_appointment\(service=haircut.* id=(p_\S+)", out))
    assert f"proposal {pid}: EXECUTED book_appointment(" in out
    assert "! no pending proposal" in out  # the second /confirm: nothing left to run
    with served.client() as api:
        assert api.get(f"/v1/proposals/{pid}").json()["status"] == "EXECUTED"


def test_confirm_without_id_asks_which_when_several_are_pending(served: Served) -> None:
    out = chat(
        served,
        ["book a haircut tomorrow at 14", "book a manicure tomorrow at 15", "/confirm"],
        "--subject",
        "bea",
    ).stdout
    pids = re.findall(r"\[T3 PENDING\] book_appointment\(.* id=(p_\S+)", out)
    assert len(pids) == 4 and sorted(pids[2:]) == sorted(pids[:2]), out  # the turns', the list
    pids = pids[:2]
    assert "2 proposals are pending; which one? /confirm ID" in out
    assert "EXECUTED" not in out
    # the person picks one, rejects the other without naming it
    out = chat(served, [f"/confirm {pids[1]}", "/reject", "/pending"], "--subject", "bea").stdout
    assert f"proposal {pids[1]}: EXECUTED" in out
    assert f"proposal {pids[0]}: REJECTED" in out
    assert "(no pending proposal)" in out


def test_chat_resumes_the_subjects_session_and_lists_sessions(served: Served) -> None:
    first = chat(served, ["what services do you have?"], "--subject", "cleo").stdout
    sid = re.search(r"\[chatbot session (\S+) for cleo\]", first)
    assert sid, first
    again = chat(served, ["/sessions"], "--subject", "cleo").stdout
    assert f"[chatbot session {sid.group(1)} for cleo, resumed: 2 messages]" in again
    assert "you: what services do you have?" in again
    assert re.search(rf"^ \* {sid.group(1)} chatbot cleo active$", again, re.M), again
    other = chat(served, [], "--subject", "dan").stdout
    assert sid.group(1) not in other and "resumed" not in other


def test_chat_streams_tokens_after_a_spinner_on_a_terminal(served: Served) -> None:
    """Under a terminal the spinner turns until the first token, and the reply's
    words arrive one after another, not all at the end of the turn."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "chat", "--subject", "eve"],
        stdin=subprocess.PIPE,
        stdout=secondary,
        stderr=secondary,
        env=_env(served),
    )
    os.close(secondary)
    assert proc.stdin is not None
    chunks: list[tuple[float, bytes]] = []
    try:
        _read_until(primary, chunks, b"(/help for commands)")
        sent = time.monotonic()
        proc.stdin.write(b"book a haircut tomorrow at 16\n")  # a reply of many words
        proc.stdin.flush()
        _read_until(primary, chunks, b"\n", after=sent, needle_in_reply=True)
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    after = [(t, c) for t, c in chunks if t >= sent]
    text = b"".join(c for _, c in after).decode()
    spinner_at = next(t for t, c in after if b"\r|" in c or b"\r/" in c)
    words = [(t, c) for t, c in after if re.search(rb"[A-Za-z]{3}", c.replace(b"\r", b""))]
    assert words, text
    assert spinner_at < words[0][0]  # the spinner turned before the first token
    assert words[-1][0] - words[0][0] > 0.2, text  # the reply came in pieces
    assert proc.returncode == 0


def _read_until(
    fd: int,
    chunks: list[tuple[float, bytes]],
    needle: bytes,
    after: float = 0.0,
    needle_in_reply: bool = False,
) -> None:
    """Read the terminal into `chunks` until `needle` appears in what came after
    `after` (for the reply: after its first word), or fail after 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunks.append((time.monotonic(), os.read(fd, 4096)))
        seen = b"".join(c for t, c in chunks if t >= after)
        if needle_in_reply:
            m = re.search(rb"[A-Za-z]{3}", seen.replace(b"\r", b""))
            seen = seen.replace(b"\r", b"")[m.start() :] if m else b""
        if needle in seen:
            return
    raise AssertionError(f"never saw {needle!r}: {b''.join(c for _, c in chunks)!r}")


def test_chat_without_a_terminal_prints_no_spinner(served: Served) -> None:
    r = chat(served, ["what services do you have?"], "--subject", "fay")
    assert "\r" not in r.stdout + r.stderr


def test_no_gateway_is_one_clear_line(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = chat(None, ["hello"], "--url", url, "--key", "k", check=False)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith(f"orchestra: no gateway answers at {url} ")
    home = tmp_path_factory.mktemp("stale")  # a serve that has since stopped
    (home / "gateway_url").write_text(url + "\n")
    (home / "demo_key").write_text("k\n")
    env = {**_env(None), "ORCHESTRA_HOME": str(home)}
    r = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "chat"],
        input="hi\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [line]
