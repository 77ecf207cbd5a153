"""The record of one lifecycle write in progress, shared by the lifecycle and post-incident
writes (:mod:`agentops.commands.incident`, :mod:`agentops.commands.postincident`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentops.events import format_time
from agentops.ledger import format as fmt
from agentops.ledger.incidents import impact_values
from agentops.ledger.model import Incident
from agentops.ledger.safety import escape_inline, redact
from agentops.pipeline import Context


@dataclass(frozen=True, slots=True)
class Change:
    """What one lifecycle write did: the JSON an agent gets back."""

    id: str
    action: str
    status: str
    commit: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        values = {k: format_time(v) if isinstance(v, datetime) else v
                  for k, v in self.fields.items()}
        return {"id": self.id, "action": self.action, "status": self.status,
                "fields": values, **self.extra, "commit": self.commit}


@dataclass(slots=True)
class Edit:
    """One write in progress: the entry text and what the commit should say about it."""

    ctx: Context
    inc: Incident
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def set(self, **fields: Any) -> None:
        self.text = fmt.update_fields(self.text, **fields)
        self.fields.update(fields)

    def row(self, when: datetime, text: str) -> None:
        self.text = fmt.append_timeline(self.text, when, redact(text, self.ctx.ledger.patterns))

    def prose(self, text: str) -> str:
        return redact(text, self.ctx.ledger.patterns)

    def impact(self, raw: Mapping[str, Any] | None, when: datetime) -> bool:
        """Set the impact fields given (None and "" mean not given), with one timeline row."""
        values = impact_values(raw or {}, where="impact",
                               clean=lambda t: escape_inline(self.prose(t)))
        changed = {k: v for k, v in values.items() if getattr(self.inc, k) != v}
        if changed:
            self.set(**changed)
            shown = ", ".join(f"{k.replace('_', ' ')} {', '.join(v) if isinstance(v, tuple) else v}"
                              for k, v in changed.items())
            self.row(when, f"Impact: {shown}")
        return bool(changed)
