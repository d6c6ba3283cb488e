"""Orchestra's runtime: the agent rules in pure Python (no Ray, no HTTP).

This module is the front door: what other packages (`actors`, `gateway`) and
plugins (the demo `salon`, a team's own agents and tools) may use. The
submodules behind it are internal.
"""

from .agents import AgentCatalog, CanaryConfig, DeclaredAgent, load_class
from .backend import Backend
from .book import ProposalBook
from .config import ConfigFile, load_file, parse_config
from .data import Change, DataStore, StoreData, TenantData, TurnData
from .errors import (
    RETRY_AFTER_S,
    RETRY_NOT_READY_S,
    BadRequest,
    ConfigError,
    Conflict,
    ErrorClass,
    InvalidTransition,
    ModelError,
    NotFound,
    NotOwner,
    OrchestraError,
    RateLimited,
    RequestInvalid,
    SessionClosed,
    TooLarge,
    ToolError,
    ToolTimeout,
    ToolValidationError,
    TurnAborted,
    Unauthorized,
    Unavailable,
    WireError,
    classify,
    code_for_status,
    error_from_wire,
    error_to_wire,
    http_status_of,
    retry_after_header,
)
from .events import (
    DoneEvent,
    Emit,
    ErrorEvent,
    ProposalEvent,
    StartEvent,
    TokenEvent,
    ToolCallEvent,
    TurnEvent,
)
from .local_backend import LocalBackend
from .logs import REQUEST_ID
from .logs import configure as configure_logging
from .logs import event as log_event
from .memstore import MemoryStore
from .models.base import Model, ModelRequest, ModelResponse, Plan, StreamEvent, ToolOutcome
from .models.scripted import ScriptedModel
from .orchestrator import BaseOrchestrator
from .paging import MAX_PAGE
from .presets import PRESETS, OrchestratorConfig, resolve_config
from .proposals import Proposal, ProposalStatus
from .session import SessionPool, create_session, public_messages
from .settings import Settings, build_catalog, build_model, with_mcp_tools
from .shapes import (
    AgentOut,
    AuditEvent,
    ChatMessage,
    CloseOut,
    ProposalOut,
    SessionDetail,
    SessionOut,
    ToolCallOut,
    TurnOut,
)
from .store import LedgerEntry, LedgerState, SessionRecord, Store, TenantRecord
from .streaming import TurnStream
from .tenants import add_tenant, hash_key
from .tiers import Tier
from .tools import NoArgs, Tool, ToolContext, ToolRegistry, function_tool, load_tool, tool

__all__ = [
    "MAX_PAGE",
    "PRESETS",
    "REQUEST_ID",
    "RETRY_AFTER_S",
    "RETRY_NOT_READY_S",
    "AgentCatalog",
    "AgentOut",
    "AuditEvent",
    "Backend",
    "BadRequest",
    "BaseOrchestrator",
    "CanaryConfig",
    "Change",
    "ChatMessage",
    "CloseOut",
    "ConfigError",
    "ConfigFile",
    "Conflict",
    "DataStore",
    "DeclaredAgent",
    "DoneEvent",
    "Emit",
    "ErrorClass",
    "ErrorEvent",
    "InvalidTransition",
    "LedgerEntry",
    "LedgerState",
    "LocalBackend",
    "MemoryStore",
    "Model",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "NoArgs",
    "NotFound",
    "NotOwner",
    "OrchestraError",
    "OrchestratorConfig",
    "Plan",
    "Proposal",
    "ProposalBook",
    "ProposalEvent",
    "ProposalOut",
    "ProposalStatus",
    "RateLimited",
    "RequestInvalid",
    "ScriptedModel",
    "SessionClosed",
    "SessionDetail",
    "SessionOut",
    "SessionPool",
    "SessionRecord",
    "Settings",
    "StartEvent",
    "Store",
    "StoreData",
    "StreamEvent",
    "TenantData",
    "TenantRecord",
    "Tier",
    "TokenEvent",
    "TooLarge",
    "Tool",
    "ToolCallEvent",
    "ToolCallOut",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
    "ToolTimeout",
    "ToolValidationError",
    "TurnAborted",
    "TurnData",
    "TurnEvent",
    "TurnOut",
    "TurnStream",
    "Unauthorized",
    "Unavailable",
    "WireError",
    "add_tenant",
    "build_catalog",
    "build_model",
    "classify",
    "code_for_status",
    "configure_logging",
    "create_session",
    "error_from_wire",
    "error_to_wire",
    "function_tool",
    "hash_key",
    "http_status_of",
    "load_class",
    "load_file",
    "load_tool",
    "log_event",
    "parse_config",
    "public_messages",
    "resolve_config",
    "retry_after_header",
    "tool",
    "with_mcp_tools",
]
