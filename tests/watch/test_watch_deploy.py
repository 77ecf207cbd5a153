"""deploy/kubernetes: rendered offline and every field checked against the client's models."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from agentops.watch.resources import KINDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
_LIST = re.compile(r"[Ll]ist\[(.+)\]")
_DICT = re.compile(r"(?:dict\(str, (.+)\)|Dict\[str, (.+)\])")
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def rendered() -> list[dict[str, Any]]:
    """``kubectl kustomize`` output, or (without kubectl) the listed files with the namespace."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], check=True,
                             capture_output=True, text=True).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    docs = [yaml.safe_load((DEPLOY / name).read_text()) for name in kustomization["resources"]]
    for doc in docs:
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def model_name(doc: dict[str, Any]) -> str:
    """``apps/v1`` Deployment -> V1Deployment (the client names models by version and kind)."""
    return f"{doc['apiVersion'].split('/')[-1].capitalize()}{doc['kind']}"


def check(value: Any, type_name: str, where: str) -> list[str]:
    """Unknown fields and wrong types, by walking the model's openapi_types."""
    if m := _LIST.fullmatch(type_name):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [e for i, v in enumerate(value) for e in check(v, m[1], f"{where}[{i}]")]
    if m := _DICT.fullmatch(type_name):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping"]
        inner = m[1] or m[2]
        return [e for k, v in value.items() for e in check(v, inner, f"{where}.{k}")]
    if type_name in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[type_name]) and not (
            type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {type_name}, got {value!r}"]
    model = getattr(client, type_name)
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({type_name})"]
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    errors = [f"{where}.{key}: unknown field of {type_name}" for key in value if key not in by_json]
    for key, item in value.items():
        if key in by_json:
            errors += check(item, model.openapi_types[by_json[key]], f"{where}.{key}")
    return errors


def test_every_rendered_object_fits_the_kubernetes_schema() -> None:
    docs = rendered()
    errors = [e for doc in docs for e in check(doc, model_name(doc),
                                                f"{doc['kind']}/{doc['metadata']['name']}")]

    assert errors == []
    assert sorted(doc["kind"] for doc in docs) == [
        "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Namespace", "Role",
        "RoleBinding", "ServiceAccount"]


def test_the_checker_catches_a_typo() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": "2", "template": {"spec": {"containers": [{"nmae": "a"}]}}}}

    assert check(bad, "V1Deployment", "d") == [
        "d.spec.replicas: expected int, got '2'",
        "d.spec.template.spec.containers[0].nmae: unknown field of V1Container"]


def objects(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered() if doc["kind"] == kind]


def test_cluster_role_only_lists_and_watches_exactly_the_watched_kinds() -> None:
    role, = objects("ClusterRole")
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}

    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"list", "watch"}
    assert granted == {(kind.group, kind.plural) for kind in KINDS.values()}


def test_lease_rbac_is_namespaced_and_named() -> None:
    role, = objects("Role")
    binding, = objects("RoleBinding")

    named = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["agentops-watch"], "verbs": ["get", "update"]}]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "agentops-watch",
                                    "namespace": "agentops"}]


def test_deployment_runs_watch_with_leader_election_secret_and_config() -> None:
    deployment, = objects("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    watch, = pod["containers"]

    assert watch["args"][:3] == ["watch", "--repo=/data/repo", "--leader-elect"]
    assert pod["serviceAccountName"] == "agentops-watch"
    assert {"secret": {"secretName": "agentops-git", "defaultMode": 0o400},
            "name": "git-credentials"} in pod["volumes"]
    assert watch["envFrom"] == [{"configMapRef": {"name": "agentops-watch"}}]
    assert objects("ConfigMap")[0]["metadata"]["name"] == "agentops-watch"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not found")
def test_kubectl_renders_into_the_agentops_namespace() -> None:
    assert {doc["metadata"].get("namespace") for doc in rendered()
            if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")} == {
        "agentops"}
