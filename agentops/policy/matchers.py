"""Compile ``match`` blocks into closures, once, at policy load.

A match block maps dotted event paths to conditions and is composable with ``all``, ``any``
and ``not``. The hot path calls the compiled closure; ``explain`` walks the same block again to
say which condition rejected an event, so the fast path never pays for explanations.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from agentops.events import SUBJECT_FIELDS, TOP_FIELDS, Event, lookup

Predicate = Callable[[Event], bool]
Getter = Callable[[Event], Any]

OPERATORS = (
    "eq", "ne", "in", "not_in", "glob", "regex", "exists", "lt", "lte", "gt", "gte", "contains",
)
COMBINATORS = ("all", "any", "not")
PATH_ROOTS = tuple(f for f in TOP_FIELDS if f not in ("subject", "attributes")) + ("id",)


class MatchSpecError(ValueError):
    """A malformed match block; ``path`` is the key path inside the block."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def check_path(path: str, where: str) -> None:
    """Refuse paths that can never resolve, with a hint."""
    head, _, rest = path.partition(".")
    if head == "subject" and rest in SUBJECT_FIELDS:
        return
    if head == "attributes" and rest:
        return
    if head in PATH_ROOTS and not rest:
        return
    hints = [*PATH_ROOTS, *(f"subject.{f}" for f in SUBJECT_FIELDS), "attributes.<name>"]
    raise MatchSpecError(
        where, f"unknown event path {path!r} (expected one of: {', '.join(hints)})")


def getter(path: str) -> Getter:
    """A fast accessor for one dotted path."""
    head, _, rest = path.partition(".")
    if head == "subject" and rest in SUBJECT_FIELDS:
        return attrgetter(path)  # C-level, no Python frame per access
    if head == "attributes" and rest and "." not in rest:
        return lambda e: e.attributes.get(rest)
    if head in ("type", "source", "environment", "actor", "message", "key", "id") and not rest:
        return attrgetter(head)
    return lambda e: lookup(e, path)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equals(expected: Any) -> Callable[[Any], bool]:
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected or _scalar_text(v) == _scalar_text(expected)
    if isinstance(expected, (int, float)):
        target = float(expected)
        return lambda v: _number(v) == target
    text = str(expected)
    return lambda v: v == text or (v is not None and type(v) is not str and _scalar_text(v) == text)


def _operator(op: str, arg: Any, where: str) -> Callable[[Any], bool]:
    if op == "eq":
        return _equals(arg)
    if op == "ne":
        eq = _equals(arg)
        return lambda v: not eq(v)
    if op in ("in", "not_in"):
        if not isinstance(arg, list):
            raise MatchSpecError(where, f"{op} expects a list, got {type(arg).__name__}")
        tests = [_equals(a) for a in arg]
        texts = {_scalar_text(a) for a in arg}
        hit: Callable[[Any], bool] = (
            (lambda v: (v in texts) if type(v) is str else (_scalar_text(v) in texts))
            if all(isinstance(a, str) for a in arg) else (lambda v: any(t(v) for t in tests))
        )
        return hit if op == "in" else (lambda v: not hit(v))
    if op == "glob":
        patterns = arg if isinstance(arg, list) else [arg]
        rx = re.compile("|".join(f"(?:{fnmatch.translate(str(p))})" for p in patterns))
        return lambda v: v is not None and rx.match(_scalar_text(v) or "") is not None
    if op == "regex":
        rx = compile_regex(str(arg), where)
        return lambda v: v is not None and rx.search(_scalar_text(v) or "") is not None
    if op == "exists":
        if not isinstance(arg, bool):
            raise MatchSpecError(where, "exists expects true or false")
        return (lambda v: v is not None) if arg else (lambda v: v is None)
    if op == "contains":
        needle = str(arg)
        return lambda v: (needle in v) if isinstance(v, (str, list)) else False
    return _comparison(op, arg, where)


def compile_regex(pattern: str, where: str) -> Any:
    """A rule's regex, compiled by RE2: matching takes time linear in the text, so no pattern
    (``^(a+)+$`` on a long message) can hold the repository lock for minutes. RE2 lacks
    backreferences and lookaround; such a pattern is refused at load, with that reason."""
    try:
        import re2  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a declared dependency
        raise MatchSpecError(where, "regex conditions need google-re2: pip install google-re2"
                             ) from None
    options = re2.Options()
    options.log_errors = False  # the reason goes into our message, not onto stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise MatchSpecError(where, f"invalid regex {pattern!r}: {detail} (rules use RE2, a "
                             "linear-time engine: no backreferences or lookaround)") from None


def _comparison(op: str, arg: Any, where: str) -> Callable[[Any], bool]:
    bound = _number(arg)
    if bound is None or isinstance(arg, bool):
        raise MatchSpecError(where, f"{op} expects a number, got {arg!r}")
    if op == "lt":
        return lambda v: (n := _number(v)) is not None and n < bound
    if op == "lte":
        return lambda v: (n := _number(v)) is not None and n <= bound
    if op == "gt":
        return lambda v: (n := _number(v)) is not None and n > bound
    if op == "gte":
        return lambda v: (n := _number(v)) is not None and n >= bound
    raise MatchSpecError(where, f"unknown operator {op!r}")


def value_test(spec: Any, where: str) -> Callable[[Any], bool]:
    """The test one path's value must pass: a scalar (equality) or a mapping of operators."""
    if not isinstance(spec, Mapping):
        return _equals(spec)
    tests = []
    for op, arg in spec.items():
        if op not in OPERATORS:
            raise MatchSpecError(f"{where}.{op}", f"unknown operator {op!r}")
        tests.append(_operator(op, arg, f"{where}.{op}"))
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def _condition(path: str, spec: Any, where: str) -> Predicate:
    get = getter(path)
    test = value_test(spec, where)
    return lambda e: test(get(e))


def split_match(
    block: Any, where: str = "match"
) -> tuple[list[tuple[str, Callable[[Any], bool]]], Predicate | None]:
    """Split a block into per-path value tests (indexable) and a residual predicate.

    Top-level path conditions are ANDed and depend on one value each, so the engine can
    memoise them per value; ``all``/``any``/``not`` stay a residual closure.
    """
    if block is None:
        return [], None
    if not isinstance(block, Mapping):
        return [], compile_match(block, where)
    tests: list[tuple[str, Callable[[Any], bool]]] = []
    rest: dict[str, Any] = {}
    for key, spec in block.items():
        if key in COMBINATORS:
            rest[key] = spec
            continue
        check_path(str(key), f"{where}.{key}")
        tests.append((str(key), value_test(spec, f"{where}.{key}")))
    return tests, (compile_match(rest, where) if rest else None)


def compile_match(block: Any, where: str = "match") -> Predicate:
    """Compile a match block into one predicate. Raises MatchSpecError naming the key path."""
    if block is None:
        return lambda e: True
    if isinstance(block, list):
        return _all([compile_match(b, f"{where}[{i}]") for i, b in enumerate(block)])
    if not isinstance(block, Mapping):
        raise MatchSpecError(
            where, f"expected a mapping of event paths to conditions, got {block!r}")
    parts: list[Predicate] = []
    for key, spec in block.items():
        here = f"{where}.{key}"
        if key == "not":
            inner = compile_match(spec, here)
            parts.append(_negate(inner))
        elif key in ("all", "any"):
            if not isinstance(spec, list):
                raise MatchSpecError(here, f"{key} expects a list of match blocks")
            subs = [compile_match(s, f"{here}[{i}]") for i, s in enumerate(spec)]
            parts.append(_all(subs) if key == "all" else _any(subs))
        else:
            check_path(str(key), here)
            parts.append(_condition(str(key), spec, here))
    return _all(parts)


def _negate(inner: Predicate) -> Predicate:
    return lambda e: not inner(e)


def _all(parts: list[Predicate]) -> Predicate:
    if not parts:
        return lambda e: True
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return lambda e: a(e) and b(e)
    return lambda e: all(p(e) for p in parts)


def _any(parts: list[Predicate]) -> Predicate:
    return lambda e: any(p(e) for p in parts)


def explain(block: Any, event: Event) -> str | None:
    """The first condition of ``block`` that rejects ``event``, or None if it matches."""
    if block is None:
        return None
    if isinstance(block, list):
        return next((r for b in block if (r := explain(b, event))), None)
    for key, spec in block.items():
        reason = _explain_key(key, spec, event)
        if reason:
            return reason
    return None


def _explain_key(key: str, spec: Any, event: Event) -> str | None:
    if key == "not":
        return None if explain(spec, event) else f"not {_show(spec)} (it matched)"
    if key == "all":
        return next((r for s in spec if (r := explain(s, event))), None)
    if key == "any":
        reasons = [explain(s, event) for s in spec]
        return None if any(r is None for r in reasons) else "none of: " + "; ".join(
            str(r) for r in reasons
        )
    if compile_match({key: spec})(event):
        return None
    value = getter(key)(event)
    if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
        return f"{key} {_value(value)} is not {spec}"  # environment staging is not production
    if isinstance(spec, Mapping) and set(spec) == {"in"} and isinstance(spec["in"], list):
        return f"{key} {_value(value)} is not one of {', '.join(map(str, spec['in']))}"
    return f"{key} is {value!r}, wanted {_show(spec)}"


def _value(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def _show(spec: Any) -> str:
    if isinstance(spec, Mapping):
        return ", ".join(f"{k} {v!r}" for k, v in spec.items())
    return f"== {spec!r}"
