"""Why an event opened nothing: per trigger that listened, the reason it did not open.

An agent that records a failure and sees "no incident" needs to know whether that is the
policy working (one failure of three, staging is not production, a silence) or a gap (no
trigger listens to that event type). The engine's decisions already carry the reasons of
thresholds, aggregates, silences and dedup; the match blocks that rejected the event are
explained here, only after ``decide`` and only for events that opened nothing, so the fast path
never pays for explanations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from agentops.events import Event, format_time
from agentops.policy import matchers
from agentops.policy.engine import IGNORED, OPEN, RECUR, RESOLVE, SUPPRESSED, Decision
from agentops.policy.model import Policy

NOT_MATCHED, HELD, SILENCED, DEDUPLICATED, NO_TRIGGER, NOTHING_TO_RESOLVE = (
    "not matched", "held", "suppressed", "deduplicated", "no trigger", "nothing to resolve")


class WhyNot(NamedTuple):
    """One trigger that listened to the event, and why it did not open an incident."""

    trigger: str | None
    result: str  # not matched | held (threshold, aggregate) | suppressed | deduplicated
    reason: str
    incident: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self._asdict().items() if v is not None}

    def text(self) -> str:
        return f"{self.trigger}: {self.reason}" if self.trigger else self.reason


def why_nothing_opened(policy: Policy, event: Event, decisions: Sequence[Decision], *,
                       incidents: dict[str, str] | None = None) -> tuple[WhyNot, ...]:
    """For an event whose decisions open nothing, the reason of each trigger that listened.

    ``incidents`` maps dedup keys to the incident ids a recurrence was counted on.
    """
    if any(d.action in (OPEN, RESOLVE) for d in decisions):
        return ()
    triggers = policy.triggers_for(event.type)
    recoveries = [WhyNot(t.name, NOTHING_TO_RESOLVE, f"a recovery event for it, but no incident "
                                                    f"is open with dedup key {t.dedup_key(event)}")
                  for t in policy.resolvers_for(event.type)
                  if t.resolve is not None and t.resolve.match(event)]
    if not triggers:
        return tuple(recoveries) or (
            WhyNot(None, NO_TRIGGER, f"no trigger listens to {event.type} events"),)
    decided = {d.rule: d for d in decisions if d.rule}
    out = recoveries
    for trig in triggers:
        d = decided.get(trig.name)
        if d is None:
            reason = matchers.explain(trig.match_spec, event)
            if reason is None and trig.when is not None and not trig.when(event):
                reason = f"when: {trig.when_source} is false"
            out.append(WhyNot(trig.name, NOT_MATCHED, reason or "its conditions do not match"))
        elif d.action == IGNORED:
            out.append(WhyNot(trig.name, HELD, d.reason))
        elif d.action == SUPPRESSED:
            out.append(WhyNot(trig.name, SILENCED, _silence_text(policy, d)))
        elif d.action == RECUR:
            inc = d.incident or (incidents or {}).get(d.dedup_key or "")
            why = d.reason if d.correlated else "same dedup key, still open"
            out.append(WhyNot(trig.name, DEDUPLICATED,
                              f"deduplicated into {inc or d.dedup_key} ({why})", inc))
    return tuple(out)


def _silence_text(policy: Policy, d: Decision) -> str:
    silence = next((s for s in policy.silences if s.name == d.silence), None)
    if silence is None:
        return f"silenced by {d.silence}"
    what = "in maintenance window" if silence.kind == "maintenance" else "silenced by"
    return f"{what} {silence.name} until {format_time(silence.expires)}"
