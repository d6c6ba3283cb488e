"""A second gateway-like driver process: joins the cluster and sends messages.

Usage: python -m tests.support.sender <gcs> <settings-json> <tenant> <sid> <tag> <n>
Sends n messages concurrently (submission order = index order) and exits 0.
"""

from __future__ import annotations

import asyncio
import sys

import ray

from actors import RayBackend
from actors.store.redis import connect_store
from runtime.config.settings import Settings
from runtime.inbound import Inbound


async def main(settings: Settings, tenant: str, sid: str, tag: str, n: int) -> None:
    store = await connect_store(settings.redis_url, prefix=settings.store_prefix)
    backend = RayBackend(settings, store)
    await asyncio.gather(
        *(backend.send_message(Inbound(tenant, sid, f"!tools echo {tag}-{i}")) for i in range(n))
    )
    await backend.close()


if __name__ == "__main__":
    gcs, raw, tenant, sid, tag, n = sys.argv[1:7]
    settings = Settings.model_validate_json(raw)
    ray.init(address=gcs, namespace=settings.namespace, log_to_driver=False)
    asyncio.run(main(settings, tenant, sid, tag, int(n)))
    ray.shutdown()
