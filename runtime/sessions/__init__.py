"""Sessions: one conversation's mailbox, state and history, and the pool that holds many.

- `session`: `SessionCore` (one session's FIFO mailbox and its one store write per
  turn) and `SessionPool` (many cores in one process: load, evict, lease).
- `state`: what a session owns and what one turn produces.
- `history`: the window of newest messages plus a running summary.
"""

from runtime.sessions.history import History

__all__ = ["History"]
