"""What one turn costs in process: CPU time, or instructions under callgrind.

    python -m loadtests.turn_cost [--turns 3000] [--sessions 8] [--warm 40] [--redis URL]
    valgrind --tool=callgrind -q "$(python -c 'import sys; print(sys.executable)')" \
        -m loadtests.turn_cost --callgrind --turns 48

Chatbot turns ("what services do you have?", one T1 tool call) through
`LocalBackend` on a `MemoryStore` (or a Redis store with `--redis`), after
`--warm` turns spread over `--sessions` sessions, so history summaries fall due as
in steady state.

Timings on a shared machine swing by 20 % and more; an instruction count does
not: with `--callgrind` the counters are zeroed before the measured turns and
dumped after them (`callgrind_control -z/-d` on this process), and the script
prints the dump's instruction count per turn (the same code counts the same
within 0.05 %). Use it to compare two commits: check each out and run both.
(valgrind needs the interpreter itself, not a pyenv shim that execs it.)
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import time

from runtime import Inbound, LocalBackend, MemoryStore, ScriptedModel, Store, add_tenant
from runtime.agents import AgentCatalog
from salon.testing import SALON_AGENTS

TEXT = "what services do you have?"


async def _store(url: str | None) -> Store:
    if url is None:
        return MemoryStore()
    from actors import connect_store

    return await connect_store(url, prefix=f"turncost{os.getpid()}")


def _callgrind(command: str) -> None:
    subprocess.run(["callgrind_control", command, str(os.getpid())], capture_output=True)


def _dumped_instructions() -> int:
    """The instruction count of this process's last callgrind dump."""
    dumps = sorted(glob.glob(f"callgrind.out.{os.getpid()}.*"), key=os.path.getmtime)
    with open(dumps[-1]) as dump:
        for line in dump:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError("no callgrind dump found (run under valgrind --tool=callgrind)")


async def main(args: argparse.Namespace) -> None:
    store = await _store(args.redis)
    rt = LocalBackend(store, AgentCatalog(ScriptedModel(), extra=SALON_AGENTS))
    await rt.start()
    tenant, _ = await add_tenant(store, "turn cost")
    tid = tenant.tenant_id
    sids = [(await rt.create_session(tid, "chatbot", f"u{i}"))[0] for i in range(args.sessions)]

    async def turn(k: int) -> None:
        await rt.send_message(Inbound(tid, sids[k % len(sids)]["session_id"], TEXT))

    for k in range(args.warm):
        await turn(k)
    if args.callgrind:
        _callgrind("-z")
    t0 = time.process_time()
    for k in range(args.turns):
        await turn(args.warm + k)
    cpu = time.process_time() - t0
    if args.callgrind:
        _callgrind("-d")
        print(f"{_dumped_instructions() / args.turns:,.0f} instructions per turn")
    else:
        print(f"{cpu / args.turns * 1e6:.0f} us of CPU per turn")
    await rt.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--warm", type=int, default=40)
    parser.add_argument("--redis", default=None, help="a Redis URL (default: MemoryStore)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
