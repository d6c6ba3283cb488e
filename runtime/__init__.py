"""Orchestra's runtime: the agent rules in pure Python (no Ray, no HTTP).

This module is the front door: what other packages (`actors`, `gateway`) and
plugins (the demo `salon`, a team's own agents and tools) may use. The
submodules behind it are internal.
"""

from runtime.backends.local import LocalBackend
from runtime.backends.protocol import Backend, pending_ids
from runtime.config.file import ConfigFile, load_file, parse_config
from runtime.config.presets import PRESETS, OrchestratorConfig, resolve_config
from runtime.config.settings import Settings, build_catalog, build_model, with_mcp_tools
from runtime.inbound import Inbound
from runtime.proposals.book import ProposalBook
from runtime.proposals.consent import Verdict
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.sessions.session import SessionPool, create_session, public_messages
from runtime.shapes import (
    AgentOut,
    AuditEvent,
    CanOut,
    ChatMessage,
    CloseOut,
    KeyOut,
    ProposalOut,
    SessionDetail,
    SessionOut,
    TokenOut,
    ToolCallOut,
    TurnDetail,
    TurnOut,
    TurnStep,
    TurnSummary,
)
from runtime.store.data import Change, DataStore, StoreData, TenantData, TurnData
from runtime.store.keys import MAX_TOKEN_TTL_S, active_keys, create_key, revoke_key, rotate_key
from runtime.store.memory import MemoryStore
from runtime.store.paging import MAX_PAGE
from runtime.store.payloads import TurnWrite
from runtime.store.protocol import LedgerEntry, LedgerState, SessionRecord, Store, TenantRecord
from runtime.store.tenants import add_tenant, hash_key

from .agents import AgentCatalog, CanaryConfig, DeclaredAgent, load_class
from .approval import ApprovalPolicy
from .errors import (
    RETRY_AFTER_S,
    RETRY_NOT_READY_S,
    AlreadyApproved,
    BadRequest,
    ConfigError,
    Conflict,
    ErrorClass,
    Forbidden,
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
from .logs import REQUEST_ID
from .logs import configure as configure_logging
from .logs import event as log_event
from .models.base import Model, ModelRequest, ModelResponse, Plan, StreamEvent, ToolOutcome
from .models.scripted import ScriptedModel
from .orchestrator import BaseOrchestrator
from .principals import SYSTEM, Actor, Principal
from .streaming import TurnStream
from .tiers import Tier
from .tools import NoArgs, Tool, ToolContext, ToolRegistry, function_tool, load_tool, tool

__all__ = [
    "MAX_PAGE",
    "MAX_TOKEN_TTL_S",
    "PRESETS",
    "REQUEST_ID",
    "RETRY_AFTER_S",
    "RETRY_NOT_READY_S",
    "SYSTEM",
    "Actor",
    "AgentCatalog",
    "AgentOut",
    "AlreadyApproved",
    "ApprovalPolicy",
    "AuditEvent",
    "Backend",
    "BadRequest",
    "BaseOrchestrator",
    "CanOut",
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
    "Forbidden",
    "Inbound",
    "InvalidTransition",
    "KeyOut",
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
    "Principal",
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
    "TokenOut",
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
    "TurnDetail",
    "TurnEvent",
    "TurnOut",
    "TurnStep",
    "TurnStream",
    "TurnSummary",
    "TurnWrite",
    "Unauthorized",
    "Unavailable",
    "Verdict",
    "WireError",
    "active_keys",
    "add_tenant",
    "build_catalog",
    "build_model",
    "classify",
    "code_for_status",
    "configure_logging",
    "create_key",
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
    "pending_ids",
    "public_messages",
    "resolve_config",
    "retry_after_header",
    "revoke_key",
    "rotate_key",
    "tool",
    "with_mcp_tools",
]
