"""Tenants: a name, an id, and the owner key they are created with (`runtime.store.keys`)."""

from __future__ import annotations

import re
import secrets
import time

from runtime.errors import BadRequest
from runtime.store.keys import hash_key as hash_key  # re-exported: where callers found it
from runtime.store.keys import new_key as new_key
from runtime.store.keys import owner_record
from runtime.store.protocol import Store, TenantRecord

NAME_TTL_S = 60.0
_names: dict[str, tuple[str, float]] = {}  # tenant id -> (name, expiry), this process


async def tenant_name(store: Store, tenant_id: str) -> str:
    """The tenant's name (kept for a minute in this process; the id if unknown)."""
    now = time.monotonic()
    found = _names.get(tenant_id)
    if found is not None and found[1] > now:
        return found[0]
    rec = await store.get_tenant(tenant_id)
    name = rec.name if rec is not None else tenant_id
    if len(_names) > 10_000:
        _names.clear()
    _names[tenant_id] = (name, now + NAME_TTL_S)
    return name


def tenant_id_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    if not slug:
        raise BadRequest("tenant name needs at least one letter or digit")
    return f"{slug}-{secrets.token_hex(3)}"


async def add_tenant(
    store: Store, name: str, api_key: str | None = None
) -> tuple[TenantRecord, str]:
    """Create a tenant; returns its record and its API key (shown once): an owner key."""
    key = api_key or new_key()
    rec = TenantRecord(
        tenant_id=tenant_id_for(name),
        name=name.strip()[:100],
        key_hash=hash_key(key),
        created_at=time.time(),
    )
    await store.put_tenant(rec)
    await store.put_key(owner_record(rec))
    return rec, key
