"""Engine throughput: 100,000 generated events, default policy plus 50 extra rules.

Baseline: ``json.loads`` of the same events' JSON. The engine figure covers what the policy does
per event: decide, then observe (fold the event into the derived state). Normalisation (placing
the event in its environment) happens once at intake and is reported on its own line and in
the combined figure.

    python bench/engine.py [--events N] [--extra-rules N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentops.events import Event, event_from_dict
from agentops.paths import default_rules
from agentops.policy.engine import State, decide, normalise, observe
from agentops.policy.loader import load_policy

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NAMESPACES = ["prod", "shop-prod", "dev", "staging", "payments", "kube-system"]
REASONS = ["BackOff", "Failed", "FailedScheduling", "Unhealthy", "Pulled", "Scheduled", "Created"]


def extra_rules(n: int) -> str:
    """``n`` realistic extra triggers, spread over event types the generator also emits."""
    lines = ["triggers:"]
    kinds = ["k8s.warning", "deployment.failed", "alert.firing", "ci.failed", "custom.signal"]
    for i in range(n):
        lines += [
            f"  - name: extra-{i}",
            f"    on: {kinds[i % len(kinds)]}",
            "    match:",
            f"      subject.namespace: {{glob: ['team-{i}-*']}}",
            f"      attributes.reason: {{in: [Reason{i}, Other{i}]}}",
            "    severity: LOW",
            "    category: PERFORMANCE_DEGRADATION",
            f"    dedup: {{key: 'extra-{i}/{{subject.namespace}}/{{subject.name}}'}}",
        ]
    return "\n".join(lines) + "\n"


def generate(n: int, rng: random.Random) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        t = (T0 + timedelta(seconds=i * 3)).isoformat().replace("+00:00", "Z")
        ns = rng.choice(NAMESPACES)
        pod = f"web-{rng.randrange(40)}"
        roll = rng.random()
        if roll < 0.55:
            ev = {"type": "k8s.warning" if rng.random() < 0.7 else "k8s.normal",
                  "subject": {"namespace": ns, "kind": "Pod", "name": pod},
                  "attributes": {"reason": rng.choice(REASONS), "count": rng.randrange(1, 50)},
                  "message": f"Back-off restarting failed container {pod}"}
        elif roll < 0.70:
            ev = {"type": rng.choice(["attempt.failed", "attempt.succeeded"]),
                  "actor": f"agent-{rng.randrange(8)}",
                  "attributes": {"task": f"task-{rng.randrange(20)}", "error": "timeout"}}
        elif roll < 0.80:
            ev = {"type": rng.choice(["deployment.failed", "deployment.succeeded"]),
                  "subject": {"namespace": ns, "kind": "Deployment",
                              "name": f"svc-{rng.randrange(10)}"},
                  "attributes": {"revision": f"{rng.getrandbits(32):08x}"}}
        elif roll < 0.88:
            ev = {"type": "availability.sample", "subject": {"cluster": f"c{rng.randrange(3)}"},
                  "attributes": {"ratio": rng.choice([0.9999, 0.9995, 0.998, 1.0])}}
        elif roll < 0.94:
            ev = {"type": "alert.firing",
                  "attributes": {"alertname": "KubePodCrashLooping", "severity": "warning",
                                 "fingerprint": f"{rng.randrange(100):04x}"}}
        else:
            ev = {"type": rng.choice(["resource.deleted", "approval.denied", "ci.failed"]),
                  "subject": {"namespace": ns, "kind": "ConfigMap", "name": f"cm-{i % 50}"},
                  "attributes": {"action": "apply", "approver": "@ops"}}
        ev.update(time=t, source="bench", key=f"bench-{i}")
        out.append(ev)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--extra-rules", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "extra.yaml"
        extra.write_text(extra_rules(args.extra_rules))
        policy = load_policy([default_rules(), extra])
    raw = generate(args.events, random.Random(7))
    lines = [json.dumps(r) for r in raw]
    events: list[Event] = [event_from_dict(r) for r in raw]

    json_best = engine_best = norm_best = float("inf")
    decisions_total = 0
    state = State()
    for _ in range(args.repeat):
        start = time.perf_counter()
        for line in lines:
            json.loads(line)
        json_best = min(json_best, time.perf_counter() - start)

        start = time.perf_counter()
        normalised = [normalise(policy, event) for event in events]
        norm_best = min(norm_best, time.perf_counter() - start)

        state = State()
        start = time.perf_counter()
        n = 0
        for event in normalised:
            decisions = decide(policy, state, event, event.time)
            observe(policy, state, event, decisions)
            n += len(decisions)
        engine_best = min(engine_best, time.perf_counter() - start)
        decisions_total = n

    count = len(events)
    print(f"policy: {len(policy.triggers)} triggers ({args.extra_rules} extra), "
          f"best of {args.repeat} runs")
    print(f"events: {count:,}  decisions: {decisions_total:,}  open incidents at end: "
          f"{len(state.open):,}")
    print(f"baseline json.loads:            {json_best:.3f} s  "
          f"{count / json_best:>10,.0f} events/s")
    print(f"engine (decide + observe):      {engine_best:.3f} s  "
          f"{count / engine_best:>10,.0f} events/s")
    print(f"intake normalise (environment): {norm_best:.3f} s  "
          f"{count / norm_best:>10,.0f} events/s")
    both = engine_best + norm_best
    print(f"normalise + engine:             {both:.3f} s  {count / both:>10,.0f} events/s")
    print(f"ratio engine/json.loads: {engine_best / json_best:.2f}   "
          f"(normalise+engine)/json.loads: {both / json_best:.2f}")


if __name__ == "__main__":
    main()
