"""A deployment's agents and tools, built from its config file.

`deployment(cfg, ...)` turns a validated `ConfigFile` into what an
`AgentCatalog` needs: a factory and a preset per agent. Tools are built once
per process: Python functions (`[tools.X] python = ...`), HTTP endpoints
(`kind = "http"`) and the tools of MCP servers (`[mcp.NAME]`, discovered once
at start-up: `mcp_infos`). A name that does not resolve is a `ConfigError`
naming the key, before anything starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from runtime.config.file import AgentSection, ConfigFile, PythonToolSection
from runtime.config.presets import AGENT_KEYS, PRESETS, OrchestratorConfig, resolve_config

from ..errors import ConfigError
from ..models.base import Model
from ..orchestrator import BaseOrchestrator
from ..tools import Tool, load_tool
from . import Clock, Factory, class_factory, load_class
from .declared import DeclaredAgent, Rule, check_template

McpInfos = Mapping[str, list[dict[str, object]]]  # server -> its tools, as discovered


@dataclass(frozen=True)
class Deployment:
    factories: dict[str, Factory]
    configs: dict[str, OrchestratorConfig]
    presets: dict[str, str]  # the agents whose file table names a `preset`


def build_tools(cfg: ConfigFile, mcp_infos: McpInfos) -> dict[str, list[Tool]]:
    """Every tool the config declares, by the name an agent's `tools` list uses."""
    tools: dict[str, list[Tool]] = {}
    for name, section in cfg.tools.items():
        if isinstance(section, PythonToolSection):
            found = load_tool(section.python, section.tier, section.description)
            retries, cap = section.retries, section.max_result_bytes
            tools[name] = [replace(found, name=name, retries=retries, max_result_bytes=cap)]
        else:
            from ..tools.http import http_tool  # an HTTP client: only when configured

            tools[name] = [http_tool(name, section)]
        if section.approval is not None:
            tools[name] = [replace(t, approval=section.approval) for t in tools[name]]
    for server, mcp in cfg.mcp.items():
        infos = mcp_infos.get(server)
        if infos is None:
            raise ConfigError(f"mcp.{server}: the server's tools were not discovered")
        from ..tools.mcp import mcp_tools  # imports the SDK (~1 s): only when configured

        tools[f"mcp:{server}"] = mcp_tools(server, mcp, infos)
    return tools


def deployment(
    cfg: ConfigFile,
    file_data: Mapping[str, object],
    env: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    mcp_infos: McpInfos | None = None,
) -> Deployment:
    tools = build_tools(cfg, mcp_infos or {})
    extras = {name: class_factory(name, load_class(path)) for name, path in (extra or {}).items()}
    factories: dict[str, Factory] = {}  # the config file's agents first, in its order
    sections = {n: s for n, s in cfg.agents.items() if n != "all"}
    for name, section in sections.items():
        if section.class_ is not None:
            factories[name] = class_factory(name, load_class(section.class_))
        elif section.declared:
            factories[name] = _declared(name, section, tools)
        elif name in extras:
            factories[name] = extras[name]
        else:
            raise ConfigError(
                f"agents.{name}: no such agent to configure (give it `class` or "
                "`system_prompt` and `tools`)"
            )
    for name, make in extras.items():
        factories.setdefault(name, make)
    for name, section in sections.items():
        if section.script is not None and not section.declared:
            raise ConfigError(
                f"agents.{name}.script: script rules are for declared agents "
                "(ones with `system_prompt` or `tools`)"
            )
    configs = {}
    for name in factories:
        table = sections.get(name)
        preset = table.preset if table is not None else None
        if preset is not None and preset not in PRESETS:
            raise ConfigError(f"agents.{name}.preset: unknown preset {preset!r}")
        configs[name] = resolve_config(name, file_data, env, base=preset)
    presets = {n: s.preset for n, s in sections.items() if s.preset is not None and n in factories}
    return Deployment(factories, configs, presets)


def _declared(name: str, section: AgentSection, tools: dict[str, list[Tool]]) -> Factory:
    where = f"agents.{name}"
    prompt = section.system_prompt or f"You are {name}, an assistant of {{tenant_name}}."
    greeting = section.greeting or "Hello! How can I help?"
    check_template(prompt, f"{where}.system_prompt")
    check_template(greeting, f"{where}.greeting")
    chosen: list[Tool] = []
    for ref in section.tools or []:
        if ref not in tools:
            known = ", ".join(sorted(tools)) or "none declared"
            raise ConfigError(f"{where}.tools: no tool {ref!r} (declared: {known})")
        chosen.extend(tools[ref])
    names = [t.name for t in chosen]
    rules = []
    for i, rule in enumerate(section.script or []):
        if rule.tool not in names:
            known = ", ".join(names) or "none"
            raise ConfigError(
                f"{where}.script.{i}.tool: no tool {rule.tool!r} (its tools: {known})"
            )
        rules.append(Rule(re.compile(rule.match), rule.tool, rule.args))

    def make(config: OrchestratorConfig, model: Model, clock: Clock | None) -> BaseOrchestrator:
        return DeclaredAgent(
            config,
            model,
            clock,
            name=name,
            system_prompt=prompt,
            greeting=greeting,
            tools=chosen,
            rules=rules,
        )

    return make


__all__ = ["AGENT_KEYS", "Deployment", "McpInfos", "build_tools", "deployment"]
