"""A driver process that confirms one proposal `n` times concurrently.

Usage: python -m tests.support.confirmer <gcs> <settings-json> <tenant> <proposal> <n>
Prints {"ok": k, "conflict": m}.
"""

from __future__ import annotations

import asyncio
import json
import sys

import ray

from actors import RayBackend
from actors.store.redis import connect_store
from runtime.config.settings import Settings
from runtime.errors import InvalidTransition


async def main(settings: Settings, tenant: str, pid: str, n: int) -> dict[str, int]:
    backend = RayBackend(
        settings, await connect_store(settings.redis_url, prefix=settings.store_prefix)
    )
    outcomes = await asyncio.gather(
        *(backend.confirm(tenant, pid) for _ in range(n)), return_exceptions=True
    )
    await backend.close()
    return {
        "ok": sum(isinstance(o, dict) and o.get("status") == "EXECUTED" for o in outcomes),
        "conflict": sum(isinstance(o, InvalidTransition) for o in outcomes),
    }


if __name__ == "__main__":
    gcs, raw, tenant, pid, n = sys.argv[1:6]
    settings = Settings.model_validate_json(raw)
    ray.init(address=gcs, namespace=settings.namespace, log_to_driver=False)
    print(json.dumps(asyncio.run(main(settings, tenant, pid, int(n)))))
    ray.shutdown()
