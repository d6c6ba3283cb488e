"""Canary releases: route whole tenants to another orchestrator class."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field


class CanaryConfig(BaseModel):
    """Route whole tenants to other orchestrator classes (the roadmap's canary).

    A tenant is in the canary when listed in `tenants`, or when its stable hash
    bucket (0-99, salted) is below `percent`. Rollback: `percent: 0, tenants: []`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    percent: int = Field(default=0, ge=0, le=100)
    tenants: tuple[str, ...] = ()
    salt: str = ""
    agents: dict[str, str] = Field(default_factory=dict)  # agent -> "module:Class"

    def applies(self, agent: str, tenant_id: str) -> bool:
        if agent not in self.agents:
            return False
        if tenant_id in self.tenants:
            return True
        digest = hashlib.blake2b(f"{self.salt}|{tenant_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest) % 100 < self.percent
