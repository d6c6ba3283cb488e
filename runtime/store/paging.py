"""Pages of a tenant's sessions, newest first, behind an opaque cursor.

Both stores list sessions in one order, `(created_at, session_id)` descending
(the order of a Redis sorted set read in reverse, ties broken by member), so
a page ends at a position and the next page starts strictly after it. The
cursor is that position, base64url-encoded: clients pass it back unread, a
new session never shifts a page already read, and a cursor that does not
decode is a `BadRequest` (400), not a 500.
"""

from __future__ import annotations

import base64
import binascii
import math

import orjson

from runtime.errors import BadRequest
from runtime.store.protocol import SessionRecord

Position = tuple[float, str]

MAX_PAGE = 100


def encode_cursor(rec: SessionRecord) -> str:
    raw = orjson.dumps([rec.created_at, rec.session_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names (None: from the newest); `BadRequest` if malformed."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, sid = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequest("invalid cursor: pass back a next_cursor unchanged") from exc
    if (
        isinstance(at, bool)
        or not isinstance(at, int | float)
        or not math.isfinite(at)
        or not isinstance(sid, str)
    ):
        raise BadRequest("invalid cursor: pass back a next_cursor unchanged")
    return float(at), sid


def after(rec: SessionRecord, position: Position | None) -> bool:
    """Does `rec` come after `position` in newest-first order?"""
    return position is None or (rec.created_at, rec.session_id) < position


def matches(rec: SessionRecord, agent: str | None, subject: str | None, status: str | None) -> bool:
    return (
        agent in (None, rec.agent)
        and subject in (None, rec.subject)
        and status in (None, rec.status)
    )


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")


def page(found: list[SessionRecord], limit: int) -> tuple[list[SessionRecord], str | None]:
    """At most `limit` of `found` (newest first, up to `limit + 1` long) and the cursor
    of the next page (None when `found` held no more)."""
    if len(found) > limit:
        return found[:limit], encode_cursor(found[limit - 1])
    return found, None
