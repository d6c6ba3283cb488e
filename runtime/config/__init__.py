"""Configuration: presets, the config file, and the settings of a deployment.

- `presets`: one frozen `OrchestratorConfig` per agent (history, window, timeouts,
  budgets) and how overrides apply.
- `file`: the format and checks of `orchestra serve --config FILE`.
- `settings`: `Settings`, the deployment shared by the gateway, the CLI and every actor,
  and the builders of its catalog and model.
"""

from runtime.config.presets import PRESETS, OrchestratorConfig

__all__ = ["PRESETS", "OrchestratorConfig"]
