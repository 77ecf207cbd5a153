"""CEL ``when:`` conditions, compiled at load; the CEL runtime is imported only when used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

    return CelCondition(expr, src)


class CelCondition:
    """A compiled ``when:``; a runtime error (``event.attributes.x`` missing, a type mismatch)
    counts as "no match" but is counted and kept, for ``rules explain`` and the warning that
    ``record`` prints, never silently false."""

    __slots__ = ("errors", "expr", "last_error", "source")

    def __init__(self, expr: Any, source: str) -> None:
        self.expr, self.source = expr, source
        self.errors = 0
        self.last_error: str | None = None

    def __call__(self, event: Event) -> bool:
        return self.evaluate(event)[0]

    def evaluate(self, event: Event) -> tuple[bool, str | None]:
        """(matched, the runtime error if there was one)."""
        try:
            value = self.expr.eval(data={"event": event.to_dict()})
            kind, result = str(value.type()).rsplit(".", 1)[-1].upper(), value.value()
        except Exception as exc:  # the runtime itself failed
            return self._failed(f"{type(exc).__name__}: {exc}")
        if kind == "ERROR":  # a missing key, a division by zero: CEL returns an error value
            return self._failed(str(result).splitlines()[0][:300])
        if isinstance(result, bool):
            return result, None
        return self._failed(f"the condition gave {kind.lower()} {result!r}, not true or false")

    def _failed(self, reason: str) -> tuple[bool, str]:
        self.errors += 1
        self.last_error = reason
        return False, reason

