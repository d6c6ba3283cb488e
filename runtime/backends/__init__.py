"""Backends: the one API the gateway calls (`Backend`), and its in-process implementation.

- `protocol`: the `Backend` protocol (every method takes the caller's tenant).
- `reads`: the calls answered straight from the store, shared by both backends.
- `local`: `LocalBackend`, the whole runtime in one asyncio process (no Ray).

The Ray implementation is `actors.RayBackend`.
"""

from runtime.backends.protocol import Backend

__all__ = ["Backend"]
