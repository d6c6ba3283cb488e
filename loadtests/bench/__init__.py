"""The HTTP benchmark: Orchestra's full message path vs the bare ceiling vs LangGraph.

    python -m loadtests.bench [--duration 20] [--connections 100] [--profile] [--latency]

One command, one run, one machine (ratios are what to read: the machine is
noisy). Every phase starts its own servers in subprocesses and stops them again.

Zero latency (`throughput`): a. the bare ceiling (FastAPI + one Ray actor call),
b. `orchestra serve --hosts 2`, c. the LangGraph peer, b1. `--hosts 1`, each
under the same wrk load (`load`), repeated `--rounds` times; the report gives,
per path, the round with the median throughput and the median of the per-round
ratios, with the server CPU per request by role (`cpu`). `sessions`: cold start
and memory per idle hosted session. `latency`: the latency the runtime adds
with model-like turn times, JSON and SSE, at 200 and 1,000 concurrent users,
next to one plain Ray call per message and LangGraph (`loadgen` drives it), and
chatbot turns of a plain message with an 800 ms model and the default history
(summaries fall due). `burst`: N first messages at once (`--burst`,
`--burst-only`): the time until the last is answered, 503s, errors.
`--profile` adds a py-spy recording of the gateway and one host (`profile`).

Modules, one concern each:

  common      paths, the message, `say`
  procs       the run's process registry (every server in its own group, stopped
              at the end, also on Ctrl-C or SIGTERM)
  servers     orchestra serve (through `runtime.testing.served`), bare, peer
  populate    tenants and sessions over the APIs
  load        wrk, or a Python closed-loop client without it
  cpu         CPU accounting by role
  profile     py-spy
  throughput  the zero-latency scenario (a, b, b1, c)
  sessions    cold start, memory per idle session
  latency     the latency scenarios; `loadgen` is their load generator process
  burst       N first messages at once
  report      machine, rounds combined, ratios, targets, the table
  plot        docs/bench/latest.png
  cli         options and the order of the phases

Output: a table on stdout, `docs/bench/latest.json`, `docs/bench/latest.png`
(matplotlib: from this Python if it has it, else from the peer venv). Only the
standard library is imported by `common`, `report` and `plot`, so that
`<venv>/bin/python -m loadtests.bench.plot JSON PNG` can draw the plot.
"""
