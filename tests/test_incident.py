"""``agentops incident ...`` on real repositories, run as an agent or a person runs it."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import run_cli

from agentops.ledger.schemas import INCIDENT_SCHEMA

T0 = "2026-11-20T09:15:00Z"
INC = "INC-2026-11-20-001"
INC2 = "INC-2026-11-20-002"
# Lines of INCIDENTS.md the tool may rewrite: the derived summary line, its own metadata keys,
# and a section placeholder it fills. Anything else a write removes is a bug.
TOOL_OWNED = re.compile(
    r"^(\*\*Severity:\*\* .*|(status|acknowledged|mitigated|resolved|review_scheduled|"
    r"review_done|troubleshooting|memory|root_cause_category): .*|_To be filled in\._|"
    r"- \[ \] .*)$")


def ok(repo: Path, *args: str) -> dict[str, Any]:
    """Run a write with --format json; assert it succeeded as exactly one new commit."""
    before = head(repo)
    out = run_cli([*args, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    assert git(repo, "rev-list", f"{before}..HEAD").split() == [data["commit"]]
    assert git(repo, "status", "--porcelain") == ""
    return data


def fails(repo: Path, *args: str) -> str:
    """Run a write that must be refused: exit 1, nothing written, HEAD unchanged."""
    before = head(repo)
    out = run_cli([*args], repo=repo)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert head(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    return out.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def lint_ok(repo: Path) -> None:
    out = run_cli(["lint"], repo=repo)
    assert out.returncode == 0, out.stdout + out.stderr


def entry(repo: Path, inc_id: str = INC) -> str:
    text = (repo / "INCIDENTS.md").read_text()
    start = text.index(f"<!-- agentops:incident {inc_id} ")
    end = text.index(f"<!-- /agentops:incident {inc_id} -->")
    return text[start:end]


def meta(repo: Path, inc_id: str = INC, name: str = "INCIDENTS.md") -> dict[str, str]:
    text = entry(repo, inc_id) if name == "INCIDENTS.md" else (repo / name).read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    return dict(line.split(": ", 1) for line in block.group(1).splitlines() if ": " in line)


def show(repo: Path, inc_id: str = INC) -> dict[str, Any]:
    out = run_cli(["incident", "show", inc_id, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def fail_deploy(repo: Path, service: str = "api", time: str = T0) -> str:
    out = run_cli(["record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", f"service={service}", "-f", "namespace=shop", "--time", time,
                   "-m", "Back-off pulling image", "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["incidents"][0]["id"]  # type: ignore[no-any-return]


def deny_approval(repo: Path, action: str, time: str = T0) -> str:
    out = run_cli(["record", "approval", "-f", "decision=denied", "-f", f"action={action}",
                   "-f", "approver=@alice", "--time", time, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["incidents"][0]["id"]  # type: ignore[no-any-return]


def removed_lines(repo: Path, rev: str) -> list[str]:
    diff = git(repo, "diff", "-U0", rev, "HEAD", "--", "INCIDENTS.md")
    return [line[1:] for line in diff.splitlines()
            if line.startswith("-") and not line.startswith("---")]


@pytest.fixture
def repo(git_repo: Path) -> Iterator[Path]:
    """An initialised repository; `agentops lint` must pass on it after every scenario."""
    out = run_cli(["init"], repo=git_repo)
    assert out.returncode == 0, out.stderr
    yield git_repo
    lint_ok(git_repo)


# --- the scripted incident -------------------------------------------------------------------


def test_scripted_incident_ends_with_exactly_the_backdated_times(repo: Path) -> None:
    assert fail_deploy(repo) == INC
    ack = ok(repo, "incident", "ack", INC, "--time", "2026-11-20T09:18:00Z", "--actor", "@alice")
    assert (ack["action"], ack["status"]) == ("ack", "Investigating")
    ok(repo, "incident", "update", INC, "--status", "Monitoring", "--time",
       "2026-11-20T09:24:00Z", "--note", "rolled back to revision 41")
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    m = meta(repo)
    assert (m["status"], m["detected"], m["acknowledged"], m["mitigated"], m["resolved"]) == (
        "Resolved", '"2026-11-20T09:15:00Z"', '"2026-11-20T09:18:00Z"',
        '"2026-11-20T09:24:00Z"', '"2026-11-20T09:40:00Z"')
    assert ("**Severity:** HIGH · **Status:** Resolved · **Category:** DEPLOYMENT_FAILURE · "
            "**Detected:** 2026-11-20 09:15 UTC · **Time to acknowledge:** 3m · "
            "**Time to mitigate:** 9m · **Time to resolve:** 25m · **Impact:** 9m\n") in entry(repo)
    rows = re.findall(r"^\| (2026\S+) \| (.*) \|$", entry(repo), re.M)
    assert rows[1:] == [
        ("2026-11-20T09:18:00Z", "Acknowledged by @alice"),
        ("2026-11-20T09:24:00Z", "Status Investigating -> Monitoring: rolled back to revision 41"),
        ("2026-11-20T09:40:00Z", "Resolved"),
    ]
    log = git(repo, "log", "-3", "--format=%s|%(trailers:key=Agentops-Incident,valueonly)")
    assert log.split("\n")[:6:2] == [f"agentops: resolve {INC}|{INC}",
                                     f"agentops: update {INC}|{INC}", f"agentops: ack {INC}|{INC}"]
    assert git(repo, "log", "-1", "--skip=2", "--format=%an").strip() == "alice"
    lint_ok(repo)


def test_show_json_matches_the_schema_and_md_is_the_entry(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "ack", INC, "--time", "2026-11-20T09:20:00Z")
    data = show(repo)
    markdown = data.pop("markdown")
    jsonschema.validate(data, INCIDENT_SCHEMA)
    assert (data["id"], data["acknowledged"], data["time_to_acknowledge"]) == (
        INC, "2026-11-20T09:20:00Z", 300.0)
    md = run_cli(["incident", "show", INC, "--format", "md"], repo=repo)
    assert md.stdout == markdown == entry(repo) + f"<!-- /agentops:incident {INC} -->\n"
    text = run_cli(["incident", "show", INC], repo=repo).stdout
    assert text.startswith(f"{INC} — Deployment of shop/api to production failed\n**Severity:**")
    assert "acknowledged:    2026-11-20T09:20:00Z" in text


# --- humans own the prose --------------------------------------------------------------------


def _human_edit(repo: Path) -> tuple[str, str]:
    text = (repo / "INCIDENTS.md").read_text()
    human_root_cause = ("The tag `4.2` was **never pushed**: CI skipped the push step.\n"
                        "- see https://ci.example/run/7\n")
    text = text.replace("#### Root Cause\n\n_To be filled in._\n",
                        f"#### Root Cause\n\n{human_root_cause}", 1)
    text = text.replace("severity: HIGH\n", "severity: HIGH\n# checked by @alice\n", 1)
    text = text.replace("#### Related Logs\n", "#### Customer Comms\n\nPosted on status page.\n\n"
                        "#### Related Logs\n", 1)
    (repo / "INCIDENTS.md").write_text(text)
    git(repo, "commit", "-qam", "human: root cause")
    return human_root_cause, text


def test_human_text_and_yaml_comments_survive_ack_update_resolve(repo: Path) -> None:
    fail_deploy(repo)
    human_root_cause, _ = _human_edit(repo)
    edited = head(repo)
    ok(repo, "incident", "ack", INC, "--time", "2026-11-20T09:18:00Z")
    ok(repo, "incident", "update", INC, "--status", "Identified", "--time", "2026-11-20T09:20:00Z")
    ok(repo, "incident", "update", INC, "--status", "Monitoring", "--time", "2026-11-20T09:24:00Z")
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z",
       "--root-cause", "Image tag missing from the registry.", "--resolution", "Rolled back.",
       "--lessons", "Check that an image tag exists before deploying it")
    after = entry(repo)
    assert "severity: HIGH\n# checked by @alice\ncategory: DEPLOYMENT_FAILURE\n" in after
    assert (f"#### Root Cause\n\n{human_root_cause}\nImage tag missing from the registry.\n\n"
            "#### Resolution\n\nRolled back.\n\n") in after
    assert "#### Customer Comms\n\nPosted on status page.\n\n#### Related Logs\n" in after
    assert [line for line in removed_lines(repo, edited) if not TOOL_OWNED.match(line)] == []
    lint_ok(repo)


def test_every_write_removes_only_tool_owned_lines(repo: Path) -> None:
    fail_deploy(repo)
    writes = [
        ["incident", "ack", INC, "--note", "on it"],
        ["incident", "followup", INC, "add", "Verify tags exist before merge", "--owner", "@alice",
         "--due", "2026-12-01"],
        ["incident", "followup", INC, "done", "1"],
        ["incident", "update", INC, "--status", "Monitoring"],
        ["incident", "resolve", INC, "--lessons", "Pin image digests"],
        ["incident", "review", INC, "schedule"],
        ["incident", "review", INC, "done"],
        ["incident", "update", INC, "--status", "Investigating", "--note", "came back"],
    ]
    for args in writes:
        before = head(repo)
        ok(repo, *args)
        assert [ln for ln in removed_lines(repo, before) if not TOOL_OWNED.match(ln)] == [], args
        lint_ok(repo)


# --- lessons and troubleshooting -------------------------------------------------------------


def test_the_same_lesson_from_a_second_incident_is_counted_not_copied(repo: Path) -> None:
    lesson = "Check that an image tag exists before deploying it"
    first, second = fail_deploy(repo, "api"), fail_deploy(repo, "web")
    one = ok(repo, "incident", "resolve", first, "--lessons", f"{lesson}\n\n- Pin digests\n")
    assert one["memory"] == [{"id": "MEM-0001", "action": "new"},
                             {"id": "MEM-0002", "action": "new"}]
    assert meta(repo, first)["memory"] == "[MEM-0001, MEM-0002]"
    assert (f"#### Lessons Learned\n\n- {lesson} ([MEM-0001](MEMORY.md#mem-0001))\n"
            "- Pin digests ([MEM-0002](MEMORY.md#mem-0002))\n") in entry(repo, first)
    two = ok(repo, "incident", "resolve", second, "--lessons", lesson)
    assert two["memory"] == [{"id": "MEM-0001", "action": "seen"}]
    memory = (repo / "MEMORY.md").read_text()
    assert memory.count("<!-- agentops:memory ") == 2
    mem1 = memory[memory.index("<!-- agentops:memory MEM-0001"):]
    assert "seen: 2\n" in mem1 and f"evidence: [{first}, {second}]\n" in mem1
    assert re.search(rf"\(seen 2×, validated [\d-]+\) {lesson}\n", memory)
    assert meta(repo, second)["memory"] == "[MEM-0001]"
    lint_ok(repo)


def test_resolving_a_new_problem_type_adds_a_troubleshooting_entry(repo: Path) -> None:
    first = deny_approval(repo, "drop-table")
    second = deny_approval(repo, "truncate-logs", "2026-11-20T11:00:00Z")
    assert meta(repo, first)["troubleshooting"] == "null"
    data = ok(repo, "incident", "resolve", first, "--root-cause", "Migration needed approval",
              "--resolution", "Asked for approval first")
    assert data["troubleshooting"] == {"id": "TS-0001", "action": "new",
                                       "filled": ["Diagnosis", "Fix"]}
    ts = meta(repo, name="TROUBLESHOOTING.md")
    assert (ts["problem"], ts["event_type"], ts["occurrences"], ts["incidents"]) == (
        "AUTOMATION_FAILURE/approval-denied", "approval.denied", "1", f"[{first}]")
    troubleshooting = (repo / "TROUBLESHOOTING.md").read_text()
    assert f"#### Diagnosis\n\nFrom {first}: Migration needed approval\n" in troubleshooting
    assert f"#### Fix\n\nFrom {first}: Asked for approval first\n" in troubleshooting
    assert meta(repo, first)["troubleshooting"] == "TS-0001"
    # opened before the problem type was documented: resolving it links it and counts it
    again = ok(repo, "incident", "resolve", second)
    assert again["troubleshooting"] == {"id": "TS-0001", "action": "linked"}
    assert meta(repo, second)["troubleshooting"] == "TS-0001"
    ts = meta(repo, name="TROUBLESHOOTING.md")
    assert (ts["occurrences"], ts["incidents"]) == ("2", f"[{first}, {second}]")
    # opened after: the pipeline links it on open, and resolving does not count it twice
    third = deny_approval(repo, "drop-db", "2026-11-20T12:00:00Z")
    assert ok(repo, "incident", "resolve", third)["troubleshooting"]["action"] == "known"
    assert meta(repo, name="TROUBLESHOOTING.md")["occurrences"] == "3"
    assert (repo / "TROUBLESHOOTING.md").read_text().count("<!-- agentops:troubleshooting ") == 1
    lint_ok(repo)


def test_a_problem_linked_when_opened_is_not_counted_again(repo: Path) -> None:
    fail_deploy(repo)
    assert meta(repo)["troubleshooting"] == "TS-0001"
    data = ok(repo, "incident", "resolve", INC)
    assert data["troubleshooting"] == {"id": "TS-0001", "action": "known"}
    assert meta(repo, name="TROUBLESHOOTING.md")["occurrences"] == "1"


# --- open incidents, reopen ------------------------------------------------------------------


def test_resolving_again_after_a_reopen_counts_nothing_twice(repo: Path) -> None:
    deny_approval(repo, "drop-table")
    lesson = "Do not retry a denied action without a new approval"
    first = ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z",
               "--lessons", lesson)
    [learned] = first["memory"]
    assert learned["action"] == "new"
    ok(repo, "incident", "update", INC, "--status", "Investigating", "--time",
       "2026-11-20T09:50:00Z")
    again = ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T10:00:00Z",
               "--lessons", lesson)
    assert again["memory"] == [{"id": learned["id"], "action": "linked"}]
    assert again["troubleshooting"] == {"id": "TS-0001", "action": "known"}
    memory = (repo / "MEMORY.md").read_text()
    mem = memory[memory.index(f"<!-- agentops:memory {learned['id']} "):]
    assert "seen: 1\n" in mem and f"evidence: [{INC}]\n" in mem
    assert meta(repo, name="TROUBLESHOOTING.md")["occurrences"] == "1"
    assert entry(repo).count(lesson) == 1
    assert meta(repo)["resolved"] == '"2026-11-20T10:00:00Z"'


def test_after_resolve_the_same_failure_opens_a_new_incident(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    assert fail_deploy(repo, time="2026-11-20T10:00:00Z") == INC2
    lint_ok(repo)


def test_reopen_clears_resolved_and_the_next_failure_recurs_on_it(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    data = ok(repo, "incident", "update", INC, "--status", "Investigating", "--time",
              "2026-11-20T09:50:00Z", "--note", "errors are back")
    assert data["fields"] == {"status": "Investigating", "resolved": None}
    m = meta(repo)
    assert (m["status"], m["resolved"]) == ("Investigating", "null")
    assert "| 2026-11-20T09:50:00Z | Reopened: errors are back |" in entry(repo)
    out = run_cli(["record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "-f", "namespace=shop", "--time", "2026-11-20T10:00:00Z",
                   "--format", "json"], repo=repo)
    assert json.loads(out.stdout)["incidents"] == [{"id": INC, "action": "recur"}]
    lint_ok(repo)


def test_reopen_survives_a_lost_cache(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    ok(repo, "incident", "update", INC, "--status", "Investigating", "--time",
       "2026-11-20T09:50:00Z")
    (repo / ".git" / "agentops" / "state.sqlite").unlink()
    assert fail_deploy(repo, time="2026-11-20T10:00:00Z") == INC


# --- refusals --------------------------------------------------------------------------------


def test_backward_transition_exits_1_and_writes_nothing(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "update", INC, "--status", "Monitoring", "--time", "2026-11-20T09:30:00Z")
    err = fails(repo, "incident", "update", INC, "--status", "Identified")
    assert "INC-2026-11-20-001: cannot go from Monitoring to Identified" in err
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    err = fails(repo, "incident", "update", INC, "--status", "Monitoring")
    assert "reopen with --status Investigating" in err
    assert "already resolved at 2026-11-20T09:40:00Z" in fails(repo, "incident", "resolve", INC)
    assert "--status: 'Done' is not one of Investigating" in fails(
        repo, "incident", "update", INC, "--status", "Done")
    lint_ok(repo)


def test_out_of_order_times_exit_1_naming_the_field_and_both_times(repo: Path) -> None:
    fail_deploy(repo)
    err = fails(repo, "incident", "ack", INC, "--time", "2026-11-20T09:10:00Z")
    assert ("error: INC-2026-11-20-001: acknowledged 2026-11-20T09:10:00Z would be before "
            "detected 2026-11-20T09:15:00Z") in err
    ok(repo, "incident", "ack", INC, "--time", "2026-11-20T09:20:00Z")
    err = fails(repo, "incident", "update", INC, "--status", "Monitoring", "--time",
                "2026-11-20T09:19:00Z")
    assert "mitigated 2026-11-20T09:19:00Z would be before acknowledged 2026-11-20T09:20:00Z" in err
    err = fails(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:16:00Z")
    assert "resolved 2026-11-20T09:16:00Z would be before acknowledged 2026-11-20T09:20:00Z" in err
    assert "--time" in fails(repo, "incident", "resolve", INC, "--time", "yesterday")
    assert "already acknowledged at 2026-11-20T09:20:00Z" in fails(repo, "incident", "ack", INC)
    assert meta(repo)["status"] == "Investigating"
    lint_ok(repo)


def test_unknown_incident_exits_1(repo: Path) -> None:
    fail_deploy(repo)
    for args in (["ack", "INC-2026-01-01-009"], ["show", "INC-2026-01-01-009"],
                 ["announce", "INC-2026-01-01-009", "--kind", "ack"],
                 ["followup", "INC-2026-01-01-009", "done", "1"]):
        err = fails(repo, "incident", *args)
        assert "INC-2026-01-01-009 not found" in err, args
    assert "not an incident id" in fails(repo, "incident", "ack", "TS-0001")


def test_same_status_needs_a_note_and_then_posts_an_update(repo: Path) -> None:
    fail_deploy(repo)
    assert "already Investigating" in fails(repo, "incident", "update", INC, "--status",
                                            "investigating")
    ok(repo, "incident", "update", INC, "--status", "Investigating", "--time",
       "2026-11-20T09:30:00Z", "--note", "checking the registry")
    assert "| 2026-11-20T09:30:00Z | Update (Investigating): checking the registry |" in entry(repo)


def test_update_to_monitoring_keeps_an_existing_mitigated_time(repo: Path) -> None:
    fail_deploy(repo)
    text = (repo / "INCIDENTS.md").read_text().replace("mitigated: null",
                                                       'mitigated: "2026-11-20T09:20:00Z"')
    (repo / "INCIDENTS.md").write_text(text)
    git(repo, "commit", "-qam", "human: mitigated")
    data = ok(repo, "incident", "update", INC, "--status", "Monitoring", "--time",
              "2026-11-20T09:30:00Z")
    assert data["fields"] == {"status": "Monitoring"}
    assert meta(repo)["mitigated"] == '"2026-11-20T09:20:00Z"'


def test_resolve_via_update_status_resolved(repo: Path) -> None:
    fail_deploy(repo)
    data = ok(repo, "incident", "update", INC, "--status", "resolved", "--time",
              "2026-11-20T09:40:00Z", "--note", "recovered")
    assert (data["action"], data["status"]) == ("resolve", "Resolved")
    assert "| 2026-11-20T09:40:00Z | Resolved: recovered |" in entry(repo)


# --- follow-ups and reviews ------------------------------------------------------------------


def test_followup_add_and_done_round_trip(repo: Path) -> None:
    fail_deploy(repo)
    one = ok(repo, "incident", "followup", INC, "add", "Verify tags exist before merge",
             "--owner", "@alice", "--due", "2026-12-01")
    assert one["followup"] == 1
    ok(repo, "incident", "followup", INC, "add", "Alert on ImagePullBackOff", "--owner",
       "platform-team", "--due", "2026-12-15")
    assert ("#### Follow-up Actions\n\n- [ ] Verify tags exist before merge - @alice - 2026-12-01\n"
            "- [ ] Alert on ImagePullBackOff - @platform-team - 2026-12-15\n") in entry(repo)
    ok(repo, "incident", "followup", INC, "done", "2")
    assert show(repo)["followups"] == [
        {"done": False, "text": "Verify tags exist before merge", "owner": "alice",
         "due": "2026-12-01"},
        {"done": True, "text": "Alert on ImagePullBackOff", "owner": "platform-team",
         "due": "2026-12-15"},
    ]
    assert "follow-up 2 is already done" in fails(repo, "incident", "followup", INC, "done", "2")
    assert "no follow-up number 3 (it has 2)" in fails(repo, "incident", "followup", INC,
                                                       "done", "3")
    assert "--due" in fails(repo, "incident", "followup", INC, "add", "x", "--owner", "@a",
                            "--due", "soon")
    rows = [r for r in show(repo)["timeline"] if r["text"].startswith("Follow-up")]
    assert [r["text"] for r in rows] == [
        "Follow-up 1 added: Verify tags exist before merge (@alice, due 2026-12-01)",
        "Follow-up 2 added: Alert on ImagePullBackOff (@platform-team, due 2026-12-15)",
        "Follow-up 2 done: Alert on ImagePullBackOff"]
    lint_ok(repo)


def test_review_schedule_and_done(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    ok(repo, "incident", "review", INC, "schedule", "--at", "2026-11-21T14:00:00Z")
    assert meta(repo)["review_scheduled"] == '"2026-11-21T14:00:00Z"'
    err = fails(repo, "incident", "review", INC, "done", "--time", "2026-11-20T09:30:00Z")
    assert "review_done 2026-11-20T09:30:00Z would be before resolved 2026-11-20T09:40:00Z" in err
    ok(repo, "incident", "review", INC, "done", "--time", "2026-11-21T15:00:00Z")
    m = meta(repo)
    assert (m["review_scheduled"], m["review_done"]) == ('"2026-11-21T14:00:00Z"',
                                                         '"2026-11-21T15:00:00Z"')
    assert "| 2026-11-21T15:00:00Z | Post-incident review done |" in entry(repo)
    assert "review already done" in fails(repo, "incident", "review", INC, "schedule")
    lint_ok(repo)


def test_review_schedule_defaults_to_the_sla_deadline_or_now(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")
    data = ok(repo, "incident", "review", INC, "schedule")
    # resolved + review_within (48h), unless that is already past: then now
    scheduled = data["fields"]["review_scheduled"]
    assert scheduled == "2026-11-22T09:40:00Z" or scheduled > "2026-11-22T09:40:00Z"


# --- list and announce -----------------------------------------------------------------------


def test_list_filters_by_status_severity_and_since(repo: Path) -> None:
    fail_deploy(repo)
    deny_approval(repo, "drop-table", "2026-11-21T08:00:00Z")
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z")

    def ids(*args: str) -> list[str]:
        out = run_cli(["incident", "list", *args, "--format", "json"], repo=repo)
        assert out.returncode == 0, out.stderr
        return [i["id"] for i in json.loads(out.stdout)["incidents"]]

    assert ids() == ["INC-2026-11-21-001", INC]
    assert ids("--status", "open") == ["INC-2026-11-21-001"]
    assert ids("--status", "resolved") == [INC]
    assert ids("--severity", "P1") == [INC]
    assert ids("--since", "2026-11-21") == ["INC-2026-11-21-001"]
    text = run_cli(["incident", "list", "--status", "Resolved"], repo=repo).stdout
    assert text == (f"{INC}  HIGH      Resolved       2026-11-20 09:15 UTC  "
                    "Deployment of shop/api to production failed\n")
    assert run_cli(["incident", "list", "--severity", "LOW"], repo=repo).stdout == "no incidents\n"


def test_announce_prints_the_template_and_writes_nothing(repo: Path) -> None:
    fail_deploy(repo)
    ok(repo, "incident", "ack", INC, "--time", "2026-11-20T09:18:00Z")
    out = run_cli(["incident", "announce", INC, "--kind", "ack"], repo=repo)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        f"[INCIDENT ACKNOWLEDGED] {INC} — Deployment of shop/api to production failed\n"
        "Time: 2026-11-20 09:18 UTC\nSeverity: HIGH\nStatus: Investigating\n"
        "Impact: Being assessed.\n"
        "What we know: Back-off pulling image\n\nReported via cli as `deployment.failed`.\n"
        "What we are doing: Acknowledged\n"
        "Next update: in 30 minutes (2026-11-20 09:48 UTC)\n")
    ok(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z",
       "--root-cause", "Tag never pushed", "--resolution", "Rolled back")
    before = head(repo)
    data = json.loads(run_cli(["incident", "announce", INC, "--kind", "resolved",
                               "--format", "json"], repo=repo).stdout)
    assert {k: data[k] for k in ("kind", "time", "status", "what_we_know", "next_update")} == {
        "kind": "resolved", "time": "2026-11-20T09:40:00Z", "status": "Resolved",
        "what_we_know": "Tag never pushed\n\nResolution: Rolled back", "next_update": None}
    update = json.loads(run_cli(["incident", "announce", INC, "--kind", "update",
                                 "--format", "json"], repo=repo).stdout)
    assert update["next_update"] is not None and update["severity"] == "HIGH"
    assert git(repo, "status", "--porcelain") == "" and head(repo) == before


# --- impact fields ------------------------------------------------------------------------------


def test_record_fields_set_the_impact_of_the_incident_they_open(repo: Path) -> None:
    out = run_cli(["record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "-f", "namespace=shop", "--time", T0,
                   "-f", "affected_services=api, checkout", "-f", "affected_users=120",
                   "-f", "user_impact=Checkout returned 503", "-f", "detection_method=alert"],
                  repo=repo)
    assert out.returncode == 0, out.stderr
    fields = meta(repo)
    assert fields["affected_services"] == "[api, checkout]"
    assert (fields["affected_users"], fields["detection_method"]) == ("120", "alert")
    data = show(repo)
    assert data["user_impact"] == "Checkout returned 503"
    jsonschema.validate({k: v for k, v in data.items() if k != "markdown"}, INCIDENT_SCHEMA)
    lint_ok(repo)


def test_a_bad_impact_field_is_refused_before_anything_is_recorded(repo: Path) -> None:
    stderr = fails(repo, "record", "deployment", "-f", "status=failed", "-e", "production",
                   "-f", "service=api", "-f", "affected_users=many")
    assert "--field.affected_users: expected a whole number >= 0, got 'many'" in stderr


def test_lifecycle_commands_set_impact_fields_with_a_timeline_row(repo: Path) -> None:
    inc = deny_approval(repo, "migrate")
    before = head(repo)
    ok(repo, "incident", "ack", inc, "--time", "2026-11-20T09:20:00Z", "--scope", "eu-west")
    # the same status with only impact options is an update of its own
    ok(repo, "incident", "update", inc, "--status", "Investigating", "--time",
       "2026-11-20T09:25:00Z", "--downtime-minutes", "0", "--affected-services", "migrator")
    data = show(repo, inc)
    assert (data["scope"], data["downtime_minutes"], data["affected_services"]) == (
        "eu-west", 0, ["migrator"])
    rows = [r["text"] for r in data["timeline"]]
    assert "Impact: affected services migrator, downtime minutes 0" in rows
    assert removed_lines(repo, before) == [
        line for line in removed_lines(repo, before) if TOOL_OWNED.match(line)]
    # nothing changes: refused as before
    fails(repo, "incident", "update", inc, "--status", "Investigating", "--scope", "eu-west")
    fails(repo, "incident", "update", inc, "--status", "Investigating",
          "--affected-users", "lots")
    lint_ok(repo)
