"""Helpers for testing Orchestra and agents built on it (shipped with the library).

`LabOrchestrator` (agent name "lab") has tools that misbehave on request, so
timeouts, failures and the breaker can be driven through the real stack with
the ScriptedModel's `!tools` directive, e.g. `!tools fail*3` or
`!tools slow {"seconds": 2}`. Enable it with `AgentCatalog(extra=LAB_AGENT)`.
"""

from .agents import LAB_AGENT, LabOrchestrator

__all__ = ["LAB_AGENT", "LabOrchestrator"]
