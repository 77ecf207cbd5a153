"""CEL ``when:`` conditions, compiled at load; the CEL runtime is imported only when used."""

from __future__ import annotations

from collections.abc import Callable

from agentops.events import Event
from agentops.policy.yamldoc import RuleError


def compile_cel(src: str, path: str) -> Callable[[Event], bool]:
    """Compile a CEL condition; the CEL runtime is imported only when a rule uses ``when``."""
    try:
        from cel_expr_python import cel  # type: ignore[import-untyped]
    except ImportError:
        raise RuleError(
            path, "CEL conditions need the cel extra: pip install 'agentops[cel]'") from None
    env = cel.NewEnv(variables={"event": cel.Type.Map(cel.Type.STRING, cel.Type.DYN)})
    try:
        expr = env.compile(src)
    except RuntimeError as exc:
        detail = str(exc).replace("INVALID_ARGUMENT: ", "").split(" [INVALID_ARGUMENT]")[0]
        raise RuleError(path, f"invalid CEL expression: {detail}") from None
    if expr.return_type().name().lower() not in ("bool", "dyn"):
        raise RuleError(path, f"CEL expression must be a bool, it is {expr.return_type().name()}")

    def when(event: Event) -> bool:
        try:
            return bool(expr.eval(data={"event": event.to_dict()}).value() is True)
        except Exception:
            return False

    return when

