"""The HTTP benchmark: Orchestra's full message path vs the bare ceiling vs LangGraph.

    python -m loadtests.bench [--duration 20] [--connections 100] [--profile]

One command, one run, one machine (ratios are what to read: the machine is
noisy). Every phase starts its own server in a subprocess and stops it again:

  a. bare ceiling   `loadtests/bare_app.py`: FastAPI + one call to one Ray actor;
  b. orchestra      `orchestra serve --hosts 2` (own ORCHESTRA_HOME in a temp dir,
                    embedded Valkey, local Ray, ScriptedModel with zero latency);
                    POST /v1/sessions/{sid}/messages {"text": "what services do you
                    have?"}: one T1 tool call (list_services) per message;
  b1. orchestra     the same with `--hosts 1` (messages/s with 1 vs 2 hosts);
  c. LangGraph      the peer of shared/bench/peers/langgraph_app.py in its own venv
                    (created here; skipped with a message when it cannot be installed),
                    {"message": "..."}; its HTTP 500s are counted as errors.

Each load is wrk (`loadtests/wrk/messages.lua`), `--connections` connections
for `--duration` seconds, after a short warm-up, cycling over 100 session ids
created beforehand (each with its tenant's bearer key). The four load runs
are repeated `--rounds` times (3 by default: a, b, c, b1, a, b, c, b1, ...);
the report gives, per path, the round with the median throughput, and the
median of the per-round ratios. During each measured run the CPU time of
every process of the server's tree is read (psutil), so the report also
gives the server CPU per request by role (gateway, session hosts, Valkey,
Ray's own processes) and how busy the whole machine was. Without wrk the script
says so and falls back to a Python asyncio + httpx closed-loop client (which
shares the 2 cores with the servers: expect lower figures).

Orchestra's per-tenant rate limit (200 req/s per gateway process by default)
would turn most of a single tenant's 100-connection load into 429s, so the
100 sessions belong to `--tenants` tenants (25 by default), created through
the store API like `orchestra tenant add` does.

A separate `orchestra serve --hosts 2` measures, over HTTP:
  * session cold start: latency of the first message of a new session
    (sequential, no other load), next to the second (warm) message;
  * memory per idle hosted session: RSS growth of the SessionHost processes
    (children of the serve process whose command line names SessionHost) after
    1,000 and then 10,000 sessions, each created and sent one message.

`--profile` adds a py-spy recording of the gateway and one SessionHost during
an extra wrk run of the full path (not the measured one) and summarises the
top costs.

Output: a table on stdout, `docs/bench/latest.json`, `docs/bench/latest.png`
(matplotlib: from this Python if it has it, else from the peer venv).

Every process started here runs in its own process group and is stopped at
the end, also on Ctrl-C or SIGTERM.

Only the standard library is imported at module level, so that
`<venv>/bin/python loadtests/bench.py --plot-only JSON PNG` can draw the plot
from the peer venv.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WRK_SCRIPT = ROOT / "loadtests" / "wrk" / "messages.lua"
DEFAULT_PEER_DIR = ROOT.parent / "shared" / "bench" / "peers"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "orchestra-bench" / "peer-venv"
PEER_PACKAGES = ["langgraph", "fastapi", "uvicorn[standard]"]
TEXT = "what services do you have?"
PYSPY_RATE = 200


def say(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


# -- processes ----------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    graceful: int = signal.SIGINT
    descendants: dict[int, Any] = field(default_factory=dict)  # pid -> psutil.Process


class Processes:
    """Every server this run starts; `stop_all()` leaves no orphan behind."""

    def __init__(self) -> None:
        self.items: list[Proc] = []

    def start(
        self,
        name: str,
        cmd: list[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        graceful: int = signal.SIGINT,
    ) -> Proc:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # our Ctrl-C is not theirs: we stop them in order
            )
        proc = Proc(name, popen, log, graceful)
        self.items.append(proc)
        return proc

    def remember_descendants(self, proc: Proc) -> None:
        """Snapshot the process tree (Ray starts raylet, GCS, workers...)."""
        import psutil

        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(proc.popen.pid).children(recursive=True):
                proc.descendants.setdefault(child.pid, child)

    def stop(self, proc: Proc, timeout: float = 60.0) -> None:
        import psutil

        self.remember_descendants(proc)
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(proc.graceful)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"{proc.name} did not stop within {timeout:.0f}s: killing it")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)
        # Whatever the server left behind (it should be nothing) goes too.
        deadline = time.monotonic() + 10
        for child in proc.descendants.values():
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    child.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    say(f"killing a leftover process of {proc.name}: {child.pid} {child.name()}")
                    child.kill()
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.items)):
            try:
                self.stop(proc, timeout=30)
            except Exception as exc:
                say(f"could not stop {proc.name}: {exc!r}")


PROCS = Processes()


def free_port() -> int:
    """A free port outside the kernel's ephemeral range (32768-60999) and Ray's worker
    ports (10002-19999): the servers bind it only after Ray has started, and Ray and
    its workers bind ephemeral ports meanwhile."""
    import random

    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def wait_http(url: str, proc: Proc, timeout: float = 120.0) -> None:
    """Wait until `url` answers, and make sure it is `proc` that answers (still alive,
    no bind error in its log): a port can be taken between choosing and binding it."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{tail(proc.log)}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                time.sleep(0.5)
                log = proc.log.read_text(errors="replace")
                if proc.popen.poll() is not None or "address already in use" in log:
                    raise RuntimeError(f"{proc.name} could not bind its port:\n{tail(proc.log)}")
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer on {url} in {timeout:.0f}s:\n{tail(proc.log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def retrying(start: Any, *args: Any, attempts: int = 3) -> Any:
    """Start a server; on failure (e.g. its port was taken meanwhile) stop what it left
    and try again on a new port."""
    for attempt in range(1, attempts + 1):
        known = len(PROCS.items)
        try:
            return start(*args)
        except RuntimeError as exc:
            for proc in PROCS.items[known:]:
                PROCS.stop(proc)
            if attempt == attempts:
                raise
            say(f"start failed (attempt {attempt}), retrying on another port: {exc}")
    raise AssertionError("unreachable")


def clean_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("REDIS_URL", "RAY_ADDRESS", "ORCHESTRA_MODEL_LATENCY_MS", "ORCHESTRA_PLACEMENT"):
        env.pop(var, None)
    env["ORCHESTRA_MODEL"] = "scripted"
    env.update(extra)
    return env


# -- servers --------------------------------------------------------------------------


@dataclass
class Serve:
    proc: Proc
    url: str
    key: str
    home: Path

    def host_processes(self) -> list[Any]:
        import psutil

        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.popen.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "SessionHost" in " ".join(child.cmdline()):
                        found.append(child)
        return found

    def gateway_pid(self) -> int:
        return self.proc.popen.pid


def start_serve(work: Path, hosts: int, tag: str) -> Serve:
    return retrying(_start_serve, work, hosts, tag)


def _start_serve(work: Path, hosts: int, tag: str) -> Serve:
    home = work / f"home-{tag}"
    port = free_port()
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--hosts", str(hosts)]
    say(f"starting orchestra serve --hosts {hosts} on :{port} (ORCHESTRA_HOME={home}) ...")
    proc = PROCS.start(
        f"orchestra serve ({tag})",
        cmd,
        work / f"serve-{tag}.log",
        env=clean_env(ORCHESTRA_HOME=str(home)),
        cwd=ROOT,
    )
    deadline = time.monotonic() + 180
    key = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"orchestra serve exited early:\n{tail(proc.log)}")
        text = proc.log.read_text(errors="replace")
        if m := re.search(r"demo tenant API key: (\S+)", text):
            key = m.group(1)
        if key and "Ctrl-C stops everything" in text:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"orchestra serve did not get ready:\n{tail(proc.log)}")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    PROCS.remember_descendants(proc)
    return Serve(proc, url, key, home)


def start_bare(work: Path) -> tuple[Proc, str]:
    return retrying(_start_bare, work)


def _start_bare(work: Path) -> tuple[Proc, str]:
    port = free_port()
    say(f"starting the bare ceiling (loadtests/bare_app.py) on :{port} ...")
    proc = PROCS.start(
        "bare ceiling",
        [sys.executable, "-m", "loadtests.bare_app", "--port", str(port)],
        work / "bare.log",
        env=clean_env(),
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    PROCS.remember_descendants(proc)
    return proc, url


def ensure_peer_venv(venv: Path, peer_dir: Path) -> Path | None:
    """The peer's venv (created on first use); None, with a message, when it can't be."""
    app = peer_dir / "langgraph_app.py"
    if not app.exists():
        say(f"SKIP LangGraph peer: {app} not found (pass --peer-dir)")
        return None
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import langgraph, fastapi, uvicorn, uvloop, httptools"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    say(f"creating the peer venv {venv} and installing {' '.join(PEER_PACKAGES)} ...")
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        say(f"SKIP LangGraph peer: could not install it ({exc}): {err.decode()[-800:]}")
        return None
    if subprocess.run(check, capture_output=True).returncode != 0:
        say("SKIP LangGraph peer: installed, but `import langgraph` still fails")
        return None
    return python


def start_peer(work: Path, python: Path, peer_dir: Path) -> tuple[Proc, str]:
    return retrying(_start_peer, work, python, peer_dir)


def _start_peer(work: Path, python: Path, peer_dir: Path) -> tuple[Proc, str]:
    port = free_port()
    say(f"starting the LangGraph peer on :{port} ...")
    proc = PROCS.start(
        "langgraph peer",
        [
            str(python),
            "-m",
            "uvicorn",
            "langgraph_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        work / "peer.log",
        env=clean_env(),
        cwd=peer_dir,
        graceful=signal.SIGTERM,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/docs", proc)
    return proc, url


# -- Orchestra setup over its APIs ---------------------------------------------------


def make_tenants(serve: Serve, n: int) -> list[str]:
    """`n` tenants' API keys, made like `orchestra tenant add` makes them (store API)."""
    import asyncio

    from actors.redis_store import connect_store
    from runtime.settings import Settings
    from runtime.tenants import add_tenant

    url = (serve.home / "store_url").read_text().strip()

    async def go() -> list[str]:
        store = await connect_store(url, prefix=Settings().store_prefix)
        try:
            return [(await add_tenant(store, f"Bench tenant {i}"))[1] for i in range(n)]
        finally:
            await store.close()

    return asyncio.run(go())


def create_sessions(
    url: str,
    keys: list[str],
    n: int,
    agent: str = "chatbot",
    send: str | None = None,
    concurrency: int = 32,
    prefix: str = "",
) -> list[tuple[str, str]]:
    """`n` sessions (round-robin over the tenants' keys), optionally one message each."""
    import asyncio

    import httpx

    prefix = prefix or uuid.uuid4().hex[:8]
    out: list[tuple[str, str] | None] = [None] * n
    counter = iter(range(n))

    async def post(
        client: httpx.AsyncClient, path: str, body: dict[str, str], key: str
    ) -> httpx.Response:
        """POST, waiting out 429s and retrying a dropped keep-alive connection
        (the message carries a `message_id`, so a retry runs its turn once)."""
        headers = {"Authorization": f"Bearer {key}"}
        for attempt in range(20):
            try:
                r = await client.post(path, json=body, headers=headers)
            except httpx.TransportError:
                if attempt == 19:
                    raise
            else:
                if r.status_code != 429:
                    return r
            await asyncio.sleep(0.05 * (attempt + 1))
        return r

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            key = keys[i % len(keys)]
            r = await post(
                client, "/v1/sessions", {"agent": agent, "subject": f"{prefix}-{i}"}, key
            )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"creating a session: {r.status_code} {r.text}")
            sid = r.json()["session_id"]
            if send is not None:
                body = {"text": send, "message_id": f"{prefix}-{i}-first"}
                m = await post(client, f"/v1/sessions/{sid}/messages", body, key)
                if m.status_code != 200:
                    raise RuntimeError(f"first message: {m.status_code} {m.text}")
            out[i] = (sid, key)

    async def go() -> None:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))

    asyncio.run(go())
    return [o for o in out if o is not None]


def write_targets(path: Path, targets: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{sid} {key or '-'}\n" for sid, key in targets))
    return path


# -- load generators ------------------------------------------------------------------


def run_load(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    if args.client == "wrk":
        return run_wrk(args, url, targets, field, duration)
    return run_python_client(args, url, targets, field, duration)


def run_wrk(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(targets),
        field,
        TEXT,
        str(args.threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    m = re.search(r"^WRK_JSON (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    raw = json.loads(m.group(1))
    secs = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    lat = raw["latency_us"]
    e = raw["errors"]
    socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
    failed = raw["requests"] - ok + e["timeout"] + e["connect"]
    return {
        "client": "wrk",
        "duration_s": secs,
        "requests": raw["requests"],
        "ok": ok,
        "rps": raw["requests"] / secs,
        "ok_rps": ok / secs,
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000,
        "mean_ms": lat["mean"] / 1000,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": e,
        "error_pct": 100.0 * failed / max(1, raw["requests"] + e["timeout"] + e["connect"]),
        "socket_error_count": socket_errors,
    }


def run_python_client(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    """Closed loop: `connections` workers, each posts, waits for the answer, posts again."""
    import asyncio

    import httpx

    pairs = [line.split() for line in targets.read_text().splitlines() if line.strip()]
    lat: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    errors = 0
    seq = itertools.count()

    async def worker(client: httpx.AsyncClient, stop_at: float) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            sid, key = pairs[next(seq) % len(pairs)]
            headers = {"Authorization": f"Bearer {key}"} if key != "-" else {}
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    f"/v1/sessions/{sid}/messages", json={field: TEXT}, headers=headers
                )
            except httpx.HTTPError:
                errors += 1
                continue
            lat.append((time.perf_counter() - t0) * 1000)
            statuses[r.status_code] += 1

    async def go() -> float:
        limits = httpx.Limits(
            max_connections=args.connections, max_keepalive_connections=args.connections
        )
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            t0 = time.perf_counter()
            stop_at = t0 + duration
            await asyncio.gather(*(worker(client, stop_at) for _ in range(args.connections)))
            return time.perf_counter() - t0

    secs = asyncio.run(go())
    requests = sum(statuses.values())
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    qs = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "client": "python-httpx",
        "duration_s": secs,
        "requests": requests,
        "ok": ok,
        "rps": requests / secs,
        "ok_rps": ok / secs,
        "p50_ms": qs[49],
        "p90_ms": qs[89],
        "p95_ms": qs[94],
        "p99_ms": qs[98],
        "max_ms": max(lat, default=0.0),
        "mean_ms": statistics.fmean(lat) if lat else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": {"client": errors},
        "error_pct": 100.0 * (requests - ok + errors) / max(1, requests + errors),
        "socket_error_count": errors,
    }


def measure(
    args: argparse.Namespace,
    label: str,
    url: str,
    targets: Path,
    field: str,
    root_pid: int | None = None,
) -> dict[str, Any]:
    if args.warmup > 0:
        run_load(args, url, targets, field, args.warmup)
    say(f"{label}: {args.connections} connections for {args.duration:g}s ...")
    before = CpuSnapshot.take(root_pid)
    result = run_load(args, url, targets, field, args.duration)
    result["cpu"] = CpuSnapshot.take(root_pid).since(before, max(1, result["requests"]))
    say(
        f"{label}: {result['rps']:.0f} req/s ({result['ok_rps']:.0f} ok/s), "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, errors {result['error_pct']:.2f} % {result['statuses']}"
    )
    if root_pid is not None and result["ok"] < STALL_OK_PER_S * args.duration:
        result["stalled"] = True
        result["stall_dumps"] = dump_stacks(root_pid, Path(targets).parent, label)
        say(
            f"WARNING {label}: only {result['ok']} successful responses in "
            f"{args.duration:g}s: the server stalled; py-spy dumps: {result['stall_dumps']}"
        )
    cpu = result["cpu"]
    say(
        f"{label}: server CPU per request {cpu['server_ms_per_request']:.2f} ms "
        f"{cpu['ms_per_request_by_role']}; CPU busy {cpu['machine_busy_pct']:.0f} % of "
        f"{100 * cpu['cores']} % (servers {cpu['server_pct']:.0f} %, load generator "
        f"{cpu['client_pct']:.0f} %, everything else {cpu['other_pct']:.0f} %)"
    )
    return result


STALL_OK_PER_S = 20  # below this many successful responses a second, a run counts as stalled


def dump_stacks(root_pid: int, work: Path, label: str) -> list[str]:
    """py-spy dumps (Python and native frames) of a server's Python processes."""
    import psutil

    if shutil.which("py-spy") is None:
        return []
    files = []
    tag = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(root_pid)
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                role = role_of(p, root_pid)
                if role in ("valkey", "ray system"):
                    continue
                out = work / f"stall-{tag}-{role.replace(' ', '-')}-{p.pid}.txt"
                dump = subprocess.run(
                    ["py-spy", "dump", "--native", "--pid", str(p.pid)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                out.write_text(dump.stdout + dump.stderr)
                files.append(str(out))
    return files


def role_of(proc: Any, root_pid: int) -> str:
    if proc.pid == root_pid:
        return "server process"
    try:
        text = " ".join(proc.cmdline()) or proc.name()
    except Exception:
        return "ray system"
    for needle, role in (
        ("SessionHost", "session hosts"),
        ("ProposalRegistry", "proposal registry"),
        ("Responder", "bare actor"),
        ("valkey", "valkey"),
    ):
        if needle in text:
            return role
    return "ray system"  # raylet, GCS, dashboard agent, log monitor, idle workers


@dataclass
class CpuSnapshot:
    """CPU seconds of a server's process tree, the load generator and the machine."""

    at: float
    procs: dict[int, tuple[str, float]]
    children_cpu: float  # finished children of this process (wrk)
    self_cpu: float  # this process (the Python load generator)
    machine_busy: float
    root_pid: int | None

    @classmethod
    def take(cls, root_pid: int | None) -> CpuSnapshot:
        import resource

        import psutil

        procs: dict[int, tuple[str, float]] = {}
        if root_pid is not None:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(root_pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        t = p.cpu_times()
                        procs[p.pid] = (role_of(p, root_pid), t.user + t.system)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        m = psutil.cpu_times()
        busy = m.user + m.system + m.nice + getattr(m, "irq", 0) + getattr(m, "softirq", 0)
        return cls(
            time.monotonic(),
            procs,
            kids.ru_utime + kids.ru_stime,
            me.ru_utime + me.ru_stime,
            busy + getattr(m, "steal", 0.0),
            root_pid,
        )

    def since(self, before: CpuSnapshot, requests: int) -> dict[str, Any]:
        wall = max(1e-6, self.at - before.at)
        cores = os.cpu_count() or 1
        by_role: collections.Counter[str] = collections.Counter()
        for pid, (role, cpu) in self.procs.items():
            by_role[role] += cpu - before.procs.get(pid, (role, 0.0))[1]
        server = sum(by_role.values())
        client = (self.children_cpu - before.children_cpu) + (self.self_cpu - before.self_cpu)
        machine = self.machine_busy - before.machine_busy
        return {
            "cores": cores,
            "wall_s": wall,
            "server_ms_per_request": 1000 * server / requests,
            "ms_per_request_by_role": {
                k: round(1000 * v / requests, 3) for k, v in by_role.most_common()
            },
            "server_pct": 100 * server / wall,
            "client_pct": 100 * client / wall,
            "machine_busy_pct": 100 * machine / wall,  # like the other *_pct: 100 = one core
            "other_pct": max(0.0, 100 * (machine - server - client) / wall),
        }


# -- phases -----------------------------------------------------------------------------


def phase_bare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    proc, url = start_bare(work)
    try:
        targets = write_targets(
            work / "bare-targets.txt", [(f"s{i}", "") for i in range(args.sessions)]
        )
        return measure(args, "a. bare ceiling", url, targets, "text", proc.popen.pid)
    finally:
        PROCS.stop(proc)


def phase_orchestra(args: argparse.Namespace, work: Path, hosts: int) -> dict[str, Any]:
    serve = start_serve(work, hosts, f"load{hosts}")
    try:
        keys = make_tenants(serve, args.tenants)
        targets = write_targets(
            work / f"orchestra{hosts}-targets.txt",
            create_sessions(serve.url, keys, args.sessions, prefix=f"load{hosts}"),
        )
        label = (
            f"b. orchestra (--hosts {hosts})" if hosts == 2 else f"b1. orchestra (--hosts {hosts})"
        )
        result = measure(args, label, serve.url, targets, "text", serve.gateway_pid())
        result["hosts"] = hosts
        result["tenants"] = args.tenants
        if args.profile and hosts == 2:
            result["profile"] = profile_during_load(args, work, serve, targets)
        return result
    finally:
        PROCS.stop(serve.proc)


def phase_peer(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    python = ensure_peer_venv(Path(args.venv), Path(args.peer_dir))
    if python is None:
        return None
    proc, url = start_peer(work, python, Path(args.peer_dir))
    try:
        targets = write_targets(
            work / "peer-targets.txt", [(uuid.uuid4().hex, "") for _ in range(args.sessions)]
        )
        return measure(args, "c. LangGraph peer", url, targets, "message", proc.popen.pid)
    finally:
        PROCS.stop(proc)


def rss(procs: list[Any]) -> int:
    return sum(p.memory_info().rss for p in procs)


def live_sessions(url: str) -> int:
    import httpx

    text = httpx.get(url + "/metrics", timeout=30).text
    return int(
        sum(float(v) for v in re.findall(r"^orchestra_live_sessions\{[^}]*\} (\S+)$", text, re.M))
    )


def summary(xs: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(xs, n=100)
    return {"p50": statistics.median(xs), "p95": qs[94], "mean": statistics.fmean(xs)}


def bare_request_ms(work: Path, n: int) -> dict[str, float]:
    """The bare ceiling's latency for one request at a time: what HTTP plus one Ray
    call costs on this machine with no load (the cold start's yardstick)."""
    import httpx

    proc, url = start_bare(work)
    try:
        xs = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for i in range(n + 20):
                t0 = time.perf_counter()
                r = client.post(f"/v1/sessions/s{i % 10}/messages", json={"text": TEXT})
                if r.status_code != 200:
                    raise RuntimeError(f"bare request: {r.status_code} {r.text}")
                xs.append((time.perf_counter() - t0) * 1000)
        return summary(xs[20:])  # the first ones warm the connection and the actor
    finally:
        PROCS.stop(proc)


def phase_sessions(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Cold start and memory per idle hosted session, on a fresh `--hosts 2` serve."""
    import httpx

    out: dict[str, Any] = {"hosts": 2, "method": "HTTP (POST /v1/sessions + one message each)"}
    out["bare_request_ms"] = bare_request_ms(work, args.cold)
    say(f"reference: one bare request at a time, p50 {out['bare_request_ms']['p50']:.2f} ms")
    serve = start_serve(work, 2, "sessions")
    try:
        keys = make_tenants(serve, args.tenants)
        hosts = serve.host_processes()
        if not hosts:
            raise RuntimeError("no SessionHost process found under orchestra serve")
        out["host_pids"] = [h.pid for h in hosts]
        # Warm the hosts (imports, agent catalog, store connections) before measuring.
        create_sessions(serve.url, keys, 40, send=TEXT, prefix="warm")

        # Cold start: the first message of a new session vs its second message.
        cold, warm, create = [], [], []
        with httpx.Client(base_url=serve.url, timeout=60) as client:
            for i in range(args.cold):
                headers = {"Authorization": f"Bearer {keys[i % len(keys)]}"}
                t0 = time.perf_counter()
                r = client.post(
                    "/v1/sessions",
                    json={"agent": "chatbot", "subject": f"cold-{i}"},
                    headers=headers,
                )
                t1 = time.perf_counter()
                sid = r.json()["session_id"]
                m1 = client.post(
                    f"/v1/sessions/{sid}/messages", json={"text": TEXT}, headers=headers
                )
                t2 = time.perf_counter()
                m2 = client.post(
                    f"/v1/sessions/{sid}/messages", json={"text": TEXT}, headers=headers
                )
                t3 = time.perf_counter()
                if r.status_code != 201 or m1.status_code != 200 or m2.status_code != 200:
                    raise RuntimeError(
                        f"cold start: {r.status_code} {m1.status_code} {m2.status_code}"
                    )
                create.append((t1 - t0) * 1000)
                cold.append((t2 - t1) * 1000)
                warm.append((t3 - t2) * 1000)

        out["cold_start_ms"] = {
            "n": args.cold,
            "first_message": summary(cold),
            "second_message": summary(warm),
            "create_session": summary(create),
            "first_minus_second_p50": statistics.median(cold) - statistics.median(warm),
        }
        say(
            f"cold start: first message p50 {statistics.median(cold):.2f} ms "
            f"(second message {statistics.median(warm):.2f} ms, "
            f"create {statistics.median(create):.2f} ms)"
        )

        # Memory per idle hosted session.
        time.sleep(1.0)
        base_rss, base_live = rss(hosts), live_sessions(serve.url)
        steps = []
        made = 0
        for target in args.idle:
            n = target - made
            t0 = time.perf_counter()
            create_sessions(serve.url, keys, n, send=TEXT, prefix=f"idle{target}", concurrency=48)
            took = time.perf_counter() - t0
            made = target
            time.sleep(1.0)
            now_rss, now_live = rss(hosts), live_sessions(serve.url)
            added = now_live - base_live
            step = {
                "sessions": target,
                "live_sessions_added": added,
                "host_rss_mb": now_rss / 2**20,
                "rss_growth_mb": (now_rss - base_rss) / 2**20,
                "bytes_per_session": (now_rss - base_rss) / max(1, added),
                "created_per_s": n / took,
            }
            steps.append(step)
            say(
                f"memory: {target} idle sessions ({added} live added): host RSS "
                f"+{step['rss_growth_mb']:.1f} MB = "
                f"{step['bytes_per_session'] / 1024:.1f} KB/session"
            )
        out["memory"] = {
            "baseline_host_rss_mb": base_rss / 2**20,
            "baseline_live_sessions": base_live,
            "steps": steps,
        }
        return out
    finally:
        PROCS.stop(serve.proc)


# -- profiling --------------------------------------------------------------------------


def profile_during_load(
    args: argparse.Namespace, work: Path, serve: Serve, targets: Path
) -> dict[str, Any]:
    if shutil.which("py-spy") is None or args.client != "wrk":
        say("profile skipped: needs py-spy and wrk")
        return {"skipped": True}
    hosts = serve.host_processes()
    pids = {"gateway": serve.gateway_pid()}
    if hosts:
        pids["session_host"] = hosts[0].pid
    secs = args.profile_seconds
    load = subprocess.Popen(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{secs + 6}s",
            "-s",
            str(WRK_SCRIPT),
            serve.url,
            "--",
            str(targets),
            "text",
            TEXT,
            str(args.threads),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out: dict[str, Any] = {"seconds": secs}
    try:
        time.sleep(3)
        say(f"profiling {pids} with py-spy for {secs}s during a wrk run ...")
        spies = {
            name: subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(secs),
                    "--rate",
                    str(PYSPY_RATE),
                    "--threads",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-o",
                    str(work / f"profile-{name}.raw"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        }
        for name, spy in spies.items():
            spy.wait(secs + 60)
            raw = work / f"profile-{name}.raw"
            if raw.exists():
                out[name] = summarise_profile(raw, PYSPY_RATE, secs)
    finally:
        with contextlib.suppress(ProcessLookupError):
            load.terminate()
        load.wait(30)
    return out


def summarise_profile(raw: Path, rate: int, seconds: float, top: int = 15) -> dict[str, Any]:
    """Top costs of a py-spy raw profile recorded with --threads.

    Per thread: `busy_pct` = its non-idle samples / (rate x seconds), i.e. how
    much of the wall time that thread was running Python (or native code
    called from it). For the busiest thread (the event loop: "MainThread" in
    the gateway, "AsyncIO Thread: default" in a Ray async actor), the top
    frames by self time and by inclusive time, as % of that thread's wall time.
    """
    threads: dict[str, dict[str, collections.Counter[str]]] = {}
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = re.sub(r"^thread \(\d+\): ?", "", frames[0]) or "?"
        frames = frames[1:] or ["(native)"]
        t = threads.setdefault(
            thread, {"self": collections.Counter(), "inclusive": collections.Counter()}
        )
        totals[thread] += n
        t["self"][frames[-1] or "(native)"] += n
        for frame in set(frames):
            t["inclusive"][frame] += n
    wall = max(1.0, rate * seconds)
    out: dict[str, Any] = {
        "busy_pct_by_thread": {k: round(100.0 * v / wall, 1) for k, v in totals.most_common(8)},
    }
    if not totals:
        return out
    # The event loop's thread: a Ray async actor's "AsyncIO Thread: default", or the
    # gateway's MainThread (uvicorn's loop); otherwise whichever thread was busiest.
    loops = [t for t in totals if t.startswith("AsyncIO Thread")] or [
        t for t in totals if t == "MainThread" and "Worker.main_loop" not in str(threads[t])
    ]
    main = max(loops, key=lambda t: totals[t]) if loops else totals.most_common(1)[0][0]
    ours = re.compile(r"\((?:actors|runtime|gateway)/")

    def share(c: collections.Counter[str], k: int, keep: Any = None) -> list[list[Any]]:
        items = [(f, v) for f, v in c.most_common() if keep is None or keep(f)]
        return [[f, round(100.0 * v / wall, 1)] for f, v in items[:k]]

    out["thread"] = main
    out["top_self"] = share(threads[main]["self"], top)
    out["top_inclusive"] = share(threads[main]["inclusive"], top * 2)
    out["top_inclusive_project"] = share(
        threads[main]["inclusive"], top, lambda f: bool(ours.search(f))
    )
    return out


# -- report -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 2**20
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "git": f"{head}{' (with uncommitted changes)' if dirty else ''}",
        "nproc": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def ratios(results: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    a, b, b1, c = (results.get(k) for k in ("bare", "orchestra", "orchestra_1host", "langgraph"))
    if a and b:
        out["b_over_a_rps"] = b["ok_rps"] / max(1e-9, a["ok_rps"])
    if b and c:
        out["b_over_c_rps"] = b["ok_rps"] / max(1e-9, c["ok_rps"])
        out["c_over_b_p95"] = c["p95_ms"] / max(1e-9, b["p95_ms"])
    if b and b1:
        out["hosts2_over_hosts1_rps"] = b["ok_rps"] / max(1e-9, b1["ok_rps"])
    return out


def combine_rounds(data: dict[str, Any]) -> None:
    """Per path, the round with the median throughput; ratios: the median of the
    per-round ratios (each round's paths ran back to back, so its ratios are paired)."""
    rounds = data["rounds"]
    data["ratios_by_round"] = [ratios(r) for r in rounds]
    data["results"] = {}
    for key in LABELS:
        runs = [r[key] for r in rounds if r.get(key)]
        if runs:
            runs.sort(key=lambda r: r["ok_rps"])
            chosen = dict(runs[(len(runs) - 1) // 2])
            chosen["ok_rps_by_round"] = [round(r[key]["ok_rps"], 1) for r in rounds if r.get(key)]
            data["results"][key] = chosen
    names = {k for r in data["ratios_by_round"] for k in r}
    data["ratios"] = {
        k: statistics.median([r[k] for r in data["ratios_by_round"] if k in r]) for k in names
    }
    profile = next((r["orchestra"].get("profile") for r in rounds if r.get("orchestra")), None)
    if profile:
        data["profile"] = profile
        for r in rounds:
            if r.get("orchestra"):
                r["orchestra"].pop("profile", None)
        data["results"].get("orchestra", {}).pop("profile", None)


def targets_status(data: dict[str, Any]) -> dict[str, Any]:
    r = data["ratios"]
    out: dict[str, Any] = {}
    if "b_over_a_rps" in r:
        out["full_path_ge_80pct_of_bare"] = {
            "value": r["b_over_a_rps"],
            "met": r["b_over_a_rps"] >= 0.8,
        }
    if "b_over_c_rps" in r:
        out["ge_5x_langgraph_rps"] = {"value": r["b_over_c_rps"], "met": r["b_over_c_rps"] >= 5}
        out["p95_le_fifth_of_langgraph"] = {
            "value": r["c_over_b_p95"],
            "met": r["c_over_b_p95"] >= 5,
        }
    sessions = data.get("sessions") or {}
    steps = (sessions.get("memory") or {}).get("steps") or []
    if steps:
        worst = max(s["bytes_per_session"] for s in steps)
        out["lt_50kb_per_idle_session"] = {"value_kb": worst / 1024, "met": worst < 50 * 1024}
    cold = sessions.get("cold_start_ms") or {}
    if cold:
        # Two readings: the whole first request over HTTP (which includes what any
        # request costs on this machine; see bare_request_ms), and what a session's
        # coming to life adds to it (first minus second message).
        first, penalty = cold["first_message"]["p50"], cold["first_minus_second_p50"]
        out["cold_start_lt_5ms"] = {"value_ms_p50": first, "met": first < 5}
        out["cold_penalty_lt_5ms"] = {"value_ms_p50": penalty, "met": penalty < 5}
    return out


LABELS = {
    "bare": "a. bare ceiling (FastAPI + 1 Ray call)",
    "orchestra": "b. Orchestra full path, 2 hosts",
    "orchestra_1host": "b1. Orchestra full path, 1 host",
    "langgraph": "c. LangGraph peer",
}


def table(data: dict[str, Any]) -> str:
    rows = [
        f"{'path':40} {'req/s':>8} {'ok/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'err %':>7}"
    ]
    for key, label in LABELS.items():
        r = data["results"].get(key)
        if not r:
            rows.append(f"{label:40} {'skipped':>8}")
            continue
        rows.append(
            f"{label:40} {r['rps']:8.0f} {r['ok_rps']:8.0f} {r['p50_ms']:8.1f} "
            f"{r['p95_ms']:8.1f} {r['p99_ms']:8.1f} {r['error_pct']:7.2f}"
        )
    rt = data["ratios"]
    by_round = data.get("ratios_by_round") or []
    if len(by_round) > 1:
        rows.append(f"(median of {len(by_round)} rounds; per round:)")
        for key, label in LABELS.items():
            r = data["results"].get(key)
            if r:
                rows.append(f"  ok/s {label.split(' (')[0]:36} {r['ok_rps_by_round']}")
        for name in ("b_over_a_rps", "b_over_c_rps", "c_over_b_p95"):
            values = [round(r[name], 2) for r in by_round if name in r]
            if values:
                rows.append(f"  {name:41} {values}")
    for name, text in (
        ("b_over_a_rps", "b/a throughput (full path / bare ceiling)"),
        ("b_over_c_rps", "b/c throughput (Orchestra / LangGraph)"),
        ("c_over_b_p95", "c/b p95 latency (LangGraph / Orchestra)"),
        ("hosts2_over_hosts1_rps", "2 hosts / 1 host throughput"),
    ):
        if name in rt:
            rows.append(f"{text:55} {rt[name]:6.2f}")
    s = data.get("sessions") or {}
    if cold := s.get("cold_start_ms"):
        rows.append(
            f"{'cold start: first message p50 / p95 ms':55} "
            f"{cold['first_message']['p50']:6.2f} / {cold['first_message']['p95']:.2f} "
            f"(second message {cold['second_message']['p50']:.2f} ms)"
        )
    if bare := s.get("bare_request_ms"):
        rows.append(f"{'reference: one bare request at a time, p50 ms':55} {bare['p50']:6.2f}")
    for step in (s.get("memory") or {}).get("steps", []):
        rows.append(
            f"{'memory per idle hosted session @ ' + str(step['sessions']):55} "
            f"{step['bytes_per_session'] / 1024:6.1f} KB"
        )
    for name, t in data.get("targets", {}).items():
        rows.append(f"target {name:48} {'MET' if t['met'] else 'MISSED'}")
    return "\n".join(rows)


def plot(data: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in LABELS if data["results"].get(k)]
    labels = [LABELS[k].split(" ", 1)[1].replace(" (", "\n(").replace(", ", "\n") for k in keys]
    res = [data["results"][k] for k in keys]
    colors = {
        "bare": "#9e9e9e",
        "orchestra": "#1565c0",
        "orchestra_1host": "#64b5f6",
        "langgraph": "#ef6c00",
    }
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    bars = ax1.bar(labels, [r["ok_rps"] for r in res], color=[colors[k] for k in keys])
    for bar, r in zip(bars, res, strict=True):
        note = f"{r['ok_rps']:.0f}"
        if r["error_pct"] >= 0.01:
            note += f"\n({r['error_pct']:.1f} % errors)"
        ax1.annotate(
            note,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax1.set_ylabel("successful requests / s (higher is better)")
    ax1.set_title("Throughput, 100 connections, 1 tool call per message")
    ax1.margins(y=0.18)
    width = 0.25
    xs = range(len(keys))
    for j, (q, shade) in enumerate((("p50_ms", 0.45), ("p95_ms", 0.7), ("p99_ms", 1.0))):
        ax2.bar(
            [x + (j - 1) * width for x in xs],
            [r[q] for r in res],
            width,
            label=q.split("_")[0],
            color=[colors[k] for k in keys],
            alpha=shade,
        )
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(labels)
    ax2.set_yscale("log")
    ax2.set_ylabel("latency ms (log scale, lower is better)")
    ax2.set_title("Latency p50 / p95 / p99")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    m = data.get("machine", {})
    fig.suptitle(
        f"Orchestra HTTP benchmark ({m.get('nproc')} cores, {m.get('cpu_model', '')}; "
        f"{data['config']['client']}, {data['config']['duration_s']:g}s per run, "
        f"median of {data['config'].get('rounds', 1)} round(s); "
        f"{time.strftime('%Y-%m-%d', time.localtime(data['finished_at']))})",
        fontsize=10,
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def render_plot(data_path: Path, png: Path, venv: Path) -> bool:
    try:
        plot(json.loads(data_path.read_text()), png)
        return True
    except ImportError:
        pass
    python = venv / "bin" / "python"
    if python.exists():
        r = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--plot-only", str(data_path), str(png)],
            capture_output=True,
            text=True,
        )
        if r.returncode == 0:
            return True
        if "No module named 'matplotlib'" in r.stderr:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "matplotlib"], capture_output=True
            )
            r = subprocess.run(
                [
                    str(python),
                    str(Path(__file__).resolve()),
                    "--plot-only",
                    str(data_path),
                    str(png),
                ],
                capture_output=True,
                text=True,
            )
            if r.returncode == 0:
                return True
        say(f"plot failed: {r.stderr[-600:]}")
    else:
        say("no matplotlib here and no peer venv: PNG not written (pip install matplotlib)")
    return False


# -- main -------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtests.bench", description=__doc__.splitlines()[0]
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured load run")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the four load runs are repeated (medians are reported)",
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each run")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--sessions", type=int, default=100, help="session ids the load cycles over")
    p.add_argument("--tenants", type=int, default=25, help="tenants the sessions belong to")
    p.add_argument("--cold", type=int, default=200, help="new sessions for the cold start")
    p.add_argument(
        "--idle",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 10000],
        help="idle-session counts for the memory figure (comma separated, ascending)",
    )
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--skip", default="", help="phases to skip: bare,orchestra,hosts1,peer,sessions")
    p.add_argument("--profile", action="store_true", help="py-spy the gateway and a host")
    p.add_argument("--profile-seconds", type=int, default=12)
    p.add_argument("--peer-dir", default=str(DEFAULT_PEER_DIR))
    p.add_argument("--venv", default=str(DEFAULT_VENV), help="the LangGraph peer's venv")
    p.add_argument("--out", default=str(ROOT / "docs" / "bench" / "latest.json"))
    p.add_argument("--png", default=str(ROOT / "docs" / "bench" / "latest.png"))
    p.add_argument("--workdir", help="keep logs, targets and profiles here (default: a temp dir)")
    p.add_argument("--plot-only", nargs=2, metavar=("JSON", "PNG"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plot_only:
        data_path, png = (Path(x) for x in args.plot_only)
        plot(json.loads(data_path.read_text()), png)
        return 0
    if args.client == "auto":
        if shutil.which("wrk"):
            args.client = "wrk"
        else:
            say(
                "wrk is not installed (apt-get install -y wrk): falling back to the Python "
                "asyncio + httpx closed-loop client, which competes with the servers for the "
                "CPU, so absolute figures will be lower than with wrk"
            )
            args.client = "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        say("--client wrk but wrk is not installed: apt-get install -y wrk")
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="orchestra-bench-"))
    say(f"logs and scratch files in {work}")
    signal.signal(signal.SIGTERM, _interrupt)
    # Also when started in the background (where the shell makes SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(PROCS.stop_all)
    started = time.time()
    data: dict[str, Any] = {
        "started_at": started,
        "machine": machine(),
        "config": {
            "client": args.client,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "sessions": args.sessions,
            "tenants": args.tenants,
            "message": TEXT,
            "model": "scripted, 0 ms latency, one T1 tool call (list_services) per message",
        },
        "results": {},
    }
    code = 0
    try:
        peer_python = None
        if "peer" not in skip:  # install first, so that pip does not overlap a measurement
            peer_python = ensure_peer_venv(Path(args.venv), Path(args.peer_dir))
            if peer_python is None:
                skip.add("peer")
        data["rounds"] = []
        for n in range(1, args.rounds + 1):
            if args.rounds > 1:
                say(f"-- round {n} of {args.rounds}")
            one: dict[str, Any] = {}
            data["rounds"].append(one)
            profile, args.profile = args.profile, args.profile and n == 1
            if "bare" not in skip:
                one["bare"] = phase_bare(args, work)
            if "orchestra" not in skip:
                one["orchestra"] = phase_orchestra(args, work, hosts=2)
            if "peer" not in skip:
                one["langgraph"] = phase_peer(args, work)
            if "hosts1" not in skip:
                one["orchestra_1host"] = phase_orchestra(args, work, hosts=1)
            args.profile = profile
        if "sessions" not in skip:
            data["sessions"] = phase_sessions(args, work)
    except KeyboardInterrupt:
        say("interrupted: stopping every server this run started ...")
        code = 130
    finally:
        with no_interrupts():
            PROCS.stop_all()
    if code:
        return code
    data["finished_at"] = time.time()
    combine_rounds(data)
    data["targets"] = targets_status(data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print()
    print(table(data))
    print()
    say(f"wrote {out}")
    if render_plot(out, Path(args.png), Path(args.venv)):
        say(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
