"""Configuration: ``behest.toml`` → frozen ``Settings`` (the package's public face).

``schema`` holds the dataclasses, ``parse`` and ``load`` validate (errors with ``file:line``
and a did-you-mean), ``locate`` finds the lines, ``slugs`` derives project slugs, ``render``
turns settings back into TOML and explains where each value came from, and ``template`` is
the commented file ``behest-local init`` writes. Live reload is ``config/reload.py``'s; the layer
deployed through the management API is ``config/deployed.py``'s.
"""

from behest_local.config.errors import ConfigError, Problem
from behest_local.config.load import check, from_dict, load, loads
from behest_local.config.schema import (BUILTIN_PROVIDERS, DEFAULT_MAX_BODY, DEFAULT_MODEL,
                                        DEFAULT_PORT, FREE_PLAN_PROJECTS, PLANS, BudgetConfig,
                                        EmulatorConfig, ModelPrice, ProjectConfig, ProviderConfig,
                                        RateLimitConfig, ScriptedReply, ServerConfig, Settings,
                                        TenantConfig, TierLimits, TierOverrides, ToolCallReply)

__all__ = [
    "BUILTIN_PROVIDERS", "DEFAULT_MAX_BODY", "DEFAULT_MODEL", "DEFAULT_PORT",
    "FREE_PLAN_PROJECTS", "PLANS", "BudgetConfig", "ConfigError", "EmulatorConfig",
    "ModelPrice", "Problem",
    "ProjectConfig", "ProviderConfig", "RateLimitConfig", "ScriptedReply", "ServerConfig",
    "Settings", "TenantConfig", "TierLimits", "TierOverrides", "ToolCallReply", "check",
    "from_dict", "load", "loads",
]
