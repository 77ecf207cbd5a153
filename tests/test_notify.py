"""Announcements that reach people: real repositories, the real CLI, real HTTP on loopback.

The receiver (``tests/notify_receiver.py``) accepts what Slack and Teams document; each test
drives ``agentops`` as a user would (record, incident ack/resolve, notify flush, serve) and
checks what arrived, how often, and what the repository and ``check`` say.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from notify_receiver import Receiver, check_slack, check_teams

from agentops.notify.render import slack, teams
from agentops.notify.templates import announcement

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notify"
ROUTES = """\
channels:
  incidents:
    kind: slack
    url: {env: SLACK_URL}
  stakeholders:
    kind: teams
    url: {env: TEAMS_URL}
routes:
  - name: p0-p1
    to: [incidents]
    severities: [P0, P1]
    transitions: [opened, acknowledged, resolved]
    mention: "@here"
notify:
  retry_initial: 1s
  retry_max: 2s
"""


def run(repo: Path, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "agentops", *args, "--repo", str(repo)],
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, (out.stdout, out.stderr)
    return out


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def receiver() -> Any:
    r = Receiver(secret="s3cret-hmac-key")
    yield r
    if r.server is not None:
        r.release.set()
        r.down()


def managed(tmp_path: Path, routes: str = ROUTES) -> Path:
    repo = tmp_path / "ops"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    run(repo, "init")
    (repo / "rules" / "notifications.yaml").write_text(routes)
    git(repo, "add", "rules")
    git(repo, "commit", "-q", "-m", "notifications")
    return repo


def env_for(receiver: Receiver) -> dict[str, str]:
    return {"SLACK_URL": f"{receiver.base}/slack/T0001/B0001/XXXXXXXX",
            "TEAMS_URL": f"{receiver.base}/teams/webhookb2/abc"}


def integrity(repo: Path, dataset: str = "orders", **env: str) -> str:
    out = run(repo, "record", "integrity", "-f", f"dataset={dataset}", "-f", "check=row-count",
              "-m", "rows missing after the migration", "--format", "json", env=env)
    return str(json.loads(out.stdout)["incidents"][0]["id"])


def flush(repo: Path, *args: str, env: dict[str, str]) -> dict[str, Any]:
    out = run(repo, "notify", "flush", "--format", "json", *args, env=env)
    return dict(json.loads(out.stdout))


def slack_text(message: dict[str, Any]) -> str:
    blocks = message["body"]["attachments"][0]["blocks"]
    parts = [message["body"]["text"]]
    for b in blocks:
        if "text" in b:
            parts.append(b["text"]["text"])
        parts += [f["text"] for f in b.get("fields", [])]
        parts += [e.get("text", "") for e in b.get("elements", []) if isinstance(e, dict)
                  and isinstance(e.get("text"), str)]
    return "\n".join(parts)


# --- what Slack and Teams accept ---------------------------------------------------------------


def test_the_documented_examples_pass_the_receiver_and_broken_ones_do_not() -> None:
    check_slack(json.loads((FIXTURES / "slack-incoming-webhook-blocks.json").read_text()))
    check_teams(json.loads((FIXTURES / "teams-incoming-webhook-adaptive-card.json").read_text()))
    from notify_receiver import Invalid

    for bad in ({}, {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]},
                {"text": "x", "attachments": [{"color": "red"}]}):
        with pytest.raises(Invalid):
            check_slack(bad)
    card = json.loads((FIXTURES / "teams-incoming-webhook-adaptive-card.json").read_text())
    card["attachments"][0]["content"]["actions"] = [{"type": "Action.Submit", "title": "x"}]
    with pytest.raises(Invalid):
        check_teams(card)


def test_a_very_long_incident_is_cut_to_the_slack_limits_not_refused() -> None:
    from agentops.ledger.model import Incident, template_sections

    inc = Incident(id="INC-2026-11-24-001", uid="U", title="t" * 400, severity="CRITICAL",
                   sections=template_sections("incident", Description="<&>" * 5000))
    body = announcement(inc, kind="ack", now=__import__("datetime").datetime(
        2026, 11, 24, tzinfo=__import__("datetime").UTC))
    check_slack(slack(body, mention="@channel", link="https://git.example.com/i#1"))
    check_teams(teams(body, mention=None, link="https://git.example.com/i#1"))


# --- policy ------------------------------------------------------------------------------------


def test_rules_validate_names_file_line_and_key_of_a_bad_channel_or_route(tmp_path: Path) -> None:
    repo = managed(tmp_path)
    (repo / "rules" / "notifications.yaml").write_text(
        "channels:\n  incidents:\n    kind: slack\n"
        "    url: https://hooks.slack.com/services/T000/B000/XXXX\n"
        "routes:\n  - name: p0\n    to: [incidents, pager]\n    transitions: [opened]\n"
        "  - name: p1\n    to: [incidents]\n    transitions: [opend]\n")
    out = run(repo, "rules", "validate", check=False)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "error: rules/notifications.yaml:4: channels.incidents.url: a webhook URL or key is a "
        "secret and must not be written in rules/ (which is in git): give {env: VARIABLE} or "
        "{file: /abs/path}",
        "rules/notifications.yaml:7: routes[0].to[1]: unknown channel 'pager'; allowed: "
        "incidents",
        "rules/notifications.yaml:11: routes[1].transitions[0]: unknown transition 'opend' (did "
        "you mean 'opened'?); allowed: acknowledged, followup_overdue, opened, postmortem_due, "
        "resolved, status_changed, update",
    ]
    assert "hooks.slack.com" not in out.stdout


def test_rules_test_asserts_the_notifications_of_an_event_sequence(tmp_path: Path) -> None:
    repo = managed(tmp_path, ROUTES.replace("transitions: [opened, acknowledged, resolved]",
                                            "transitions: [opened, update, resolved]\n"
                                            "    every: 30m"))
    case = tmp_path / "notify-test.yaml"
    case.write_text(
        "name: announcements\nstart: 2026-11-24T10:00:00Z\ntests:\n"
        "  - name: opened, updated every 30m, not for MEDIUM\n    steps:\n"
        "      - at: +0s\n"
        "        event: {type: integrity.concern, attributes: {dataset: a, check: b}}\n"
        "        expect: [open, troubleshooting]\n"
        "        notify: [{transition: opened, to: incidents, mention: '@here'}]\n"
        "      - at: +31m\n        notify: [{transition: update, to: incidents}]\n"
        "      - at: +45m\n        notify: []\n"
        "      - at: +61m\n        notify: [update]\n")
    assert "ok: 1 tests, 4 steps, 0 failed" in run(repo, "rules", "test", str(case)).stdout
    case.write_text(case.read_text().replace("+45m\n        notify: []",
                                             "+45m\n        notify: [update]"))
    out = run(repo, "rules", "test", str(case), check=False)
    assert out.returncode == 1 and "-  transition: update" in out.stdout.replace("- transition",
                                                                                "-  transition")


# --- the acceptance path -----------------------------------------------------------------------


def test_a_critical_incident_reaches_slack_once_with_the_acknowledgment_fields(
        tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path)
    env = env_for(receiver)
    inc = integrity(repo)  # record itself sends nothing: no env needed, nothing in its way
    assert git(repo, "show", "--stat", "--format=", "HEAD").count(".agentops/outbox/") == 1
    assert receiver.requests == []
    assert flush(repo, env=env)["sent"] == 1
    assert flush(repo, env=env)["sent"] == 0  # the same transition is never sent twice
    assert len(receiver.accepted) == 1
    text = slack_text(receiver.accepted[0])
    assert receiver.accepted[0]["body"]["text"].startswith(f"<!here> [INCIDENT OPENED] {inc}")
    for field in ("*Severity*\nCRITICAL", "*Status*\nInvestigating", "*Time*\n",
                  "*Impact*\nBeing assessed.", "*What we know*\nrows missing after the migration",
                  "*What we are doing*\n", "Next update in 15 minutes"):
        assert field in text
    assert receiver.accepted[0]["body"]["attachments"][0]["color"] == "#B00020"

    run(repo, "incident", "resolve", inc, "--root-cause", "a migration dropped rows",
        "--resolution", "restored from the backup")
    assert flush(repo, env=env)["sent"] == 1
    assert len(receiver.accepted) == 2
    resolved = slack_text(receiver.accepted[1])
    assert f"[INCIDENT RESOLVED] {inc}" in resolved and "*Status*\nResolved" in resolved
    assert "Resolution: restored from the backup" in resolved
    assert receiver.accepted[1]["body"]["attachments"][0]["color"] == "#2E7D32"
    assert Counter(receiver.keys()).most_common(1)[0][1] == 1


def test_a_medium_incident_or_a_recurrence_announces_nothing(tmp_path: Path,
                                                            receiver: Receiver) -> None:
    repo = managed(tmp_path)
    integrity(repo)
    integrity(repo)  # recurs on the open incident: not news
    run(repo, "record", "attempt", "-f", "agent=a", "-f", "task=t", "-f", "outcome=failed")
    assert flush(repo, env=env_for(receiver))["sent"] == 1
    assert len(receiver.accepted) == 1


def test_teams_gets_an_adaptive_card_and_a_signed_webhook_its_json(tmp_path: Path,
                                                                   receiver: Receiver) -> None:
    secret = tmp_path / "secrets" / "hmac"
    secret.parent.mkdir()
    secret.write_text("s3cret-hmac-key\n")
    repo = managed(tmp_path, ROUTES.replace("routes:", (
        "  audit:\n    kind: webhook\n    url: {env: HOOK_URL}\n"
        f"    secret: {{file: {secret}}}\nroutes:\n"
        "  - name: everyone\n    to: [stakeholders, audit]\n    transitions: [opened]")))
    inc = integrity(repo)
    env = {**env_for(receiver), "HOOK_URL": f"{receiver.base}/hook/agentops"}
    assert flush(repo, env=env)["sent"] == 3
    by_path = {a["path"].split("/")[1]: a for a in receiver.accepted}
    assert set(by_path) == {"slack", "teams", "hook"}
    card = by_path["teams"]["body"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"].startswith(
        f"[INCIDENT OPENED] {inc}")
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Severity"] == "CRITICAL" and facts["Status"] == "Investigating"
    hook = by_path["hook"]
    assert hook["body"]["transition"] == "opened" and hook["body"]["incident"]["id"] == inc
    assert hook["headers"]["Idempotency-Key"] == hook["body"]["key"]
    assert hook["headers"]["X-Agentops-Signature-256"].startswith("sha256=")


# --- failures: retries, 429, a receiver that is down, parking ----------------------------------


def test_a_500_is_retried_with_backoff_and_delivered_once(tmp_path: Path,
                                                         receiver: Receiver) -> None:
    repo = managed(tmp_path)
    receiver.script = [(500, {}), (503, {})]
    integrity(repo)
    first = flush(repo, env=env_for(receiver))
    assert (first["sent"], first["retried"], first["pending"]) == (0, 1, 1)
    assert "HTTP 500" in first["errors"][0]
    final = flush(repo, "--wait", "20s", env=env_for(receiver))
    assert final["sent"] == 1 and final["pending"] == 0
    assert len(receiver.requests) == 3 and len(receiver.accepted) == 1


def test_a_429_waits_for_retry_after(tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path)
    receiver.script = [(429, {"Retry-After": "10"})]  # long enough for a loaded machine
    integrity(repo)
    integrity(repo, dataset="payments")
    first = flush(repo, env=env_for(receiver))
    # the whole channel waits: the second message is not even tried during Retry-After
    assert (first["sent"], first["retried"], len(receiver.requests)) == (0, 1, 1)
    assert flush(repo, env=env_for(receiver))["sent"] == 0 and len(receiver.requests) == 1
    status = json.loads(run(repo, "notify", "status", "--format", "json").stdout)
    assert [m["attempts"] for m in status["messages"]] == [1, 0]
    final = flush(repo, "--wait", "20s", env=env_for(receiver))
    assert final["sent"] == 2 and len(receiver.accepted) == 2


def test_a_receiver_down_for_a_while_gets_each_message_once_when_back(
        tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path)
    env = env_for(receiver)
    receiver.down()
    incidents = [integrity(repo, dataset=f"d{n}") for n in range(3)]
    down = flush(repo, env=env)
    assert down["retried"] == 3 and "cannot reach the receiver" in down["errors"][0]
    assert flush(repo, "--wait", "2s", env=env)["sent"] == 0
    receiver.up()  # the same port
    assert flush(repo, "--wait", "20s", env=env)["sent"] == 3
    assert flush(repo, env=env)["sent"] == 0
    assert sorted(a["body"]["text"].split()[3] for a in receiver.accepted) == sorted(incidents)
    assert max(Counter(receiver.keys()).values()) == 1


def test_a_refused_message_is_parked_reported_by_check_and_can_be_retried(
        tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path)
    receiver.script = [(404, {})]  # Slack: no_service, a wrong URL
    inc = integrity(repo)
    assert flush(repo, env=env_for(receiver))["parked"] == 1
    out = run(repo, "check", check=False)
    assert out.returncode == 1
    assert f"{inc}: notification: opened message to channel incidents parked after 1 " \
           "attempts: HTTP 404: scripted failure" in out.stdout
    assert "XXXXXXXX" not in out.stdout + out.stderr  # the webhook URL is never shown
    assert json.loads(run(repo, "notify", "retry", "--format", "json").stdout) == {"requeued": 1}
    assert flush(repo, env=env_for(receiver))["sent"] == 1
    assert run(repo, "check", check=False).returncode == 0


def test_a_missing_secret_is_retried_then_parked_without_showing_anything_secret(
        tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path, ROUTES.replace("retry_max: 2s", "retry_max: 2s\n"
                                            "  give_up_after: 6s"))
    integrity(repo)
    first = flush(repo, env={})
    assert first["retried"] == 1
    assert "environment variable SLACK_URL is not set" in first["errors"][0]
    time.sleep(6.1)
    parked = flush(repo, env={})
    assert parked["parked"] == 1 and "not delivered within give_up_after" in parked["errors"][0]


def test_a_secret_file_inside_the_repository_is_refused(tmp_path: Path,
                                                        receiver: Receiver) -> None:
    repo = managed(tmp_path)
    (repo / "url.txt").write_text(env_for(receiver)["SLACK_URL"])
    text = (repo / "rules" / "notifications.yaml").read_text().replace(
        "url: {env: SLACK_URL}", f"url: {{file: {repo / 'url.txt'}}}")
    (repo / "rules" / "notifications.yaml").write_text(text)
    git(repo, "commit", "-qam", "file")
    integrity(repo)
    result = flush(repo, env={})
    assert "is inside the repository; keep secrets out of git" in result["errors"][0]
    assert receiver.requests == []


# --- crash safety ------------------------------------------------------------------------------


def test_kill_9_of_the_sender_mid_flush_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, receiver: Receiver) -> None:
    repo = managed(tmp_path)
    env = env_for(receiver)
    events = "".join(json.dumps({"type": "integrity.concern", "key": f"k{n}",
                                 "attributes": {"dataset": f"d{n}", "check": "rows"}}) + "\n"
                     for n in range(8))
    subprocess.run([sys.executable, "-m", "agentops", "ingest", "-", "--repo", str(repo)],
                   input=events, text=True, check=True, capture_output=True)
    receiver.hold_at = 4  # the sender is inside its 4th request when it dies
    sender = subprocess.Popen([sys.executable, "-m", "agentops", "notify", "flush", "--repo",
                               str(repo)], env={**os.environ, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert receiver.holding.wait(30)
    os.kill(sender.pid, signal.SIGKILL)
    sender.wait(10)
    receiver.release.set()
    deadline = time.monotonic() + 10
    while not receiver.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.accepted) == 3 and len(receiver.aborted) == 1
    final = flush(repo, "--wait", "20s", env=env)
    assert final["sent"] == 5 and final["pending"] == 0
    keys = Counter(receiver.keys())
    assert len(keys) == 8 and max(keys.values()) == 1
    assert receiver.aborted[0]["headers"]["Idempotency-Key"] in keys  # resent, same key


def test_the_outbox_is_committed_with_the_transition_and_a_retry_adds_nothing(
        tmp_path: Path) -> None:
    repo = managed(tmp_path)
    args = ("record", "integrity", "-f", "dataset=x", "-f", "check=y", "--key", "once")
    run(repo, *args)
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    # the message is in the commit that opened the incident (the journal is on its own ref)
    assert "INCIDENTS.md" in changed and any(p.startswith(".agentops/outbox/") for p in changed)
    before = git(repo, "rev-parse", "HEAD")
    run(repo, *args)  # a retried record: answered from the journal, no second message
    assert git(repo, "rev-parse", "HEAD") == before
    lines = [json.loads(x) for p in (repo / ".agentops" / "outbox").glob("*.jsonl")
             for x in p.read_text().splitlines()]
    assert [line["transition"] for line in lines] == ["opened"]


# --- announce and serve ------------------------------------------------------------------------


def test_announce_send_queues_the_template_once_per_state(tmp_path: Path,
                                                         receiver: Receiver) -> None:
    repo = managed(tmp_path, ROUTES.replace("[opened, acknowledged, resolved]",
                                            "[acknowledged, update, resolved]"))
    inc = integrity(repo)
    printed = run(repo, "incident", "announce", inc, "--kind", "update").stdout
    assert "What we are doing:" in printed and "Next update: in 15 minutes" in printed
    first = json.loads(run(repo, "incident", "announce", inc, "--kind", "update", "--send",
                           "--format", "json").stdout)
    assert first["queued"] and first["channels"] == ["incidents"]
    again = json.loads(run(repo, "incident", "announce", inc, "--kind", "update", "--send",
                           "--format", "json").stdout)
    assert not again["queued"] and again["key"] == first["key"]
    assert flush(repo, env=env_for(receiver))["sent"] == 1
    assert "[INCIDENT UPDATE]" in receiver.accepted[0]["body"]["text"]


def test_serve_sends_what_record_queued_and_reports_it_in_metrics(
        tmp_path: Path, receiver: Receiver) -> None:
    from server.srv_helpers import ServeProcess, wait_for

    repo = managed(tmp_path)
    serve = ServeProcess(repo, "--insecure-no-auth", env=env_for(receiver))
    try:
        integrity(repo)
        wait_for(lambda: len(receiver.accepted) == 1, timeout=30, what="the Slack message")
        wait_for(lambda: 'agentops_notifications{state="sent"} 1' in serve.client.get(
            "/metrics").body.decode(), timeout=10, what="the metrics")
    finally:
        assert serve.stop() == 0, serve.stderr
    assert len(receiver.accepted) == 1


def test_kill_9_of_record_leaves_one_outbox_line_per_committed_incident(tmp_path: Path) -> None:
    import random
    import re

    repo = managed(tmp_path)
    rng = random.Random(14)
    for i in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentops", "record", "integrity", "-f", f"dataset=d{i}",
             "-f", "check=rows", "--key", f"k{i}", "--repo", str(repo)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run(repo, "record", "attempt", "-f", "task=after", "-f", "outcome=failed")  # recovers
    assert git(repo, "status", "--porcelain") == ""
    committed = git(repo, "show", "HEAD:INCIDENTS.md")
    incidents = re.findall(r"^<!-- agentops:incident (INC-\S+) ", committed, re.MULTILINE)
    outbox = [json.loads(line) for name in git(repo, "ls-tree", "-r", "--name-only", "HEAD",
                                                 ".agentops/outbox").split()
              for line in git(repo, "show", f"HEAD:{name}").splitlines()]
    assert sorted(m["incident"] for m in outbox) == sorted(incidents)
    assert len({m["key"] for m in outbox}) == len(outbox)


# --- the pure parts: Retry-After, reminders that time makes due --------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from agentops.notify.deliver import classify, parse_retry_after

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert classify(429, "", "3") == ("retry", "HTTP 429", 3.0)
    assert classify(503, "busy", None).outcome == "retry"
    assert classify(400, "invalid_payload", None) == ("park", "HTTP 400: invalid_payload", None)


def _policy_with(routes: str) -> Any:
    from agentops.paths import default_rules
    from agentops.policy.loader import load_policy

    return load_policy([default_rules()], extra=[("routes.yaml", routes)])


def test_reminders_follow_the_cadence_slots_follow_ups_and_reviews() -> None:
    from datetime import UTC, datetime, timedelta

    from agentops.ledger.model import Incident, template_sections
    from agentops.notify.due import reminders

    policy = _policy_with(ROUTES.replace("[opened, acknowledged, resolved]",
                                         "[update, followup_overdue, postmortem_due]\n"
                                         "    every: 30m"))
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    inc = Incident(id="INC-2026-11-24-001", uid="U1", title="db down", severity="HIGH",
                   category="DATA_LOSS", detected=t0, sections=template_sections(
                       "incident", Follow_up_Actions="- [ ] add an alert - @ana - 2026-11-24"))

    def keys(at: timedelta, incident: Incident = inc) -> list[str]:
        return [m.key for m in reminders([incident], policy=policy,
                                         notifications=policy.notifications, now=t0 + at)]

    assert keys(timedelta(minutes=29)) == []
    assert keys(timedelta(minutes=31)) == ["U1/update/slot-1"]
    assert keys(timedelta(minutes=61)) == ["U1/update/slot-2"]
    assert "U1/followup_overdue/1" in keys(timedelta(hours=14, minutes=1))
    assert "U1/postmortem_due/1" in keys(timedelta(hours=48))
    resolved = inc._replace(status="Resolved", resolved=t0 + timedelta(minutes=40),
                            review_done=t0 + timedelta(hours=2))
    assert keys(timedelta(hours=3), resolved) == []  # no cadence once resolved, review done
    # three days on: only the current update slot; the follow-up and the review fell due more
    # than give_up_after (6h) ago and are not made late
    assert keys(timedelta(days=3)) == ["U1/update/slot-144"]
