"""Values from the config file whose secrets are read from the environment.

A config file is shared and committed; a token is not. A value `"env:VAR"`
(an HTTP tool's or MCP server's `headers`, a stdio server's `env`) is read
from the environment variable VAR when the tool is built or the server
started (each process reads its own environment), so the file names the
secret without holding it. A missing variable is a `ConfigError` naming the
key and the variable, before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError

ENV_PREFIX = "env:"


def resolve_env_refs(
    where: str, values: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`values` with every `env:VAR` replaced by that variable's value (`where`
    names the table in errors, e.g. `tools.refund.headers`)."""
    source = os.environ if env is None else env
    resolved: dict[str, str] = {}
    for key, value in values.items():
        if not value.startswith(ENV_PREFIX):
            resolved[key] = value
            continue
        var = value[len(ENV_PREFIX) :].strip()
        if not var:
            raise ConfigError(f"{where}.{key}: `env:` names no environment variable")
        found = source.get(var)
        if found is None:
            raise ConfigError(f"{where}.{key}: the environment variable {var} is not set")
        resolved[key] = found
    return resolved
