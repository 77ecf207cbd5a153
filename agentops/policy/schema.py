"""The policy's schema: each section of ``rules/*.yaml`` checked and compiled into records.

Every builder raises :class:`~agentops.policy.yamldoc.RuleError` with the key path of the
problem; :func:`compile_sections` collects them all, so ``rules validate`` lists every problem
at once instead of the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agentops.durations import seconds
from agentops.errors import InvalidEventError
from agentops.events import TYPE_RE, Event, parse_time
from agentops.policy.cel import compile_cel
from agentops.policy.matchers import (
    MatchSpecError,
    check_path,
    compile_match,
    getter,
    split_match,
)
from agentops.policy.model import (
    WRITES,
    Aggregate,
    Correlation,
    Environment,
    Policy,
    Resolve,
    SeverityRule,
    Silence,
    Sla,
    Threshold,
    Trigger,
    compile_template,
    template_fields,
)
from agentops.policy.yamldoc import (
    RuleError,
    expect_mapping,
    expect_str,
    format_error,
    unknown_key,
)
from agentops.vocabulary import CATEGORIES, SEVERITIES, canonical_severity, severity_help

if TYPE_CHECKING:
    from agentops.policy.notifications import Notifications

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

NOTIFY_KEYS = ("channels", "routes", "notify")  # compiled by policy.notifications
TOP_KEYS = (
    "triggers", "silences", "maintenance_windows", "environments", "severities", "sla",
    "requirements", "categories", "correlation", "severity_aliases", "postmortem", "report",
    *NOTIFY_KEYS,
)

TRIGGER_KEYS = (
    "name", "description", "on", "match", "when", "threshold", "aggregate", "dedup", "resolve",
    "severity", "category", "title", "problem", "fingerprint", "lesson", "write", "review",
    "runbook", "outage",
)
POSTMORTEM_TEMPLATES = ("seeds", "google-sre")
REPORT_INTERNAL = ("actors", "events", "links")

REQUIREMENTS = (
    "documented_within_24h", "troubleshooting_for_new_problem", "memory_lessons",
    "followups_have_owner_and_due", "review_for_high_critical", "postmortem_for_high_critical",
)


def parse_duration(value: Any, path: str) -> timedelta:
    """A duration in the one grammar of :mod:`agentops.durations` (or a number of seconds)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    secs = seconds(value) if isinstance(value, str) else None
    if secs is None:
        raise RuleError(path, f"{value!r} is not a duration like 30m, 1h, 7d")
    return timedelta(seconds=secs)


def _documents(sla: Sla, item: Any, path: str, root: str) -> Sla:
    """``postmortem: {template}`` and ``report: {internal: [...]}``."""
    if root == "postmortem":
        spec = expect_mapping(item, path, ("template",))
        template = spec.get("template", sla.postmortem_template)
        if template not in POSTMORTEM_TEMPLATES:
            raise RuleError(f"{path}.template", f"{template!r} is not one of "
                            f"{', '.join(POSTMORTEM_TEMPLATES)}")
        return sla._replace(postmortem_template=template)
    spec = expect_mapping(item, path, ("internal",))
    internal = spec.get("internal", list(sla.report_internal))
    if not isinstance(internal, list) or any(i not in REPORT_INTERNAL for i in internal):
        raise RuleError(f"{path}.internal",
                        f"expected a list drawn from {', '.join(REPORT_INTERNAL)}")
    return sla._replace(report_internal=frozenset(internal))


def compile_sections(
    merged: dict[str, list[tuple[str, int, Any, str]]], errors: list[str],
    texts: dict[str, str], files: list[str],
) -> Policy:
    categories = list(CATEGORIES)
    for label, _, item, path in merged["categories"]:
        _guard(errors, label, texts, _calling(_extend_categories, categories, item, path))
    sla = Sla()
    for label, _, item, path in (merged["sla"] + merged["severities"] + merged["requirements"]
                                 + merged["postmortem"] + merged["report"]):
        def one(item: Any = item, path: str = path) -> None:
            nonlocal sla
            sla = _sla(sla, item, path)
        _guard(errors, label, texts, one)
    aliases: dict[str, str | None] = {}
    for label, _, item, path in merged["severity_aliases"]:
        _guard(errors, label, texts, _calling(_severity_aliases, aliases, item, path))
    triggers: list[Trigger] = []
    names: set[str] = set()
    for label, _, item, path in merged["triggers"]:
        def build(item: Any = item, path: str = path, label: str = label) -> None:
            trig = _trigger(item, path, label, texts[label], tuple(categories), aliases)
            if trig.name in names:
                raise RuleError(f"{path}.name", f"duplicate trigger name {trig.name!r}")
            names.add(trig.name)
            triggers.append(trig)
        _guard(errors, label, texts, build)
    silences: list[Silence] = []
    for kind, key in (("silence", "silences"), ("maintenance", "maintenance_windows")):
        for label, _, item, path in merged[key]:
            _guard(errors, label, texts, _adder(silences, _silence, item, path, kind, names))
    envs: list[Environment] = []
    for label, _, item, path in merged["environments"]:
        _guard(errors, label, texts, _extender(envs, _environments, item, path))
    correlation = Correlation()
    for label, _, item, path in merged["correlation"]:
        def corr(item: Any = item, path: str = path) -> None:
            nonlocal correlation
            correlation = _correlation(item, path)
        _guard(errors, label, texts, corr)
    uses_cel = any(t.when is not None for t in triggers)
    # A rule's own `outage:` wins over its category (sla.outage_categories) for its incidents.
    sla = sla._replace(outage_rules={t.name: t.outage for t in triggers if t.outage is not None})
    return Policy(
        triggers=tuple(triggers), silences=tuple(silences), environments=tuple(envs),
        categories=tuple(categories), sla=sla, files=tuple(files), uses_cel=uses_cel,
        correlation=correlation,
        notifications=_notifications(merged, errors, texts, categories, envs),
    )


def _correlation(item: Any, path: str) -> Correlation:
    """``correlation: {window: 30m, subject_keys: [subject.namespace, ...]}``."""
    spec = expect_mapping(item, path, ("window", "subject_keys"))
    window = (parse_duration(spec["window"], f"{path}.window") if "window" in spec
              else Correlation().window)
    keys = spec.get("subject_keys", list(Correlation().keys))
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise RuleError(f"{path}.subject_keys", "expected a non-empty list of event fields, e.g. "
                        "[subject.namespace, subject.kind, subject.name]")
    for i, key in enumerate(keys):
        try:
            check_path(key, f"{path}.subject_keys[{i}]")
        except MatchSpecError as err:
            raise RuleError(err.path, str(err)) from None
    required = tuple(k for k in keys if k in ("subject.kind", "subject.name")) or (keys[-1],)
    return Correlation(window=window, keys=tuple(keys), required=required)


def _notifications(merged: dict[str, list[tuple[str, int, Any, str]]], errors: list[str],
                   texts: dict[str, str], categories: list[str],
                   envs: list[Environment]) -> Notifications | None:
    """Channels and routes, compiled only when the policy has them (``record`` pays nothing)."""
    if not any(merged[k] for k in NOTIFY_KEYS):
        return None
    from agentops.policy.notifications import compile_notifications

    return compile_notifications(
        merged, lambda label, fn: _guard(errors, label, texts, fn), categories=categories,
        environments=[e.name for e in envs])


def _calling(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: fn(*args)


def _adder(out: list[Any], build: Callable[..., Any], *args: Any) -> Callable[[], None]:
    return lambda: out.append(build(*args))


def _extender(out: list[Any], build: Callable[..., Any], *args: Any) -> Callable[[], None]:
    return lambda: out.extend(build(*args))


def _guard(errors: list[str], label: str, texts: dict[str, str], fn: Callable[[], None]) -> None:
    try:
        fn()
    except RuleError as err:
        errors.append(format_error(label, texts[label], err))
    except MatchSpecError as err:
        errors.append(format_error(label, texts[label], RuleError(err.path, str(err))))


def _extend_categories(categories: list[str], item: Any, path: str) -> None:
    if not isinstance(item, str) or not re.match(r"^[A-Z][A-Z0-9_]*$", item):
        raise RuleError(path, f"{item!r} is not an UPPER_SNAKE category name")
    if item not in categories:
        categories.append(item)


def _types(value: Any, path: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise RuleError(path, "expected an event type or a list of event types")
    for i, t in enumerate(items):
        ok = isinstance(t, str) and (t == "*" or TYPE_RE.match(t) or (
            t.endswith(".*") and re.match(r"^[a-z][a-z0-9_-]*$", t[:-2])))
        if not ok:
            raise RuleError(f"{path}[{i}]",
                            f"{t!r} is not an event type like deployment.failed or k8s.*")
    return tuple(items)


def _paths(value: Any, path: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else (value or [])
    if not isinstance(items, list):
        raise RuleError(path, "expected a list of event paths")
    for i, p in enumerate(items):
        try:
            check_path(str(p), f"{path}[{i}]")
        except MatchSpecError as err:
            raise RuleError(err.path, str(err)) from None
    return tuple(str(p) for p in items)


def _grouper(paths: tuple[str, ...]) -> Callable[[Event], tuple[Any, ...]]:
    getters = [getter(p) for p in paths]
    if not getters:
        return lambda e: ()
    if len(getters) == 1:
        g = getters[0]
        return lambda e: (g(e),)
    if len(getters) == 2:
        g1, g2 = getters
        return lambda e: (g1(e), g2(e))
    return lambda e: tuple(g(e) for g in getters)


def _severity_name(value: Any, path: str) -> str:
    canonical = canonical_severity(value) if isinstance(value, str) else None
    if canonical is None:
        raise RuleError(path, f"{value!r} is not a severity: {severity_help()}")
    return canonical


def _severity_or_none(value: Any, path: str) -> str | None:
    """A severity, or ``none``/null: the word means "informational, open no incident"."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    return _severity_name(value, path)


def _severity(value: Any, path: str, aliases: Mapping[str, str | None]) -> SeverityRule:
    if not isinstance(value, Mapping):
        return SeverityRule(default=_severity_name(value, path))
    spec = expect_mapping(value, path, ("from", "map", "default"), ("from", "default"))
    source = _paths(spec["from"], f"{path}.from")[0]
    mapping = expect_mapping(spec.get("map", {}), f"{path}.map",
                             [str(k) for k in spec.get("map", {})])
    return SeverityRule(
        default=_severity_name(spec["default"], f"{path}.default"), source=getter(source),
        mapping={str(k).strip().lower(): _severity_or_none(v, f"{path}.map.{k}")
                 for k, v in mapping.items()},
        aliases=aliases,
    )


def _severity_aliases(out: dict[str, str | None], item: Any, path: str) -> None:
    """``severity_aliases: {sev2: HIGH, notice: none}``: words senders use, case-insensitive."""
    if not isinstance(item, Mapping):
        raise RuleError(path, "expected a mapping of a sender's severity word to "
                              f"{', '.join(SEVERITIES)} or none")
    for word, severity in item.items():
        out[str(word).strip().lower()] = _severity_or_none(severity, f"{path}.{word}")


def _templates(spec: Mapping[str, Any], path: str, key: str, default: str) -> str:
    text = spec.get(key, default)
    text = expect_str(text, f"{path}.{key}")
    for f in template_fields(text):
        try:
            check_path(f, f"{path}.{key}")
        except MatchSpecError as err:
            raise RuleError(err.path, str(err)) from None
    return text


def _trigger(item: Any, path: str, label: str, text: str, categories: tuple[str, ...],
             aliases: Mapping[str, str | None] | None = None) -> Trigger:
    spec = expect_mapping(item, path, TRIGGER_KEYS, ("name", "on", "severity", "category"))
    name = expect_str(spec["name"], f"{path}.name")
    if not _NAME_RE.match(name):
        raise RuleError(f"{path}.name", f"{name!r} must be lower-case letters, digits, - _ .")
    category = spec["category"]
    if category not in categories:
        import difflib

        close = difflib.get_close_matches(str(category), categories, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RuleError(f"{path}.category", f"{category!r} is not a category{hint}; "
                        f"expected one of {', '.join(categories)}")
    dedup = expect_mapping(spec.get("dedup", {}), f"{path}.dedup", ("key", "window"))
    default_key = name + "/{subject.namespace}/{subject.name}"
    dedup_src = _templates(dedup, f"{path}.dedup", "key", default_key)
    write = spec.get("write", ["incident", "troubleshooting"])
    if not isinstance(write, list) or any(w not in WRITES for w in write):
        raise RuleError(f"{path}.write", f"expected a list drawn from {', '.join(WRITES)}")
    review = spec.get("review")
    if review is not None and not isinstance(review, bool):
        raise RuleError(f"{path}.review", "expected true or false")
    outage = spec.get("outage")
    if outage is not None and not isinstance(outage, bool):
        raise RuleError(f"{path}.outage", "expected true or false")
    when_src = spec.get("when")
    when = None if when_src is None else compile_cel(
        expect_str(when_src, f"{path}.when"), f"{path}.when")
    tests, residual = split_match(spec.get("match"), f"{path}.match")
    if when is not None:
        residual = when if residual is None else _both(residual, when)
    lesson = spec.get("lesson")
    return Trigger(
        name=name, description=str(spec.get("description", "")),
        types=_types(spec["on"], f"{path}.on"),
        match=compile_match(spec.get("match"), f"{path}.match"), match_spec=spec.get("match"),
        when=when, when_source=when_src,
        threshold=_optional(spec, "threshold", path, _threshold),
        aggregate=_optional(spec, "aggregate", path, _aggregate),
        dedup_key=compile_template(dedup_src), dedup_key_source=dedup_src,
        dedup_window=parse_duration(dedup.get("window", "24h"), f"{path}.dedup.window"),
        resolve=_resolve(spec["resolve"], f"{path}.resolve") if "resolve" in spec else None,
        severity=_severity(spec["severity"], f"{path}.severity", aliases or {}),
        category=category,
        title=compile_template(_templates(spec, path, "title", spec.get("description") or name),
                               style="prose"),
        problem=(compile_template(_templates(spec, path, "problem", ""), style="plain")
                 if "problem" in spec else None),
        fingerprint=_fingerprint(spec.get("fingerprint"), f"{path}.fingerprint"),
        lesson=compile_template(_templates(spec, path, "lesson", ""), style="prose")
        if lesson else None,
        write=frozenset(write), review=review,
        runbook=str(spec["runbook"]) if spec.get("runbook") else None,
        file=label, path=path, tests=tuple(tests), residual=residual, outage=outage,
    )


def _fingerprint(value: Any, path: str) -> tuple[str, ...]:
    """``fingerprint: [type, attributes.alertname, message]``: the fields a problem is made of
    (``message`` is the message with its variable parts masked)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleError(path, "expected a non-empty list of event fields, e.g. "
                              "[type, attributes.reason, message]")
    for i, field in enumerate(value):
        if field not in ("message", "type"):
            try:
                check_path(field, f"{path}[{i}]")
            except MatchSpecError as err:
                raise RuleError(err.path, str(err)) from None
    return tuple(value)


def _optional(spec: Mapping[str, Any], key: str, path: str,
              build: Callable[[Any, str], Any]) -> Any:
    return build(spec[key], f"{path}.{key}") if key in spec else None


def _both(a: Callable[[Event], bool], b: Callable[[Event], bool]) -> Callable[[Event], bool]:
    return lambda e: a(e) and b(e)


def _threshold(value: Any, path: str) -> Threshold:
    spec = expect_mapping(value, path, ("count", "within", "group_by", "reset"),
                          ("count", "within"))
    count = spec["count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise RuleError(f"{path}.count", f"expected a positive integer, got {count!r}")
    group_by = _paths(spec.get("group_by", []), f"{path}.group_by")
    reset_types: tuple[str, ...] = ()
    reset_match = compile_match(None)
    if "reset" in spec:
        reset = expect_mapping(spec["reset"], f"{path}.reset", ("on", "match"), ("on",))
        reset_types = _types(reset["on"], f"{path}.reset.on")
        reset_match = compile_match(reset.get("match"), f"{path}.reset.match")
    return Threshold(
        times=count, within=parse_duration(spec["within"], f"{path}.within"), group_by=group_by,
        group=_grouper(group_by), reset_types=frozenset(reset_types), reset_match=reset_match,
    )


def _aggregate(value: Any, path: str) -> Aggregate:
    spec = expect_mapping(value, path, (
        "value", "function", "within", "group_by", "below", "above", "min_samples",
    ), ("value", "within"))
    function = spec.get("function", "mean")
    if function not in ("mean", "min", "max", "sum", "count"):
        raise RuleError(f"{path}.function",
                        f"{function!r} is not one of mean, min, max, sum, count")
    if "below" not in spec and "above" not in spec:
        raise RuleError(path, "needs a bound: below or above")
    bounds = {}
    for key in ("below", "above"):
        if key in spec and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool)):
            raise RuleError(f"{path}.{key}", f"expected a number, got {spec[key]!r}")
        bounds[key] = float(spec[key]) if key in spec else None
    value_path = _paths(spec["value"], f"{path}.value")[0]
    return Aggregate(
        value=getter(value_path), function=function,
        within=parse_duration(spec["within"], f"{path}.within"),
        group=_grouper(_paths(spec.get("group_by", []), f"{path}.group_by")),
        below=bounds["below"], above=bounds["above"],
        min_samples=int(spec.get("min_samples", 1)), spec=dict(spec),
    )


def _resolve(value: Any, path: str) -> Resolve:
    spec = expect_mapping(value, path, ("on", "match"), ("on",))
    return Resolve(
        types=frozenset(_types(spec["on"], f"{path}.on")),
        match=compile_match(spec.get("match"), f"{path}.match"), spec=spec.get("match"),
    )


def _silence(item: Any, path: str, kind: str, triggers: set[str]) -> Silence:
    end_key = "expires" if kind == "silence" else "ends"
    required = ("name", "match", end_key) + (("starts",) if kind == "maintenance" else ())
    spec = expect_mapping(item, path, ("name", "match", "on", "triggers", "starts", end_key,
                                       "comment", "created_by"), required)
    names = spec.get("triggers", [])
    if not isinstance(names, list):
        raise RuleError(f"{path}.triggers", "expected a list of trigger names")
    for i, n in enumerate(names):
        if n not in triggers:
            message = unknown_key(n, sorted(triggers)).replace("key", "trigger")
            raise RuleError(f"{path}.triggers[{i}]", message)
    return Silence(
        name=expect_str(spec["name"], f"{path}.name"), kind=kind,
        match=compile_match(spec["match"], f"{path}.match"),
        types=frozenset(_types(spec["on"], f"{path}.on")) if "on" in spec else frozenset(),
        triggers=frozenset(names),
        starts=_time(spec["starts"], f"{path}.starts") if "starts" in spec else None,
        expires=_time(spec[end_key], f"{path}.{end_key}"), comment=str(spec.get("comment", "")),
    )


def _time(value: Any, path: str) -> datetime:
    try:
        return parse_time(value, where=path)
    except InvalidEventError as exc:
        raise RuleError(path, str(exc).split(": ", 1)[-1]) from None


def _environments(item: Any, path: str) -> list[Environment]:
    if not isinstance(item, Mapping):
        raise RuleError(path, "expected a mapping of environment name to {aliases, namespaces}")
    out = []
    for name, spec in item.items():
        here = f"{path}.{name}"
        spec = expect_mapping(spec or {}, here, ("aliases", "namespaces"))
        aliases = spec.get("aliases", [])
        namespaces = spec.get("namespaces", [])
        if not isinstance(aliases, list) or not isinstance(namespaces, list):
            raise RuleError(here, "aliases and namespaces must be lists")
        test = compile_match({"subject.namespace": {"glob": namespaces}}) if namespaces else (
            lambda e: False)
        out.append(Environment(
            name=str(name), aliases=frozenset(str(a).lower() for a in [name, *aliases]),
            namespaces=test,
        ))
    return out


def _sla(sla: Sla, item: Any, path: str) -> Sla:
    root = path.split("[")[0]
    if root == "severities":
        spec = expect_mapping(item, path, SEVERITIES)
        mttr = dict(sla.mttr)
        for sev, conf in spec.items():
            conf = expect_mapping(conf, f"{path}.{sev}", ("alias", "mttr"))
            if "mttr" in conf:
                mttr[sev] = parse_duration(conf["mttr"], f"{path}.{sev}.mttr")
        return sla._replace(mttr=mttr)
    if root == "requirements":
        spec = expect_mapping(item, path, REQUIREMENTS)
        for key, flag in spec.items():
            if not isinstance(flag, bool):
                raise RuleError(f"{path}.{key}", "expected true or false")
        return sla._replace(requirements={**sla.requirements, **spec})
    if root in ("postmortem", "report"):
        return _documents(sla, item, path, root)
    spec = expect_mapping(item, path, (
        "document_within", "root_cause_within", "review_within", "review_severities",
        "availability_target", "outage_categories", "postmortem_within",
    ))
    changes: dict[str, Any] = {}
    if "outage_categories" in spec:
        value = spec["outage_categories"]
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise RuleError(f"{path}.outage_categories", "expected a list of categories")
        changes["outage_categories"] = frozenset(value)
    for key in ("document_within", "root_cause_within", "review_within", "postmortem_within"):
        if key in spec:
            changes[key] = parse_duration(spec[key], f"{path}.{key}")
    if "review_severities" in spec:
        changes["review_severities"] = frozenset(
            _severity_name(s, f"{path}.review_severities[{i}]")
            for i, s in enumerate(spec["review_severities"]))
    if "availability_target" in spec:
        target = spec["availability_target"]
        if not isinstance(target, (int, float)) or not 0 < target <= 1:
            raise RuleError(f"{path}.availability_target",
                            f"expected a ratio in (0, 1], got {target!r}")
        changes["availability_target"] = float(target)
    return sla._replace(**changes)

