"""Arguments checked against a JSON Schema: the `check` of HTTP and MCP tools.

Python tools validate through pydantic; tools declared by a schema (an HTTP
endpoint's `parameters`, an MCP tool's `inputSchema`) validate with
`jsonschema`, so what the model sees and what is enforced are the same
document. A failure is a `ToolValidationError` naming the tool, the first bad
field (the most relevant error, by `jsonschema.exceptions.best_match`) and the
reason, in the same form as a Python tool's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import validator_for

from ..errors import ConfigError, ToolValidationError
from .base import Args, Check


def plain(value: Any) -> Any:
    """A JSON-shaped copy: mappings -> dicts, sequences -> lists (a read-only
    `MappingProxyType` is not an object to jsonschema)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def json_checker(name: str, schema: Mapping[str, object], where: str) -> Check:
    """`check(raw) -> args` for `schema`; a schema that is not JSON Schema is a
    `ConfigError` naming `where` (the config key or server it came from)."""
    document = plain(schema)
    cls = validator_for(document)
    try:
        cls.check_schema(document)
    except SchemaError as exc:
        raise ConfigError(f"{where}: not a valid JSON Schema: {exc.message}") from None
    validator = cls(document, format_checker=cls.FORMAT_CHECKER)

    def check(raw: Mapping[str, object]) -> Args:
        as_json = plain(raw)
        error = best_match(validator.iter_errors(as_json))
        args: Args = as_json
        if error is not None:
            raise ToolValidationError(f"{name}: {_field(error)}: {error.message}")
        return args

    return check


def _field(error: ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [str(r) for r in required if r not in error.instance]
        if missing:
            return ".".join(p for p in (path, missing[0]) if p)
    return path or "arguments"
