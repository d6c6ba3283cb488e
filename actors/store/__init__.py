"""The Redis/Valkey store (no Ray here): the `Store` protocol over Redis.

- `redis`: `RedisStore` and `connect_store`.
- `pipeline`: `AutoPipeline`, one round trip shared by concurrent commands.
- `scripts`: the Lua scripts, each one atomic step on the server.
- `valkey`: `EmbeddedValkey`, the store a fresh machine needs no set-up for.
"""

from actors.store.redis import RedisStore, connect_store, redis_url_from_env
from actors.store.valkey import EmbeddedValkey

__all__ = ["EmbeddedValkey", "RedisStore", "connect_store", "redis_url_from_env"]
