"""A JSON response rendered with orjson (the one serializer of every JSON body)."""

from __future__ import annotations

import orjson
from fastapi.responses import JSONResponse

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _fallback(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def dumps(content: object) -> bytes:
    """JSON bytes of `content`; values orjson does not know are rendered as strings."""
    return orjson.dumps(content, default=_fallback, option=_OPTIONS)


class FastJSON(JSONResponse):
    """`JSONResponse` through orjson: API bodies are plain dicts, not re-validated models."""

    def render(self, content: object) -> bytes:
        return dumps(content)
