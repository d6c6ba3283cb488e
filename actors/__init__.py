"""Orchestra on Ray: session hosts, the proposal registry, the Redis store.

`RayBackend` is the gateway's front door; `ensure_actors()` brings the actors
up; `RedisStore`/`EmbeddedValkey` hold everything that must survive.
"""

from actors.store.redis import RedisStore, connect_store, redis_url_from_env
from actors.store.valkey import EmbeddedValkey

from .cluster import connect_ray, ensure_actors, kill_actors, single_machine_ray, wait_for_registry
from .common import open_store
from .host import SessionHost
from .hosts import HostInfo, add_hosts, list_hosts, remove_hosts
from .ray_backend import RayBackend
from .registry import ProposalRegistry, RegistryPort
from .ring import rendezvous
from .router import SessionRouter
from .tracing import (
    annotate,
    finished_spans,
    flush_tracing,
    request_span,
    setup_tracing,
    shutdown_tracing,
    tracing_enabled,
)

__all__ = [
    "EmbeddedValkey",
    "HostInfo",
    "ProposalRegistry",
    "RayBackend",
    "RedisStore",
    "RegistryPort",
    "SessionHost",
    "SessionRouter",
    "add_hosts",
    "annotate",
    "connect_ray",
    "connect_store",
    "ensure_actors",
    "finished_spans",
    "flush_tracing",
    "kill_actors",
    "list_hosts",
    "open_store",
    "redis_url_from_env",
    "remove_hosts",
    "rendezvous",
    "request_span",
    "setup_tracing",
    "shutdown_tracing",
    "single_machine_ray",
    "tracing_enabled",
    "wait_for_registry",
]
