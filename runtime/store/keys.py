"""Keys and session tokens: issue, list, revoke, rotate, and resolve a bearer.

Keys (`orc_...`) belong to a named principal with a role (`owner`, `staff`);
session tokens (`ost_...`) to an end user of one (tenant, agent, subject).
Both are random and stored only as SHA-256 hashes, so the store never holds a
credential. A key made before principals existed (the tenant's own key) is an
owner key named "owner": the first time it is seen it gets its record.

Session tokens are opaque, kept in the store until they expire (not signed
tokens): one can be revoked on its own, the gateway resolves it through the
same short cache as keys (so revocation takes effect within that cache's
lifetime, everywhere), and no signing secret has to be kept or rotated.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from runtime.errors import BadRequest, Conflict, NotFound
from runtime.principals import KeyRole, Principal
from runtime.store.protocol import KeyRecord, Store, TenantRecord, TokenRecord

KEY_PREFIX = "orc_"
TOKEN_PREFIX = "ost_"
MAX_TOKEN_TTL_S = 7 * 24 * 3600


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def legacy_key_id(key_hash: str) -> str:
    """The id of a tenant's original key (the same on every process that migrates it)."""
    return "k_" + key_hash[:16]


def owner_record(tenant: TenantRecord) -> KeyRecord:
    """The owner key record of a tenant's original key."""
    return KeyRecord(
        key_id=legacy_key_id(tenant.key_hash),
        tenant_id=tenant.tenant_id,
        name="owner",
        role="owner",
        key_hash=tenant.key_hash,
        created_at=tenant.created_at,
    )


async def resolve(store: Store, bearer: str, now: float | None = None) -> Principal | None:
    """The principal of a key or session token; None when unknown, revoked or expired."""
    now = time.time() if now is None else now
    digest = hash_key(bearer)
    if bearer.startswith(TOKEN_PREFIX):
        tok = await store.token_by_hash(digest)
        if tok is None or tok.expires_at <= now:
            return None
        return Principal(
            tenant_id=tok.tenant_id,
            name=tok.subject,
            role="subject",
            agent=tok.agent,
            subject=tok.subject,
            expires_at=tok.expires_at,
        )
    rec = await store.key_by_hash(digest)
    if rec is None:
        tenant = await store.tenant_by_key_hash(digest)
        if tenant is None:
            return None
        rec = owner_record(tenant)  # a key from before principals: its owner record
        await store.put_key(rec)
    if rec.revoked_at is not None:
        return None
    await store.touch_key(rec.tenant_id, rec.key_id, now)
    return Principal(tenant_id=rec.tenant_id, name=rec.name, role=rec.role, key_id=rec.key_id)


async def _check_name(store: Store, tenant_id: str, name: str, role: KeyRole) -> str:
    name = name.strip()
    if not name:
        raise BadRequest("a key needs a name")
    for k in await store.list_keys(tenant_id):
        if k.revoked_at is None and k.name == name and k.role != role:
            raise Conflict(f"principal {name!r} is {k.role}; a key of it cannot be {role}")
    return name


async def create_key(
    store: Store, tenant_id: str, name: str, role: KeyRole, now: float | None = None
) -> tuple[KeyRecord, str]:
    """A new key for principal `name` with `role`: its record and the key (shown once)."""
    name = await _check_name(store, tenant_id, name, role)
    key = new_key()
    rec = KeyRecord(
        key_id="k_" + secrets.token_hex(8),
        tenant_id=tenant_id,
        name=name,
        role=role,
        key_hash=hash_key(key),
        created_at=time.time() if now is None else now,
    )
    await store.put_key(rec)
    return rec, key


async def active_keys(store: Store, tenant_id: str) -> list[KeyRecord]:
    """The tenant's keys that are not revoked (its original key included)."""
    keys = await store.list_keys(tenant_id)
    tenant = await store.get_tenant(tenant_id)
    if tenant is not None and not any(k.key_hash == tenant.key_hash for k in keys):
        original = owner_record(tenant)
        await store.put_key(original)
        keys.insert(0, original)
    return [k for k in keys if k.revoked_at is None]


async def revoke_key(
    store: Store, tenant_id: str, key_id: str, now: float | None = None
) -> KeyRecord:
    for k in await active_keys(store, tenant_id):
        if k.key_id == key_id:
            revoked = k.model_copy(update={"revoked_at": time.time() if now is None else now})
            await store.put_key(revoked)
            return revoked
    raise NotFound(f"key {key_id} not found")


async def rotate_key(store: Store, tenant_id: str, key_id: str) -> tuple[KeyRecord, KeyRecord, str]:
    """A new key for the same principal, the old one revoked: (old, new, the new key)."""
    old = await revoke_key(store, tenant_id, key_id)
    new, key = await create_key(store, tenant_id, old.name, old.role)
    return old, new, key


async def mint_token(
    store: Store, tenant_id: str, agent: str, subject: str, ttl_s: float, minted_by: str
) -> tuple[TokenRecord, str]:
    """A session token for (tenant, agent, subject), valid for `ttl_s`."""
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise BadRequest(f"ttl_s must be between 1 and {MAX_TOKEN_TTL_S}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    rec = TokenRecord(
        token_hash=hash_key(token),
        tenant_id=tenant_id,
        agent=agent,
        subject=subject,
        expires_at=now + ttl_s,
        created_at=now,
        minted_by=minted_by,
    )
    await store.put_token(rec)
    return rec, token


async def revoke_token(store: Store, tenant_id: str, token: str) -> bool:
    """Revoke a session token of this tenant (False: no such live token)."""
    digest = hash_key(token)
    rec = await store.token_by_hash(digest)
    if rec is None or rec.tenant_id != tenant_id:
        return False
    return await store.delete_token(digest)


__all__ = [
    "active_keys",
    "create_key",
    "hash_key",
    "mint_token",
    "new_key",
    "resolve",
    "revoke_key",
    "revoke_token",
    "rotate_key",
]
