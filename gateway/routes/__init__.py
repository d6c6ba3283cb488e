"""The HTTP routes of API.md, one module per resource, the web console (ui) and
the offline API docs (apidocs)."""

from . import agents, apidocs, ops, proposals, sessions, ui

__all__ = ["agents", "apidocs", "ops", "proposals", "sessions", "ui"]
