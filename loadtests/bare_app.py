"""The bare ceiling: FastAPI + ONE call to ONE Ray async actor per message.

    python -m loadtests.bare_app --port 8802 [--sleeper]

`POST /v1/sessions/{sid}/messages` with `{"text": "..."}` makes exactly one
call to one async Ray actor and returns the JSON it answers. Nothing else:
no auth, no store, no session logic. It runs the way `orchestra serve` runs
its gateway: its own local Ray (`ray.init` with the same options and the same
worker priority, nice 0, as
`actors.cluster.connect_ray`: no dashboard, no log forwarding, 100 MB object
store), the actor created before the server starts, and
`uvicorn.run(app, host, port, log_level="warning")` with uvicorn's default
loop and HTTP implementation. `loadtests/bench/` drives it with the same
wrk load as the full Orchestra path, so their ratio is the cost of everything
Orchestra adds on top of one Ray hop.

`--sleeper` adds the latency scenarios' yardstick: `POST
/v1/sessions/{sid}/sleep` with `{"seconds": X}` is one call to another async
actor that sleeps X seconds inside the call (like a turn whose tool sleeps X),
so observed minus X is what HTTP plus one plain Ray call per message add. It
is a separate actor, created only with the flag, so the zero-latency figures
run exactly as before.

It deliberately imports nothing from the project.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import ray
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field


@ray.remote(num_cpus=0)
class Responder:
    """One async actor; answers like a minimal turn (reply + empty lists)."""

    async def handle(self, session_id: str, text: str) -> dict[str, Any]:
        return {
            "reply": f"echo: {text}",
            "session_id": session_id,
            "proposals": [],
            "tool_calls": [],
            "usage": {"T1": 0, "T2": 0, "T3": 0},
        }

    async def ping(self) -> str:
        return "pong"


@ray.remote(num_cpus=0, max_concurrency=10_000)
class Sleeper:
    """One async actor whose call sleeps as long as it is told (a slow tool's turn)."""

    async def sleep(self, session_id: str, seconds: float) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"reply": f"slept {seconds}", "session_id": session_id, "slept": seconds}

    async def ping(self) -> str:
        return "pong"


class MessageIn(BaseModel):
    text: str


class SleepIn(BaseModel):
    seconds: float = Field(ge=0, le=60)


def build_app(actor: Any, sleeper: Any = None) -> FastAPI:
    app = FastAPI(title="bare ceiling")

    @app.post("/v1/sessions/{sid}/messages")
    async def post_message(sid: str, body: MessageIn) -> dict[str, Any]:
        result: dict[str, Any] = await actor.handle.remote(sid, body.text)
        return result

    if sleeper is not None:

        @app.post("/v1/sessions/{sid}/sleep")
        async def post_sleep(sid: str, body: SleepIn) -> dict[str, Any]:
            result: dict[str, Any] = await sleeper.sleep.remote(sid, body.seconds)
            return result

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8802)
    p.add_argument("--sleeper", action="store_true", help="add POST /v1/sessions/{sid}/sleep")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.pop("RAY_ADDRESS", None)  # always a private, local Ray
    os.environ.setdefault("RAY_worker_niceness", "0")  # its actors at nice 0, as the serve's
    ray.init(
        address="local",  # never the machine's latest `ray start` cluster (anyone's)
        namespace="bare-ceiling",
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
    )
    try:
        actor = Responder.remote()  # type: ignore[attr-defined]
        ray.get(actor.ping.remote(), timeout=60)
        sleeper = None
        if args.sleeper:
            sleeper = Sleeper.remote()  # type: ignore[attr-defined]
            ray.get(sleeper.ping.remote(), timeout=60)
        print(f"bare ceiling ready on http://{args.host}:{args.port}", flush=True)
        uvicorn.run(build_app(actor, sleeper), host=args.host, port=args.port, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        ray.shutdown()
        print("bare ceiling stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
