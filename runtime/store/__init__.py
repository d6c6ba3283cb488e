"""The store: everything that must survive a crash, behind one `Store` protocol.

- `protocol`: `Store`, and the records it keeps (sessions, tenants, the ledger).
- `payloads`: what one turn saves (`TurnWrite`): messages, snapshot, audit, turn record.
- `memory`: `MemoryStore`, the protocol in process memory (tests, `LocalBackend`).
- `data`: tenant data documents that Python tools read and write.
- `paging`: pages of a tenant's sessions behind an opaque cursor.
- `tenants`: tenant API keys, stored as hashes.

The Redis/Valkey implementation is `actors.store.RedisStore`.
"""

from runtime.store.payloads import SessionSnapshot, StoredMessage, TurnWrite
from runtime.store.protocol import LedgerEntry, LedgerState, SessionRecord, Store, TenantRecord

__all__ = [
    "LedgerEntry",
    "LedgerState",
    "SessionRecord",
    "SessionSnapshot",
    "Store",
    "StoredMessage",
    "TenantRecord",
    "TurnWrite",
]
