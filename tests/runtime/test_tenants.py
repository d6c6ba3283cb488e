"""Tenants: API keys are random, shown once and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib

import pytest

from runtime.errors import BadRequest
from runtime.store.tenants import add_tenant, hash_key, new_key, tenant_id_for

from .conftest import Harness


async def test_add_tenant_and_authenticate(h: Harness) -> None:
    rec, key = await add_tenant(h.store, "  Bella's Studio  ")
    assert rec.name == "Bella's Studio"
    assert rec.tenant_id.startswith("bella-s-studio-")
    assert key.startswith("orc_") and len(key) > 30
    assert await h.rt.authenticate(key) == rec.tenant_id
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
    assert await h.rt.authenticate(key_a) == a.tenant_id
    assert await h.rt.authenticate(key_b) == b.tenant_id


def test_new_keys_are_random() -> None:
    assert len({new_key() for _ in range(100)}) == 100


@pytest.mark.parametrize("name", ["", "   ", "!!!", "日本"])
def test_tenant_name_needs_a_letter_or_digit(name: str) -> None:
    with pytest.raises(BadRequest):
        tenant_id_for(name)


def test_tenant_id_slug_is_bounded() -> None:
    tid = tenant_id_for("A" * 200)
    assert tid.startswith("a" * 40 + "-") and len(tid) == 40 + 1 + 6
