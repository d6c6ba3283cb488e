"""The HTTP routes of API.md, one module per resource."""

from . import ops, proposals, sessions

__all__ = ["ops", "proposals", "sessions"]
