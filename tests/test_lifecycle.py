"""The lifecycle rules of ``agentops.lifecycle``, without a repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentops import lifecycle as lc
from agentops.errors import EXIT_USER, LedgerError
from agentops.ledger.model import Incident

INC = "INC-2026-11-20-001"


def at(minute: int) -> datetime:
    return datetime(2026, 11, 20, 9, minute, tzinfo=UTC)


@pytest.mark.parametrize(("current", "new", "move"), [
    ("Investigating", "Identified", "forward"),
    ("Investigating", "Monitoring", "forward"),
    ("Investigating", "Resolved", "forward"),
    ("Identified", "Resolved", "forward"),
    ("Monitoring", "Monitoring", "same"),
    ("Resolved", "Investigating", "reopen"),
])
def test_forward_moves_skips_and_reopen_are_allowed(current: str, new: str, move: str) -> None:
    assert lc.transition(INC, current, new) == move


@pytest.mark.parametrize(("current", "new"), [
    ("Monitoring", "Identified"), ("Identified", "Investigating"), ("Resolved", "Monitoring"),
    ("Resolved", "Identified"),
])
def test_backward_moves_are_refused(current: str, new: str) -> None:
    with pytest.raises(lc.LifecycleError, match=f"{INC}: cannot go from {current} to {new}"):
        lc.transition(INC, current, new)


def test_lifecycle_errors_are_ledger_errors_with_exit_1() -> None:
    assert issubclass(lc.LifecycleError, LedgerError)
    assert lc.IncidentNotFoundError("x").exit_code == EXIT_USER


def test_status_names_are_case_insensitive_and_checked() -> None:
    assert lc.normalize_status(" monitoring ") == "Monitoring"
    with pytest.raises(lc.LifecycleError, match="'Done' is not one of Investigating"):
        lc.normalize_status("Done")


def test_times_in_order_pass_and_unset_times_are_skipped() -> None:
    lc.check_times(INC, {"detected": at(15), "acknowledged": None}, {"resolved": at(40)})
    lc.check_times(INC, {"impact_started": at(10), "detected": at(15)}, {"acknowledged": at(15)})


def test_a_later_time_set_too_early_names_both_fields_and_times() -> None:
    with pytest.raises(lc.LifecycleError) as err:
        lc.check_times(INC, {"detected": at(15), "acknowledged": at(20)}, {"resolved": at(18)})
    assert str(err.value) == (
        f"{INC}: resolved 2026-11-20T09:18:00Z would be before acknowledged 2026-11-20T09:20:00Z"
        " (times must be in order: impact_started <= detected <= acknowledged <= mitigated"
        " <= resolved)")


def test_an_earlier_time_set_too_late_is_named_as_the_culprit() -> None:
    with pytest.raises(lc.LifecycleError, match=(
            "acknowledged 2026-11-20T09:30:00Z would be after mitigated 2026-11-20T09:25:00Z")):
        lc.check_times(INC, {"detected": at(15), "mitigated": at(25)}, {"acknowledged": at(30)})


def test_parse_when_defaults_to_now_and_names_the_option() -> None:
    assert lc.parse_when(None, now=at(1)) == at(1)
    assert lc.parse_when("2026-11-20T10:15:00+01:00", now=at(1)) == at(15)
    with pytest.raises(lc.LifecycleError, match="--at"):
        lc.parse_when("tomorrow", now=at(1), option="--at")


def test_review_defaults_to_the_deadline_unless_it_has_passed() -> None:
    inc = Incident(id=INC, uid="U", title="t", detected=at(15), resolved=at(40))
    assert lc.review_default(inc, review_within=timedelta(hours=48), now=at(50)) == (
        at(40) + timedelta(hours=48))
    late = at(40) + timedelta(days=5)
    assert lc.review_default(inc, review_within=timedelta(hours=48), now=late) == late


def test_next_update_follows_the_severity_cadence() -> None:
    assert lc.next_update("CRITICAL", at(0)) == at(15)
    assert lc.next_update("LOW", at(0)) == at(0) + timedelta(hours=4)
