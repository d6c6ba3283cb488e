"""Tenants and sessions made over Orchestra's own APIs before a load runs.

Orchestra's per-tenant rate limit (200 req/s per gateway process by default)
would turn most of a single tenant's load into 429s, so the sessions belong to
`--tenants` tenants (25 by default), created through the store API like
`orchestra tenant add` does. Sessions are created over HTTP, round-robin over
the tenants' keys.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .servers import Serve


def make_tenants(serve: Serve, n: int) -> list[str]:
    """`n` tenants' API keys, made like `orchestra tenant add` makes them (store API)."""
    import asyncio

    from actors import connect_store
    from runtime.config.settings import Settings
    from runtime.store.tenants import add_tenant

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
