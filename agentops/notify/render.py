"""A message body laid out for its channel: Slack Block Kit, a Teams Adaptive Card, or JSON.

Slack: an incoming-webhook payload with a fallback ``text`` (what notifications and old clients
show, and what Slack requires next to blocks) and one attachment whose ``color`` is the
severity's colour bar, holding the blocks (header, title, the fields as a two-column section,
what we know, what we are doing, next update, a link button). Teams: a ``message`` whose one
attachment is an Adaptive Card (TextBlocks, a FactSet, an OpenUrl action). Webhook: the
incident snapshot and the transition as JSON, for any other receiver.

Limits from the Slack and Adaptive Card references are applied here (header 150 characters,
section text 3,000, field text 2,000), so a long description is cut, never refused.
"""

from __future__ import annotations

from typing import Any, Final

from agentops.events import parse_time
from agentops.ledger.incidents import format_when

COLOURS: Final = {"CRITICAL": "#B00020", "HIGH": "#E65100", "MEDIUM": "#F9A825",
                  "LOW": "#1565C0"}
RESOLVED_COLOUR: Final = "#2E7D32"
TEAMS_COLOURS: Final = {"CRITICAL": "Attention", "HIGH": "Attention", "MEDIUM": "Warning",
                        "LOW": "Accent"}
ADAPTIVE_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
_SLACK_MENTIONS: Final = {"@here": "<!here>", "@channel": "<!channel>",
                          "@everyone": "<!everyone>"}


def render(kind: str, body: dict[str, Any], *, key: str, transition: str,
           mention: str | None, link: str | None) -> dict[str, Any]:
    if kind == "slack":
        return slack(body, mention=mention, link=link)
    if kind == "teams":
        return teams(body, mention=mention, link=link)
    return webhook(body, key=key, transition=transition, link=link)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: str) -> str:
    """Slack's three control characters in mrkdwn and plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _next(body: dict[str, Any]) -> str:
    minutes = body.get("next_update_minutes")
    if body.get("next_update") is None:
        return "No further updates planned (resolved); the post-incident review follows."
    return f"Next update in {minutes} minutes ({_when(body['next_update'])})."


def _when(value: str) -> str:
    return format_when(parse_time(value))


def slack(body: dict[str, Any], *, mention: str | None, link: str | None) -> dict[str, Any]:
    heading = f"[{body['headline']}] {body['id']}"
    ping = _SLACK_MENTIONS.get(mention or "", _esc(mention or ""))
    fallback = " ".join(p for p in (ping, f"{heading} — {_esc(body['title'])}") if p)
    fields = [("Severity", body["severity"]), ("Status", body["status"]),
              ("Time", _when(body["time"])), ("Category", body.get("category") or "-"),
              ("Environment", body.get("environment") or "-")]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(heading, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"*{_esc(body['title'])}*", 3000)},
         "fields": [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{_esc(str(v))}", 2000)}
                    for k, v in fields]},
    ]
    for label, key in (("Impact", "impact"), ("What we know", "what_we_know"),
                       ("What we are doing", "what_we_are_doing")):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"*{label}*\n{_esc(str(body[key]))}", 3000)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _next(body)}]})
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open incident"},
            "url": link}]})
    colour = RESOLVED_COLOUR if body.get("status") == "Resolved" else COLOURS.get(
        body["severity"], "#616161")
    return {"text": fallback, "attachments": [{"color": colour, "fallback": fallback,
                                               "blocks": blocks}]}


def teams(body: dict[str, Any], *, mention: str | None, link: str | None) -> dict[str, Any]:
    colour = "Good" if body.get("status") == "Resolved" else TEAMS_COLOURS.get(
        body["severity"], "Default")
    card_body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"[{body['headline']}] {body['id']}", "weight": "Bolder",
         "size": "Medium", "color": colour, "wrap": True},
        {"type": "TextBlock", "text": body["title"], "wrap": True},
        {"type": "FactSet", "facts": [
            {"title": k, "value": str(v)} for k, v in (
                ("Severity", body["severity"]), ("Status", body["status"]),
                ("Time", _when(body["time"])), ("Category", body.get("category") or "-"),
                ("Environment", body.get("environment") or "-"))]},
    ]
    for label, key in (("Impact", "impact"), ("What we know", "what_we_know"),
                       ("What we are doing", "what_we_are_doing")):
        card_body.append({"type": "TextBlock", "text": f"**{label}**", "wrap": True,
                          "spacing": "Medium"})
        card_body.append({"type": "TextBlock", "text": str(body[key]), "wrap": True})
    card_body.append({"type": "TextBlock", "text": _next(body), "isSubtle": True, "wrap": True})
    if mention:
        card_body.insert(0, {"type": "TextBlock", "text": mention, "wrap": True})
    card: dict[str, Any] = {"$schema": ADAPTIVE_SCHEMA, "type": "AdaptiveCard",
                            "version": "1.4", "body": card_body}
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open incident", "url": link}]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


def webhook(body: dict[str, Any], *, key: str, transition: str,
            link: str | None) -> dict[str, Any]:
    return {"version": 1, "key": key, "transition": transition, "link": link,
            "incident": {k: v for k, v in body.items() if k != "text"}, "text": body["text"]}
