"""Tenants and their principals: keys and session tokens are random, shown once and
stored only as SHA-256 hashes; a revoked key or an expired token resolves to nobody."""

from __future__ import annotations

import hashlib

import pytest

from runtime.errors import BadRequest, Conflict, NotFound
from runtime.store import keys
from runtime.store.protocol import TenantRecord
from runtime.store.tenants import add_tenant, hash_key, new_key, tenant_id_for

from .conftest import Harness


async def test_add_tenant_and_authenticate(h: Harness) -> None:
    rec, key = await add_tenant(h.store, "  Bella's Studio  ")
    assert rec.name == "Bella's Studio"
    assert rec.tenant_id.startswith("bella-s-studio-")
    assert key.startswith("orc_") and len(key) > 30
    who = await h.rt.authenticate(key)
    assert who is not None and (who.tenant_id, who.role, who.name) == (
        rec.tenant_id,
        "owner",
        "owner",
    )
    assert await h.rt.authenticate(key + "x") is None
    assert await h.rt.authenticate("") is None


async def test_key_is_stored_hashed_only(h: Harness) -> None:
    rec, key = await add_tenant(h.store, "Acme", api_key="orc_plain_secret")
    assert key == "orc_plain_secret"
    assert rec.key_hash == hashlib.sha256(b"orc_plain_secret").hexdigest() == hash_key(key)
    stored = list(h.store.tenants.values())
    assert stored == [rec]
    assert all(key not in str(v) for t in stored for v in t.model_dump().values())
    assert key not in repr(h.store.tenants)


async def test_two_tenants_with_the_same_name_are_distinct(h: Harness) -> None:
    a, key_a = await add_tenant(h.store, "Same")
    b, key_b = await add_tenant(h.store, "Same")
    assert a.tenant_id != b.tenant_id and key_a != key_b
    who_a, who_b = await h.rt.authenticate(key_a), await h.rt.authenticate(key_b)
    assert who_a is not None and who_a.tenant_id == a.tenant_id
    assert who_b is not None and who_b.tenant_id == b.tenant_id


def test_new_keys_are_random() -> None:
    assert len({new_key() for _ in range(100)}) == 100


@pytest.mark.parametrize("name", ["", "   ", "!!!", "日本"])
def test_tenant_name_needs_a_letter_or_digit(name: str) -> None:
    with pytest.raises(BadRequest):
        tenant_id_for(name)


def test_tenant_id_slug_is_bounded() -> None:
    tid = tenant_id_for("A" * 200)
    assert tid.startswith("a" * 40 + "-") and len(tid) == 40 + 1 + 6


async def test_a_tenant_key_from_before_principals_is_an_owner_key(h: Harness) -> None:
    """A tenant stored by an earlier version has no key record: its key still works,
    as the owner, and it is listed and revocable like any key."""
    old = TenantRecord(tenant_id="old-1", name="Old", key_hash=hash_key("orc_old"), created_at=1)
    await h.store.put_tenant(old)
    who = await keys.resolve(h.store, "orc_old")
    assert who is not None and (who.tenant_id, who.role) == ("old-1", "owner")
    listed = await keys.active_keys(h.store, "old-1")
    assert [(k.name, k.role) for k in listed] == [("owner", "owner")]
    await keys.revoke_key(h.store, "old-1", listed[0].key_id)
    assert await keys.resolve(h.store, "orc_old") is None  # the tenant record cannot revive it


async def test_staff_keys_revoke_and_rotate(h: Harness) -> None:
    rec, _ = await add_tenant(h.store, "Shop")
    t = rec.tenant_id
    staff, staff_key = await keys.create_key(h.store, t, "bob", "staff")
    who = await keys.resolve(h.store, staff_key)
    assert who is not None and (who.name, who.role, who.key_id) == ("bob", "staff", staff.key_id)
    assert staff_key not in str(await h.store.list_keys(t))  # stored hashed only
    with pytest.raises(Conflict):
        await keys.create_key(h.store, t, "bob", "owner")  # one principal, one role
    old, new, new_key_ = await keys.rotate_key(h.store, t, staff.key_id)
    assert old.revoked_at is not None and new.name == "bob" and new.key_id != staff.key_id
    assert await keys.resolve(h.store, staff_key) is None
    again = await keys.resolve(h.store, new_key_)
    assert again is not None and again.name == "bob"
    with pytest.raises(NotFound):
        await keys.revoke_key(h.store, t, staff.key_id)  # already revoked
    assert {k.key_id for k in await keys.active_keys(h.store, t)} >= {new.key_id}
    assert staff.key_id not in {k.key_id for k in await keys.active_keys(h.store, t)}


async def test_session_tokens_expire_and_revoke(h: Harness) -> None:
    rec, _ = await add_tenant(h.store, "Shop")
    tok, token = await keys.mint_token(h.store, rec.tenant_id, "chatbot", "ann", 60, "bob")
    assert token.startswith("ost_") and token not in tok.model_dump_json()
    who = await keys.resolve(h.store, token)
    assert who is not None and (who.role, who.agent, who.subject) == ("subject", "chatbot", "ann")
    assert await keys.resolve(h.store, token, now=tok.expires_at + 1) is None
    assert not await keys.revoke_token(h.store, "another-tenant", token)
    assert await keys.revoke_token(h.store, rec.tenant_id, token)
    assert await keys.resolve(h.store, token) is None
    with pytest.raises(BadRequest):
        await keys.mint_token(h.store, rec.tenant_id, "chatbot", "ann", 0, "bob")
