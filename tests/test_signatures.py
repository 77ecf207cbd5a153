"""Problem signatures: one TROUBLESHOOTING entry per problem, titled as the problem."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from report_helpers import agentops_json, init

from agentops.events import Event, event_from_dict
from agentops.ledger import format as fmt
from agentops.ledger.model import TroubleshootingEntry
from agentops.policy.signature import mask, signature

# containerd's message for a registry that refuses the pull credentials (kubelet event "Failed")
PULL_401 = ('Failed to pull image "{image}": rpc error: code = Unknown desc = failed to pull and '
            'unpack image "{image}": failed to resolve reference "{image}": unexpected status '
            'from HEAD request to https://{host}/v2/{repo}/manifests/{tag}: 401 Unauthorized: '
            'authentication required')
OOM = "Container {name} was OOMKilled (exit code 137), memory limit 512Mi"


def agentops(repo: Path, *args: str) -> Any:
    return run_cli(list(args), repo=repo)


def pull(image: str) -> str:
    host, _, rest = image.partition("/")
    repo, _, tag = rest.partition(":")
    return PULL_401.format(image=image, host=host, repo=repo, tag=tag)


def event(message: str, **extra: object) -> Event:
    return event_from_dict({"type": "deployment.failed", "message": message,
                            "subject": {"namespace": "shop", "kind": "Deployment",
                                        "name": "api"}, **extra})


def test_messages_differing_in_names_numbers_and_versions_share_a_template() -> None:
    a = mask(pull("registry.example.com/payments/api:v2.3.1"))
    b = mask(pull("ghcr.io/acme/web:10.0.0-rc1"))
    assert a == b
    assert a.endswith("401 Unauthorized: authentication required")
    assert mask("Back-off restarting failed container api in pod "
                "api-7d9f8b6c4-x2x9k_prod(3f1c2a9e-8b7d-4e21-9c55-0a1b2c3d4e5f)") == mask(
        "Back-off restarting failed container api in pod "
        "api-5b6c7d8e9f-abcde_prod(00000000-1111-2222-3333-444444444444)")
    assert mask("dial tcp 10.0.3.17:8080: connect: connection refused") == \
        "dial tcp <ip>: connect: connection refused"
    assert mask("open /var/lib/kubelet/pods/x/volumes: no such file or directory") == \
        "open <path>: no such file or directory"
    assert mask("commit 3f9a7c2d1e not found") == "commit <hex> not found"


def test_different_messages_are_different_problems_and_titles_read_as_the_problem() -> None:
    unauthorized = signature(event(pull("registry.example.com/payments/api:v2.3.1")))
    again = signature(event(pull("ghcr.io/acme/web:1.0.0")))
    oom = signature(event(OOM.format(name="api")))
    assert unauthorized.key == again.key != oom.key
    assert unauthorized.title == "Image pull unauthorized: authentication required"
    assert oom.title == "Container OOM-killed"
    assert re.search(unauthorized.pattern or "", pull("quay.io/x/y:9"))


def test_the_subject_kind_and_reason_are_part_of_the_fingerprint() -> None:
    base = signature(event("probe failed", attributes={"reason": "Unhealthy"}))
    other_reason = signature(event("probe failed", attributes={"reason": "BackOff"}))
    other_kind = signature(event_from_dict({"type": "deployment.failed", "message": "probe failed",
                                            "attributes": {"reason": "Unhealthy"},
                                            "subject": {"kind": "StatefulSet"}}))
    assert len({base.key, other_reason.key, other_kind.key}) == 3


def test_a_rule_can_pin_the_problem_or_choose_the_fingerprint_fields() -> None:
    e = event("anything at all")
    assert signature(e, pinned="DEPLOYMENT_FAILURE/registry").key == "DEPLOYMENT_FAILURE/registry"
    one = signature(e, fields=("type",))
    two = signature(event("something else entirely"), fields=("type",))
    assert one.key == two.key


def troubleshooting(repo: Path) -> list[TroubleshootingEntry]:
    text = (repo / "TROUBLESHOOTING.md").read_text()
    return [e for e in fmt.parse_file("troubleshooting", text).parsed()
            if isinstance(e, TroubleshootingEntry)]


_MINUTES = iter(range(10_000))


def deploy_failed(repo: Path, service: str, message: str) -> dict[str, object]:
    """A failed production deployment, each a minute after the last (times in the past, so a
    resolve 'now' comes after them)."""
    when = datetime(2026, 11, 30, 10, 0, tzinfo=UTC) + timedelta(minutes=next(_MINUTES))
    return agentops_json(  # type: ignore[no-any-return]
        repo, "record", "deployment", "-f", "status=failed", "-e", "production",
        "-f", f"service={service}", "-f", "namespace=shop", "-f", "kind=Deployment",
        "--message", message, "--time", when.isoformat())


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return init(git_repo)


def test_a_pull_failure_and_an_oom_kill_are_two_entries_and_a_repeat_counts(repo: Path) -> None:
    deploy_failed(repo, "api", pull("registry.example.com/payments/api:v2.3.1"))
    deploy_failed(repo, "worker", OOM.format(name="worker"))
    entries = troubleshooting(repo)
    assert [(e.id, e.title, e.occurrences) for e in entries] == [
        ("TS-0001", "Image pull unauthorized: authentication required", 1),
        ("TS-0002", "Container OOM-killed", 1)]
    third = deploy_failed(repo, "web", pull("ghcr.io/acme/web:4.0.0"))
    assert third["troubleshooting"] == ["TS-0001"]  # linked, not new
    entries = troubleshooting(repo)
    assert [(e.id, e.occurrences) for e in entries] == [("TS-0001", 2), ("TS-0002", 1)]
    assert len(entries[0].incidents) == 2
    assert "Message template: `Failed to pull image \"<*>\"" in entries[0].sections["Symptoms"]
    assert agentops(repo, "lint").returncode == 0
