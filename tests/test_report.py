"""``agentops report --out DIR``: the site, opened in a real headless Chromium.

Chromium (Debian's ``chromium``, installed by .ci/run) renders the pages from disk. The tests
look at what a reader gets: a screenshot that is not blank, a DOM holding the figures, no
request to anything but the files themselves (Chromium's own network log, with a proxy that
would refuse any connection), and pages that a strict HTML5 parser accepts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import html5lib
import pytest
from cli_helpers import run_cli
from PIL import Image
from report_helpers import git, init

INC = "INC-2026-11-20-001"
APPROVAL = "INC-2026-11-21-001"
NOW = "2026-11-21T12:00:00Z"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")


def run(repo: Path, *args: str) -> dict[str, Any]:
    out = run_cli([*args, "--format", "json"], repo=repo)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HIGH production deployment failure worked to resolution with its post-mortem, and a
    denied approval still open (an incident, not an outage)."""
    repo = tmp_path_factory.mktemp("report") / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("# ops\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "initial")
    init(repo)
    run(repo, "record", "deployment", "-f", "status=failed", "-e", "production", "-f",
        "service=api", "-f", "namespace=shop-prod", "--time", "2026-11-20T09:15:00Z",
        "-m", "Back-off pulling image registry.local/api:2.14.1",
        "-f", "affected_services=api,checkout", "-f", "affected_users=1200",
        "-f", "user_impact=Checkout returned 503")
    run(repo, "incident", "ack", INC, "--time", "2026-11-20T09:18:00Z", "--actor", "@alice")
    run(repo, "incident", "followup", INC, "add", "Check image tags before deploying",
        "--owner", "@bob", "--due", "2027-01-15")
    run(repo, "incident", "resolve", INC, "--time", "2026-11-20T09:40:00Z",
        "--root-cause", "Tag 2.14.1 was never pushed", "--resolution", "Rolled back to 2.14.0")
    run(repo, "postmortem", INC)
    run(repo, "record", "approval", "-f", "decision=denied", "-f", "action=drop-table",
        "-f", "approver=@carol", "--time", "2026-11-21T08:00:00Z")
    return repo


@pytest.fixture(scope="module")
def site(ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    result = run(ledger, "report", "--out", str(out), "--now", NOW)
    assert (result["pages"], result["incidents"], result["open"]) == (3, 2, 1)
    return out


def pages(site: Path) -> Iterator[Path]:
    yield from sorted(site.rglob("*.html"))


def test_every_page_is_valid_html5(site: Path) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    for page in pages(site):
        parser.parse(page.read_text())  # raises on the first parse error


def test_no_page_refers_to_anything_on_the_network(site: Path) -> None:
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    for page in pages(site):
        tree = parser.parse(page.read_text())
        assert tree.findall(".//script") == [] and tree.findall(".//img") == []
        for element in tree.iter():
            for name, value in element.attrib.items():
                if name in ("src", "href", "srcset", "action", "poster", "data") or \
                        name.endswith("}href"):
                    assert not value.startswith(("http:", "https:", "//")), (page, name, value)
                    assert ":" not in value.split("/")[0], (page, name, value)


def chromium(site: Path, page: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on one page; any connection would go to a proxy that is not there."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", f"--user-data-dir={tmp / 'profile'}",
         "--proxy-server=127.0.0.1:9", "--hide-scrollbars", "--window-size=1100,2000",
         *args, (site / page).as_uri()],
        capture_output=True, text=True, timeout=120)


def requested_urls(netlog: Path) -> set[str]:
    """Every URL the page asked the network for, from Chromium's own network log.

    Chromium's background requests (component updates, the clock) say their initiator is "not
    an origin"; whatever a document loads names the document's origin ("null" for a file).
    """
    data = json.loads(netlog.read_text())
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    return {e["params"]["url"] for e in data["events"]
            if names[e["type"]] == "URL_REQUEST_START_JOB" and "url" in (e.get("params") or {})
            and e["params"].get("initiator") != "not an origin"}


@needs_chromium
def test_the_network_check_catches_a_page_that_loads_from_the_network(tmp_path: Path) -> None:
    page = tmp_path / "site" / "bad.html"
    page.parent.mkdir()
    page.write_text('<!DOCTYPE html><html><head><title>x</title><link rel="stylesheet" '
                    'href="https://example.com/a.css"></head><body>'
                    '<img src="http://example.invalid/x.png" alt="x"></body></html>')
    netlog = tmp_path / "net.json"
    chromium(page.parent, "bad.html", tmp_path, "--dump-dom", f"--log-net-log={netlog}")
    assert requested_urls(netlog) == {"https://example.com/a.css",
                                      "http://example.invalid/x.png"}


@needs_chromium
@pytest.mark.parametrize("page", ["index.html", f"incidents/{INC}.html"])
def test_chromium_renders_the_page_without_the_network(site: Path, page: str,
                                                       tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    out = chromium(site, page, tmp_path, f"--screenshot={shot}")
    assert shot.exists(), out.stderr
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20  # text, bars and badges, not one colour
    netlog = tmp_path / "net.json"
    out = chromium(site, page, tmp_path, "--dump-dom", f"--log-net-log={netlog}")
    assert out.returncode == 0, out.stderr
    dom = out.stdout
    assert INC in dom and "25m" in dom
    if page == "index.html":
        # 25 minutes of outage in November (43,200 minutes): 99.94%; the approval is no outage
        assert "Uptime this month (2026-11): <strong>99.94%</strong>" in dom
        assert "Operational, 1 open incident(s)" in dom
        assert APPROVAL in dom
        assert "<td>2026-11</td><td>99.94%</td>" in dom
    else:
        assert "Tag 2.14.1 was never pushed" in dom and "Post-mortem (Draft)" in dom
        assert "What went well?" in dom
    assert requested_urls(netlog) == set()


def test_the_index_has_every_figure_a_reader_needs(site: Path) -> None:
    index = (site / "index.html").read_text()
    for expected in ('id="current-status"', "Open incidents", "Availability, last 90 days",
                     "<strong>api</strong>", "<strong>checkout</strong>", "P0</th><th>P1",
                     'aria-label="MTTR per severity against targets"', "Recurring problems",
                     f'href="incidents/{INC}.html"', "25m (target 30m, n=1)"):
        assert expected in index, expected


INTERNAL = ("@alice", "@bob", "@carol", "Related logs", "TS-0001", "ev-",
            "production-deployment-failed", "sha256:")


def test_public_site_leaves_out_actors_event_fields_and_internal_links(
        ledger: Path, site: Path, tmp_path: Path) -> None:
    everything = "".join(p.read_text() for p in pages(site))
    assert [x for x in INTERNAL if x not in everything] == []  # the full site has them all
    out = tmp_path / "public"
    run(ledger, "report", "--out", str(out), "--now", NOW, "--public")
    text = "".join(p.read_text() for p in pages(out))
    assert INC in text and "Tag 2.14.1 was never pushed" in text and "99.94%" in text
    assert [x for x in INTERNAL if x in text] == []
