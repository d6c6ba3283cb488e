"""Header values from the config file, secrets read from the environment.

A config file is shared and committed; a token is not. A header value
`"env:VAR"` is read from the environment variable VAR when the tool is built
(each process reads its own environment), so the file names the secret
without holding it. A missing variable is a `ConfigError` naming the header
and the variable, before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError

ENV_PREFIX = "env:"


def resolve_headers(
    where: str, headers: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`headers` with every `env:VAR` value replaced by that variable's value."""
    source = os.environ if env is None else env
    resolved: dict[str, str] = {}
    for header, value in headers.items():
        if not value.startswith(ENV_PREFIX):
            resolved[header] = value
            continue
        var = value[len(ENV_PREFIX) :].strip()
        if not var:
            raise ConfigError(f"{where}.headers.{header}: `env:` names no environment variable")
        found = source.get(var)
        if found is None:
            raise ConfigError(
                f"{where}.headers.{header}: the environment variable {var} is not set"
            )
        resolved[header] = found
    return resolved
