"""Actor-level benchmark (no HTTP): prints figures, asserts nothing.

    python -m loadtests.bench_actors [--messages 4000] [--sessions 100] [--idle 1000]
                                     [--warm-concurrency 1000] [--idle-only]

Measures, in one run on this machine:
  * the bare ceiling: one trivial Ray actor call per message, 100 concurrent callers;
  * messages/s through SessionRouter (hosted, ScriptedModel, one T1 tool per message);
  * session cold start: hosted vs dedicated (create + first message);
  * memory per idle hosted session (host RSS growth / sessions), and the time to
    warm them (a first message each, `--warm-concurrency` at once, as a client
    pool would send them), with the errors by type (none expected).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from typing import Any

import psutil
import ray

from actors import EmbeddedValkey, RayBackend, connect_ray, ensure_actors, kill_actors
from actors.store.redis import connect_store
from runtime.config.settings import Settings
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant


@ray.remote(num_cpus=0)
class Echo:
    async def ping(self, x: Any) -> Any:
        return x


async def closed_loop(n: int, conc: int, call: Any) -> tuple[float, list[float]]:
    """`n` calls by `conc` concurrent workers; returns (per second, latencies ms)."""
    lat: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await call(i)
            lat.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return n / (time.perf_counter() - t0), lat


def pct(lat: list[float], q: float) -> float:
    return statistics.quantiles(lat, n=100)[int(q) - 1] if len(lat) > 1 else 0.0


async def _create_many(backend: RayBackend, tenant: str, n: int) -> list[str]:
    """`n` chatbot sessions, created 200 at a time."""
    sids: list[str] = []
    for start in range(0, n, 200):
        batch = await asyncio.gather(
            *(
                backend.create_session(tenant, "chatbot", f"idle-{i}")
                for i in range(start, min(n, start + 200))
            )
        )
        sids += [rec["session_id"] for rec, _ in batch]
    return sids


async def _warm_all(
    backend: RayBackend, tenant: str, sids: list[str], concurrency: int
) -> tuple[float, dict[str, int]]:
    """A first message to each session, `concurrency` at once: (seconds, errors by type)."""
    errors: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)

    async def warm(sid: str) -> None:
        async with gate:
            try:
                await backend.send_message(Inbound(tenant, sid, "hi"))
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(warm(s) for s in sids))
    return time.perf_counter() - t0, errors


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not args.idle_only:
        echo = Echo.remote()
        await echo.ping.remote(0)
        rate, lat = await closed_loop(args.messages, args.sessions, lambda i: echo.ping.remote(i))
        out["bare_actor_call"] = {"per_s": rate, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}

    for placement in ("hosted",) if args.idle_only else ("hosted", "dedicated"):
        ns = f"bench-{placement}"
        settings = Settings(
            redis_url=url, namespace=ns, store_prefix=ns, placement=placement, hosts=args.hosts
        )
        ensure_actors(settings)
        store = await connect_store(url, prefix=ns)
        backend = RayBackend(settings, store)
        tenant, _ = await add_tenant(store, "Bench")
        t = tenant.tenant_id
        cold = []
        for i in range(1 if args.idle_only else 5 if placement == "dedicated" else 50):
            t0 = time.perf_counter()
            rec, _ = await backend.create_session(t, "chatbot", f"cold-{i}")
            await backend.send_message(Inbound(t, rec["session_id"], "what services do you have?"))
            cold.append((time.perf_counter() - t0) * 1000)
        warm = []
        for _ in range(0 if args.idle_only else 20):
            t0 = time.perf_counter()
            await backend.send_message(Inbound(t, rec["session_id"], "what services do you have?"))
            warm.append((time.perf_counter() - t0) * 1000)
        if not args.idle_only:
            out[f"{placement}_cold_start_ms"] = statistics.median(cold)
            out[f"{placement}_warm_message_ms"] = statistics.median(warm)
        if placement == "hosted" and not args.idle_only:
            sids = []
            for i in range(args.sessions):
                rec, _ = await backend.create_session(t, "chatbot", f"load-{i}")
                sids.append(rec["session_id"])
            send = backend.send_message

            async def one(i: int, t: str = t, sids: list[str] = sids, send: Any = send) -> None:
                await send(t, sids[i % len(sids)], "what services do you have?")

            rate, lat = await closed_loop(args.messages, args.sessions, one)
            out["router_messages"] = {"per_s": rate, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
            out["router_vs_bare"] = rate / out["bare_actor_call"]["per_s"]
        if placement == "hosted":
            stats = [
                await h.stats.remote()
                for h in [ray.get_actor(n, namespace=ns) for n in backend.router.hosts]
            ]
            rss0 = sum(psutil.Process(s["pid"]).memory_info().rss for s in stats)
            before = sum(s["sessions"] for s in stats)
            idle = await _create_many(backend, t, args.idle)
            out["idle_warm_s"], out["idle_warm_errors"] = await _warm_all(
                backend, t, idle, args.warm_concurrency
            )
            stats = [
                await h.stats.remote()
                for h in [ray.get_actor(n, namespace=ns) for n in backend.router.hosts]
            ]
            rss1 = sum(psutil.Process(s["pid"]).memory_info().rss for s in stats)
            added = sum(s["sessions"] for s in stats) - before
            out["idle_sessions_added"] = added
            out["bytes_per_idle_session"] = (rss1 - rss0) / max(1, added)
        await backend.close()
        kill_actors(ns)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--hosts", type=int, default=2)
    p.add_argument("--warm-concurrency", type=int, default=1000)
    p.add_argument("--idle-only", action="store_true", help="only the idle-session figures")
    args = p.parse_args()
    with EmbeddedValkey(tempfile.mkdtemp(prefix="bench-valkey-")) as valkey:
        connect_ray("bench", num_cpus=2)
        try:
            result = asyncio.run(run(args, valkey.url))
        finally:
            ray.shutdown()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
