"""Python tools: async functions whose typed signature is their schema.

    from runtime import tool, ToolContext

    @tool(tier="T3", description="Refund an order.", idempotent=True)
    async def refund(ctx: ToolContext, order_id: str, amount: float) -> dict[str, Any]:
        ...

pydantic validates the arguments (the JSON Schema the model sees is derived
from the same signature); a first parameter annotated `ToolContext` receives
the context. The config names such a function `package.module:function`
(`load_tool`). `function_tool` builds the same from an argument model and a
`handler(ctx, args_model)`, the form the built-in agents use.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from importlib import import_module
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..errors import ConfigError, ToolValidationError
from ..tiers import Tier
from .base import Args, Check, OutcomeCheck, Tool, ToolContext

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[ToolContext, M], Awaitable[object]]
ToolFunction = Callable[..., Awaitable[object]]  # an async function, typed (see above)
F = TypeVar("F", bound=ToolFunction)
TOOL_ATTR = "__orchestra_tool__"


def _checker(name: str, model: type[BaseModel]) -> Check:
    def check(raw: Mapping[str, object]) -> Args:
        try:
            parsed = model.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise ToolValidationError(f"{name}: {where}: {first['msg']}") from exc
        args: Args = parsed.model_dump(mode="json")
        return args

    return check


def function_tool(
    name: str,
    tier: Tier,
    description: str,
    args: type[M],
    handler: Handler[M],
    *,
    preview: Callable[[M], str] | None = None,
    outcome: OutcomeCheck | None = None,
    idempotent: bool = False,
) -> Tool:
    """A tool from an argument model and `handler(ctx, parsed_args)`."""
    return _model_tool(name, tier, description, args, handler, preview, outcome, idempotent)


def _model_tool(
    name: str,
    tier: Tier,
    description: str,
    args: type[M],
    handler: Handler[M],
    preview: Callable[[M], str] | None,
    outcome: OutcomeCheck | None,
    idempotent: bool,
) -> Tool:
    """The one way a Python tool is built: `args` validates the arguments (and is
    the schema), `handler(ctx, parsed)` runs it, `preview(parsed)` describes it."""

    async def invoke(ctx: ToolContext, raw: Args) -> object:
        return await handler(ctx, args.model_validate(raw))

    def describe(raw: Args) -> str:
        assert preview is not None
        return preview(args.model_validate(raw))

    return Tool(
        name,
        tier,
        description,
        args.model_json_schema(),
        invoke,
        _checker(name, args),
        idempotent=idempotent,
        outcome=outcome,
        preview=describe if preview is not None else None,
    )


def tool(
    *,
    tier: Tier | str,
    description: str = "",
    name: str = "",
    idempotent: bool = False,
    outcome: OutcomeCheck | None = None,
) -> Callable[[F], F]:
    """Mark an async function as a tool of `tier` (T1 runs at once; T2 and T3 are
    proposals). The function stays callable as it was."""

    def mark(fn: F) -> F:
        setattr(
            fn, TOOL_ATTR, from_function(fn, Tier(tier), description, name, idempotent, outcome)
        )
        return fn

    return mark


def from_function(
    fn: ToolFunction,
    tier: Tier,
    description: str = "",
    name: str = "",
    idempotent: bool = False,
    outcome: OutcomeCheck | None = None,
) -> Tool:
    """A tool from a typed async function (see the module docstring)."""
    if not inspect.iscoroutinefunction(fn):
        raise ConfigError(f"tool {fn.__qualname__} must be an async function")
    hints = get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())
    takes_ctx = bool(params) and hints.get(params[0].name) is ToolContext
    fields: dict[str, Any] = {}  # create_model's field definitions
    for p in params[1:] if takes_ctx else params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ConfigError(f"tool {fn.__qualname__}: *args/**kwargs have no schema")
        if p.name not in hints:
            raise ConfigError(f"tool {fn.__qualname__}: parameter {p.name!r} needs a type")
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints[p.name], default)
    tool_name = name or fn.__name__
    model = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
    summary = description or (inspect.getdoc(fn) or tool_name).strip().splitlines()[0]

    def call(ctx: ToolContext, parsed: BaseModel) -> Awaitable[object]:
        kwargs = dict(parsed)
        return fn(ctx, **kwargs) if takes_ctx else fn(**kwargs)

    return _model_tool(tool_name, tier, summary, model, call, None, outcome, idempotent)


def load_tool(path: str, tier: Tier | None = None, description: str = "") -> Tool:
    """`package.module:function` -> its Tool: a `@tool` function as declared (the
    config's `tier` and `description`, each when given, override the decorator's),
    or a plain async function with `tier` given."""
    module, _, attr = path.partition(":")
    try:
        fn = getattr(import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load tool {path!r}: {exc}") from exc
    declared: Tool | None = getattr(fn, TOOL_ATTR, None)
    if declared is None:
        if tier is None:
            raise ConfigError(f"{path!r} is not a @tool function: give it a tier")
        return from_function(fn, tier, description)
    return replace(
        declared,
        tier=declared.tier if tier is None else tier,
        description=description or declared.description,
    )
