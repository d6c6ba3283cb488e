"""Principals: who is calling, as the gateway resolved a bearer credential.

Every caller is a principal of one tenant:

- a key's principal (`owner` or `staff`): a name with a role; a name may hold
  several keys (rotation makes a new one), and its identity is (name, role);
- an end user holding a session token (`subject`): bound to one
  (tenant, agent, subject), it sees that subject's session of that agent and
  nothing else.

`Actor` is the wire form of "who" (`{"principal", "role"}`) that proposals
and audit events record; `SYSTEM` is the sweeper's and recovery's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

Role = Literal["owner", "staff", "subject"]
KeyRole = Literal["owner", "staff"]


class Actor(TypedDict):
    principal: str
    role: str


SYSTEM: Actor = {"principal": "system", "role": "system"}
# The tenant's original key: what a caller inside the process acts as when it
# names no principal (the runtime's own tests, `LocalBackend` embedders).
TENANT_OWNER: Actor = {"principal": "owner", "role": "owner"}


@dataclass(frozen=True, slots=True)
class Principal:
    """A resolved caller. `agent`/`subject`/`expires_at` are set for session tokens."""

    tenant_id: str
    name: str
    role: Role
    key_id: str = ""
    agent: str = ""
    subject: str = ""
    expires_at: float | None = None

    @property
    def is_token(self) -> bool:
        return self.role == "subject"

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    def actor(self) -> Actor:
        return {"principal": self.name, "role": self.role}

    def sees(self, agent: str, subject: str) -> bool:
        """May this caller see a session of (agent, subject)? Keys see all of theirs."""
        return not self.is_token or (agent == self.agent and subject == self.subject)


def owner_of(tenant_id: str, name: str = "owner") -> Principal:
    """An owner principal (an in-process caller with the tenant's full rights)."""
    return Principal(tenant_id=tenant_id, name=name, role="owner")


__all__ = ["SYSTEM", "TENANT_OWNER", "Actor", "KeyRole", "Principal", "Role", "owner_of"]
