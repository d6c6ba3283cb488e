"""The `orchestra` command line: serve, tenant (add, list, keys, revoke, rotate), hosts, chat."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from runtime import OrchestraError, load_file

from .chat import save_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from actors import EmbeddedValkey
    from runtime import Settings, Store

DEMO_TENANT = "Demo Salon"
ONCE = "orchestra: keep this key; it is shown only once (stored hashed)."
RAY_ADDRESS_FILE = "ray_address"  # the Ray of the `orchestra serve` running here


def home() -> Path:
    path = Path(os.environ.get("ORCHESTRA_HOME", Path.home() / ".orchestra"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def say(msg: str) -> None:
    print(f"orchestra: {msg}", flush=True)


# -- serve --------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from actors import EmbeddedValkey, connect_ray, ensure_actors, kill_actors
    from runtime import build_catalog, with_mcp_tools

    started = time.monotonic()
    settings = serve_settings(args)  # the config file is checked before anything starts
    settings = asyncio.run(with_mcp_tools(settings))  # MCP servers answer, or we stop here
    build_catalog(settings)  # every agent and tool builds, or we stop here
    valkey: EmbeddedValkey | None = None
    if not settings.redis_url:
        data_dir = Path(args.data_dir) if args.data_dir else home() / "valkey"
        say(f"starting the embedded Valkey store (data in {data_dir}) ...")
        valkey = EmbeddedValkey(data_dir)
        settings = settings.model_copy(update={"redis_url": valkey.start()})
    redis_url = settings.redis_url
    (home() / "store_url").write_text(redis_url)
    save_url(home(), _url(args))  # `orchestra chat` finds this gateway without --url
    ray_address = args.ray_address or os.environ.get("RAY_ADDRESS")
    gcs = ""
    try:
        say(
            "starting Ray (local, this takes a few seconds) ..."
            if not ray_address
            else f"joining the Ray cluster at {ray_address} ..."
        )
        gcs = connect_ray(settings.namespace, address=ray_address)
        signal.signal(signal.SIGTERM, _interrupt)  # ray.init made SIGTERM sys.exit(15)
        (home() / RAY_ADDRESS_FILE).write_text(gcs)  # what `orchestra hosts` joins
        say(
            f"Ray is up at {gcs}; creating the proposal registry and "
            f"{settings.hosts if settings.placement == 'hosted' else 0} session hosts ..."
        )
        ensure_actors(settings)
        key = asyncio.run(_demo_key(redis_url, settings.store_prefix))
        took = time.monotonic() - started
        _banner(args, settings, key, took)
        if args.ready_file:
            _write_ready_file(Path(args.ready_file), args, key, gcs, valkey, took)
        _run_gateway(args, settings, gcs)
    finally:
        say("shutting down: stopping actors, Ray and the store ...")
        if gcs and not _reachable(gcs):
            # The signal reached the whole process group (systemd's default
            # KillMode, `timeout`, `kill -- -PGID`): Ray's own processes are gone,
            # and each call to them would wait 60 s for a GCS that cannot return.
            say("Ray had already stopped (the signal reached its processes too)")
        elif not ray_address:  # our own local Ray: take our actors down with it
            with contextlib.suppress(Exception):
                kill_actors(settings.namespace)
        import ray

        ray.shutdown()
        with contextlib.suppress(OSError):
            (home() / RAY_ADDRESS_FILE).unlink()
        if valkey is not None:
            valkey.stop()
        say("stopped cleanly.")
    return 0


def serve_settings(args: argparse.Namespace) -> Settings:
    """`orchestra serve`'s settings: the config file <- the environment <- its flags."""
    from runtime import Settings

    return Settings.from_env(
        config_data=load_file(args.config) if args.config else {},
        config_source=args.config or "the config",
        redis_url=args.redis_url,
        placement=args.placement,
        hosts=args.hosts,
        model=args.model,
        rate_limit_per_s=args.rate_limit_per_s,
        rate_limit_burst=args.rate_limit_burst,
        unknown_key_rate_per_s=args.unknown_key_rate_per_s,
        unknown_key_burst=args.unknown_key_burst,
        drain_s=args.drain_s,
        grace_s=args.grace_s,
    )


def _reachable(address: str, timeout: float = 1.0) -> bool:
    """Whether `host:port` accepts a TCP connection (is the GCS still up?)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    return True


def _run_gateway(args: argparse.Namespace, settings: Settings, gcs: str) -> None:
    """uvicorn until Ctrl-C or SIGTERM. SIGTERM drains first (`/readyz` 503 for
    `drain_s`, `gateway.drain`); then in-flight requests get `grace_s` to finish."""
    import uvicorn

    from .serve import SETTINGS_ENV, app_for

    # After its graceful shutdown uvicorn raises again the signal that stopped
    # it; the stop it asks for is under way, so it is not an error.
    with contextlib.suppress(KeyboardInterrupt):
        if args.workers > 1:
            os.environ[SETTINGS_ENV] = settings.model_dump_json()
            os.environ["RAY_ADDRESS"] = gcs
            uvicorn.run(
                "gateway.serve:app_from_env",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="warning",
                timeout_graceful_shutdown=math.ceil(settings.grace_s),
            )
        else:
            uvicorn.run(
                app_for(settings),
                host=args.host,
                port=args.port,
                log_level="warning",
                # a stop never waits on a stuck request forever
                timeout_graceful_shutdown=math.ceil(settings.grace_s),
            )


async def _demo_key(redis_url: str, prefix: str) -> str:
    """The demo tenant's key: reused across restarts (kept in ORCHESTRA_HOME)."""
    from actors import connect_store
    from runtime import add_tenant, hash_key

    store = await connect_store(redis_url, prefix=prefix)
    try:
        saved = home() / "demo_key"
        if saved.exists():
            key = saved.read_text().strip()
            if await store.tenant_by_key_hash(hash_key(key)) is not None:
                return key
        _, key = await add_tenant(store, DEMO_TENANT)
        saved.write_text(key)
        saved.chmod(0o600)
        return key
    finally:
        await store.close()


def _banner(args: argparse.Namespace, settings: Settings, key: str, took: float) -> None:
    url = _url(args)
    say(
        f"ready in {took:.1f}s: gateway on {url} ({args.workers} worker(s), "
        f"placement {settings.placement}, model {settings.model})"
    )
    print(f"\n  demo tenant API key: {key}\n")
    # The key rides in the fragment: the browser keeps it and never sends it to a server.
    print(f"  open the console: {url}/ui#key={quote(key, safe='')}\n")
    print("  try it:")
    print(
        f"  curl -s -X POST {url}/v1/sessions -H 'Authorization: Bearer {key}' "
        '-H \'Content-Type: application/json\' -d \'{"agent": "chatbot", "subject": "me"}\''
    )
    print("  orchestra chat    (the terminal client finds this gateway and key)\n")
    print("  Ctrl-C stops everything.\n", flush=True)


def _url(args: argparse.Namespace) -> str:
    return f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"


def _write_ready_file(
    path: Path,
    args: argparse.Namespace,
    key: str,
    gcs: str,
    valkey: EmbeddedValkey | None,
    took: float,
) -> None:
    """`--ready-file`: what a harness needs to drive this serve, as one JSON object
    written atomically (a temporary file renamed into place), so that whoever polls
    for it never reads half of it. Written with the banner: uvicorn binds right after."""
    pids = {"serve": os.getpid(), **_child_pids(valkey)}
    ready = {
        "url": _url(args),
        "key": key,
        "pid": os.getpid(),
        "pids": pids,
        "ray_address": gcs,
        "ready_s": round(took, 3),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ready) + "\n")
    tmp.replace(path)


def _child_pids(valkey: EmbeddedValkey | None) -> dict[str, int]:
    """The embedded Valkey's pid and, for a Ray this process started, its GCS and
    raylet (read from Ray's node object: private, so best effort)."""
    found: dict[str, int] = {}
    server = getattr(valkey, "_server", None)
    process = getattr(server, "_process", None)
    if process is not None:
        found["valkey"] = int(process.pid)
    with contextlib.suppress(Exception):
        import ray

        node = ray._private.worker._global_node
        for kind, name in (("gcs_server", "ray_gcs"), ("raylet", "raylet")):
            infos = (node.all_processes if node is not None else {}).get(kind) or []
            if infos:
                found[name] = int(infos[0].process.pid)
    return found


# -- tenant add | list | keys | revoke | rotate ------------------------------------


def _tenant_add(args: argparse.Namespace) -> int:
    return asyncio.run(_tenant_add_async(args))


def _tenant_manage(args: argparse.Namespace) -> int:
    return asyncio.run(_tenant_manage_async(args))


async def _tenant_manage_async(args: argparse.Namespace) -> int:
    """list: the tenants; keys: a tenant's live keys (no secrets); revoke, rotate: a key
    (rotate prints the new key once). One JSON document on stdout."""
    from runtime import active_keys, revoke_key, rotate_key

    async with _store(args) as store:
        out: object
        if args.tenant_command == "list":
            out = [
                {"tenant_id": t.tenant_id, "name": t.name, "created_at": t.created_at}
                for t in await store.list_tenants()
            ]
        elif args.tenant_command == "keys":
            out = [
                {"key_id": k.key_id, "name": k.name, "role": k.role, "created_at": k.created_at}
                for k in await active_keys(store, args.tenant_id)
            ]
        elif args.tenant_command == "revoke":
            rec = await revoke_key(store, args.tenant_id, args.key_id)
            out = {"key_id": rec.key_id, "revoked_at": rec.revoked_at}
        else:
            _, new, key = await rotate_key(store, args.tenant_id, args.key_id)
            out = {"key_id": new.key_id, "name": new.name, "role": new.role, "api_key": key}
            print(ONCE, file=sys.stderr)
    print(json.dumps(out))
    return 0


@contextlib.asynccontextmanager
async def _store(args: argparse.Namespace) -> AsyncIterator[Store]:
    """The store of a running `orchestra serve` (or `--redis-url`), else the embedded
    store's data directory opened directly."""
    from actors import EmbeddedValkey, connect_store

    url = args.redis_url or os.environ.get("REDIS_URL", "")
    explicit = bool(url)
    saved = home() / "store_url"
    if not url and saved.exists():
        url = saved.read_text().strip()  # the store of a running `orchestra serve`
    store = None
    if url:
        try:
            store = await connect_store(url, wait=1.0)
        except OrchestraError:
            if explicit:
                raise
    valkey: EmbeddedValkey | None = None
    if store is None:  # nothing running: open the embedded store's data directly
        valkey = EmbeddedValkey(Path(args.data_dir) if args.data_dir else home() / "valkey")
        store = await connect_store(valkey.start())
    try:
        yield store
    finally:
        await store.close()
        if valkey is not None:
            valkey.stop()


async def _tenant_add_async(args: argparse.Namespace) -> int:
    from runtime import add_tenant

    async with _store(args) as store:
        rec, key = await add_tenant(store, args.name)
    print(json.dumps({"tenant_id": rec.tenant_id, "name": rec.name, "api_key": key}))
    print(ONCE, file=sys.stderr)
    return 0


# -- hosts --------------------------------------------------------------------------


def _hosts(args: argparse.Namespace) -> int:
    """`orchestra hosts add|remove|list`: the session hosts of a running deployment."""
    address = args.ray_address or os.environ.get("RAY_ADDRESS") or _local_ray_address()
    if not address:
        say("no Ray to join: pass --ray-address (or set RAY_ADDRESS), or run orchestra serve here")
        return 2
    loopback = address.startswith(("127.0.0.1:", "localhost:"))
    if loopback and os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
        # The local serve's Ray, in Ray's single-machine mode with its token
        # (docs/DEPLOY.md). Ray reads both when it is imported, and importing the
        # gateway package imported it already: run this command again with them set.
        env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        env.setdefault("RAY_AUTH_MODE", "token")
        os.execve(sys.executable, [sys.executable, "-m", "gateway.cli", *sys.argv[1:]], env)
    from actors import add_hosts, connect_ray, list_hosts, remove_hosts

    connect_ray(args.namespace, address=address)
    try:
        if args.hosts_command == "add":
            added = add_hosts(args.namespace, args.count)
            say(f"added {', '.join(added)}; routers take them in within seconds")
        elif args.hosts_command == "remove":
            removed = remove_hosts(args.namespace, args.count, args.name or None)
            say(f"removed {', '.join(removed)}; their sessions moved to the other hosts")
        for info in list_hosts(args.namespace):
            print(json.dumps(info), flush=True)
    finally:
        import ray

        ray.shutdown()
    return 0


def _local_ray_address() -> str:
    path = home() / RAY_ADDRESS_FILE
    return path.read_text().strip() if path.exists() else ""


# -- chat ---------------------------------------------------------------------------


def _chat(args: argparse.Namespace) -> int:
    from .chat import run

    return run(args.url, args.key, args.agent, args.subject, home(), sys.stdin)


# -- entry point ---------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orchestra", description="Orchestra agent runtime")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="start the store, Ray, the actors and the HTTP gateway")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="gateway processes")
    s.add_argument("--placement", choices=["hosted", "dedicated"], default="hosted")
    s.add_argument("--hosts", type=int, default=2, help="session host actors (hosted)")
    s.add_argument(
        "--model",
        choices=["scripted", "anthropic", "openai"],
        help="the model (default: the config file's [model] kind, ORCHESTRA_MODEL, or scripted)",
    )
    s.add_argument(
        "--rate-limit-per-s",
        type=float,
        help="per-tenant requests per second, per gateway process (default 200)",
    )
    s.add_argument("--rate-limit-burst", type=int, help="per-tenant burst (default 400)")
    s.add_argument(
        "--unknown-key-rate-per-s",
        type=float,
        help="requests with unknown API keys per second, per client address and gateway"
        " process (default 10)",
    )
    s.add_argument("--unknown-key-burst", type=int, help="unknown-key burst (default 20)")
    s.add_argument(
        "--drain-s",
        type=float,
        help="after SIGTERM, /readyz answers 503 this long while requests are still served"
        " (default 5; 0: no drain)",
    )
    s.add_argument(
        "--grace-s",
        type=float,
        help="then in-flight requests and streams get this long to finish (default 30)",
    )
    s.add_argument("--redis-url", help="external Redis/Valkey (default: embedded Valkey)")
    s.add_argument("--data-dir", help="embedded Valkey data directory")
    s.add_argument("--config", help="TOML or YAML config file")
    s.add_argument("--ray-address", help="join this Ray cluster ('auto' for the local one)")
    s.add_argument(
        "--ready-file",
        help="once ready, write {url, key, pid, pids, ray_address} here as JSON (atomically)",
    )
    s.set_defaults(func=_serve)
    t = sub.add_parser("tenant", help="manage tenants")
    tsub = t.add_subparsers(dest="tenant_command", required=True)
    ta = tsub.add_parser("add", help="create a tenant and print its API key once")
    ta.add_argument("name")
    ta.add_argument("--redis-url")
    ta.add_argument("--data-dir")
    ta.set_defaults(func=_tenant_add)
    for name, help_text, extra in [
        ("list", "list the tenants", []),
        ("keys", "list a tenant's live keys (no secrets)", ["tenant_id"]),
        ("revoke", "revoke a key (refused by every gateway within 2 s)", ["tenant_id", "key_id"]),
        (
            "rotate",
            "a new key for the same principal; the old one revoked",
            ["tenant_id", "key_id"],
        ),
    ]:
        tp = tsub.add_parser(name, help=help_text)
        for arg in extra:
            tp.add_argument(arg)
        tp.add_argument("--redis-url")
        tp.add_argument("--data-dir")
        tp.set_defaults(func=_tenant_manage)
    h = sub.add_parser("hosts", help="list, add or remove session hosts of a running deployment")
    hsub = h.add_subparsers(dest="hosts_command", required=True)
    for name, what in (
        ("list", "print each session host (name, node, sessions, queue) as JSON"),
        ("add", "start more session hosts (with the running ones' settings)"),
        ("remove", "hand the sessions of the highest-numbered hosts over, then stop them"),
    ):
        hc = hsub.add_parser(name, help=what)
        hc.add_argument(
            "--ray-address",
            help="the cluster to join (default: RAY_ADDRESS, else the orchestra serve"
            " running on this machine)",
        )
        hc.add_argument("--namespace", default="orchestra", help="the deployment's Ray namespace")
        if name != "list":
            hc.add_argument("count", nargs="?", type=int, default=1, help="how many (default 1)")
        if name == "remove":
            hc.add_argument("--name", action="append", help="remove this host (repeatable) instead")
        hc.set_defaults(func=_hosts)
    c = sub.add_parser("chat", help="chat with an agent in the terminal")
    c.add_argument(
        "--url",
        help="the gateway (default: ORCHESTRA_URL, else the last `orchestra serve`'s,"
        " else http://127.0.0.1:8000)",
    )
    c.add_argument(
        "--key", help="API key (default: ORCHESTRA_API_KEY, else the last serve's demo key)"
    )
    c.add_argument("--agent", default="chatbot", help="an agent of the deployment")
    c.add_argument(
        "--subject",
        default="terminal-user",
        help="the end user; their active session with the agent is resumed",
    )
    c.set_defaults(func=_chat)
    return p


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        return 130
    except OrchestraError as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
