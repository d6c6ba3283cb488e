"""Wiring a gateway process: settings in, a FastAPI app on a Ray backend out.

`orchestra serve` runs one gateway in-process; with `--workers N` uvicorn
spawns N processes that each call `app_from_env()`, join the same Ray
cluster (RAY_ADDRESS) and store (settings in ORCHESTRA_SETTINGS_JSON).
Either way SIGTERM drains each process before it stops (`gateway.drain`).
"""

from __future__ import annotations

import os

import ray
from fastapi import FastAPI

from actors import (
    RayBackend,
    connect_ray,
    open_store,
    setup_tracing,
    shutdown_tracing,
    wait_for_registry,
)
from runtime import Settings, configure_logging

from .app import create_app
from .drain import Drain, tcp_unreachable

SETTINGS_ENV = "ORCHESTRA_SETTINGS_JSON"


def app_for(settings: Settings) -> FastAPI:
    configure_logging()  # one JSON line per request on stderr (ORCHESTRA_LOG_LEVEL)
    setup_tracing(settings, "gateway")  # OpenTelemetry, when configured (off: nothing)
    backend = RayBackend(settings, open_store(settings))

    async def flush_spans() -> None:
        shutdown_tracing()  # the last spans leave before the process does

    gcs = ray.get_runtime_context().gcs_address
    drain = Drain(settings.drain_s, gone=lambda: tcp_unreachable(gcs))
    return create_app(backend, settings, on_shutdown=[flush_spans, backend.close], drain=drain)


def app_from_env() -> FastAPI:
    """uvicorn factory for gateway replicas (`--workers`, or extra processes)."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else Settings.from_env()
    connect_ray(settings.namespace, address=os.environ.get("RAY_ADDRESS") or "auto")
    wait_for_registry(settings)
    return app_for(settings)
