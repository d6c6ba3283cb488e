"""The HTTP routes of API.md, one module per resource, and the web console (ui)."""

from . import agents, ops, proposals, sessions, ui

__all__ = ["agents", "ops", "proposals", "sessions", "ui"]
