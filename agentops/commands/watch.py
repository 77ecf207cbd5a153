"""``agentops watch``: connect to a cluster and feed its changes through the pipeline.

Maps the command-line options to one :func:`agentops.watch.runner.run` call: loads the
kubeconfig (or the in-cluster service account), the policy (for the production namespace
globs), the checkpoint, and the pipeline as the sink. SIGTERM and SIGINT stop watching; the
last batch is flushed, committed and checkpointed before the command returns.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentops.errors import AgentopsError
from agentops.events import Event, make_event
from agentops.paths import find_repo, rules_dir
from agentops.policy.loader import load_policy
from agentops.policy.model import Policy
from agentops.watch.batcher import OutcomeLike, Sink
from agentops.watch.checkpoint import Checkpoint
from agentops.watch.leader import LeaderElector
from agentops.watch.resources import Placement
from agentops.watch.runner import Options, run

LEASE_NAME = "agentops-watch"
SERVICE_ACCOUNT_NS = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def watch(
    *, repo: Path | None, kubeconfig: Path | None, context: str | None,
    namespaces: Sequence[str], duration: float | None, leader_elect: bool,
    lease_namespace: str | None = None, production_selector: str | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """Watch until stopped (or ``duration`` seconds); returns counts of what was written."""
    configure_logging()
    root = find_repo(repo)
    policy = load_policy([rules_dir(root)], base=root)
    api_client, server, context_name = connect(kubeconfig=kubeconfig, context=context)
    placement = Placement(production_globs(policy), production_selector)
    stop = threading.Event()
    _on_signals(stop.set)
    lease = elector(api_client, lease_namespace) if leader_elect else None
    drainer = _drainer(root, policy, lease)
    try:
        stats = run(
            api_client=api_client, sink=pipeline_sink(root),
            checkpoint=Checkpoint.for_repo(root, cluster=server), placement=placement,
            options=Options(namespaces=tuple(namespaces), duration=duration,
                            cluster=cluster or context_name),
            elector=lease, stop=stop)
    finally:
        if drainer is not None:
            drainer.stop()
    return {"server": server, **stats.to_dict()}


def _drainer(root: Path, policy: Policy, lease: LeaderElector | None) -> Any:
    """The notification sender next to the watcher (only while holding the lease)."""
    if policy.notifications is None:
        return None
    from agentops.notify.sender import Drainer

    drainer = Drainer(root, may_send=lease.is_leader if lease else None)
    drainer.start()
    return drainer


def watch_text(result: dict[str, Any]) -> str:
    return (f"watched {result['server']}: {result['events']} events "
            f"({result['duplicates']} already recorded) in {result['commits']} commits, "
            f"{result['incidents_opened']} incidents opened, "
            f"{result['incidents_updated']} updated")


def connect(*, kubeconfig: Path | None, context: str | None) -> tuple[Any, str, str | None]:
    """An ApiClient, the API server URL and the context name (None in-cluster)."""
    from kubernetes import client
    from kubernetes import config as untyped

    config: Any = untyped  # the loaders carry no annotations
    configuration = client.Configuration()
    in_cluster = kubeconfig is None and context is None and not os.environ.get("KUBECONFIG") \
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration), str(configuration.host), None
        config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None,
                                context=context, client_configuration=configuration)
        _, active = config.list_kube_config_contexts(
            config_file=str(kubeconfig) if kubeconfig else None)
    except config.ConfigException as exc:
        raise AgentopsError(f"cannot load the Kubernetes configuration: {exc}") from None
    name = context or (active or {}).get("name")
    return client.ApiClient(configuration), str(configuration.host), name


def production_globs(policy: Policy) -> Callable[[str], bool]:
    """The policy's production namespaces (globs in rules/policy.yaml) as a predicate."""
    production = [env for env in policy.environments if env.name == "production"]

    @functools.lru_cache(maxsize=4096)
    def test(namespace: str) -> bool:
        probe = make_event("watch.probe", subject={"namespace": namespace})
        return any(env.namespaces(probe) for env in production)

    return test


def pipeline_sink(repo: Path) -> Sink:
    from agentops.pipeline import process

    def sink(events: Sequence[Event]) -> Sequence[OutcomeLike]:
        return process(repo, events, actor="agentops-watch")

    return sink


def elector(api_client: Any, namespace: str | None) -> LeaderElector:
    from kubernetes import client

    if namespace is None and SERVICE_ACCOUNT_NS.exists():
        namespace = SERVICE_ACCOUNT_NS.read_text().strip()
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    return LeaderElector(client.CoordinationV1Api(api_client), namespace=namespace or "default",
                         name=LEASE_NAME, identity=identity)


def _on_signals(stop: Callable[[], None]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop())


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="agentops watch: %(message)s")
