"""Every manifest under deploy/k8s/ validates, and a broken one does not.

Kubernetes kinds are checked with `kubernetes-validate` against the Kubernetes
OpenAPI schemas (strict: an unknown field is an error); the KubeRay
`RayCluster` against the CRD's OpenAPI schema vendored from ray-project/kuberay
(deploy/k8s/schemas/README.md names the version), with unknown fields
rejected as `kubectl apply --validate=strict` would.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
CRD = K8S / "schemas" / "ray.io_rayclusters.yaml"
KUBERNETES_VERSION = "1.33.0"

Doc = dict[str, Any]


def manifests() -> list[tuple[str, Doc]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                out.append((f"{path.name}#{i}:{doc['kind']}", doc))
    return out


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever an object lists its
    properties and does not keep unknown fields (what a structural CRD schema
    means, and what the API server's strict field validation enforces)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@cache
def raycluster_validator(version: str) -> jsonschema.protocols.Validator:
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert crd["spec"]["names"]["kind"] == "RayCluster"
    [entry] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = strict(entry["schema"]["openAPIV3Schema"])
    # metadata is the API server's to check (ObjectMeta), not the CRD's
    schema["properties"]["metadata"] = {"type": "object"}
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def errors_of(doc: Doc) -> list[str]:
    """Why `doc` is invalid (empty: it is valid)."""
    if doc["apiVersion"].startswith("ray.io/"):
        validator = raycluster_validator(doc["apiVersion"].split("/")[1])
        return [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


@pytest.mark.parametrize(("name", "doc"), manifests(), ids=[n for n, _ in manifests()])
def test_every_manifest_validates(name: str, doc: Doc) -> None:
    assert errors_of(doc) == []


def test_the_set_is_complete() -> None:
    kinds = {name.split(":")[1] for name, _ in manifests()}
    assert {
        "Namespace",
        "Secret",
        "ConfigMap",
        "RayCluster",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "StatefulSet",
    } <= kinds
    assert (K8S / "Dockerfile").exists()


def _only(kind: str, name: str | None = None) -> Doc:
    [doc] = [
        d
        for _, d in manifests()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    return copy.deepcopy(doc)


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


BROKEN: list[tuple[str, str, Any]] = [
    # (kind, what is broken, how)
    ("Deployment", "replicas as text", lambda d: d["spec"].update(replicas="two")),
    ("Deployment", "an unknown field", lambda d: d["spec"]["template"]["spec"].update(sidecar={})),
    (
        "HorizontalPodAutoscaler",
        "no maxReplicas",
        lambda d: d["spec"].pop("maxReplicas"),
    ),
    (
        "RayCluster",
        "a number where rayStartParams takes strings",
        lambda d: d["spec"]["headGroupSpec"]["rayStartParams"].update({"num-cpus": 0}),
    ),
    (
        "RayCluster",
        "a misspelt field",
        lambda d: d["spec"].update(workerGroupSpec=d["spec"].pop("workerGroupSpecs")),
    ),
    (
        "RayCluster",
        "an auth mode KubeRay does not know",
        lambda d: d["spec"]["authOptions"].update(mode="password"),
    ),
    (
        "RayCluster",
        "a worker group without its name",
        lambda d: d["spec"]["workerGroupSpecs"][0].pop("groupName"),
    ),
]


@pytest.mark.parametrize(("kind", "what", "breaks"), BROKEN, ids=[w for _, w, _ in BROKEN])
def test_a_broken_manifest_is_rejected(kind: str, what: str, breaks: Any) -> None:
    doc = _only(kind)
    assert errors_of(doc) == []
    breaks(doc)
    assert errors_of(doc) != [], what


def test_the_gateway_drains_within_its_grace_period() -> None:
    """preStop + drain_s + grace_s fit in terminationGracePeriodSeconds; the
    readiness probe is /readyz and the listener is the one the Service targets."""
    config = tomllib.loads(_only("ConfigMap")["data"]["orchestra.toml"])["gateway"]
    pod = _only("Deployment", "orchestra-gateway")["spec"]["template"]["spec"]
    [gateway] = pod["containers"]
    pre_stop = float(gateway["lifecycle"]["preStop"]["exec"]["command"][-1])
    needed = pre_stop + config["drain_s"] + config["grace_s"]
    assert needed + 5 <= pod["terminationGracePeriodSeconds"]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # the readiness probe notices the drain well inside drain_s
    probe = gateway["readinessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] < config["drain_s"]
    assert "exec orchestra serve" in gateway["args"][0]  # SIGTERM reaches the server


def test_ray_pods_and_gateways_share_one_token_secret() -> None:
    cluster = _only("RayCluster")
    secret = cluster["spec"]["authOptions"]["secretName"]
    assert _only("Secret", secret)["stringData"]["auth_token"]
    gateway = _only("Deployment", "orchestra-gateway")["spec"]["template"]["spec"]
    refs = [v.get("secretKeyRef") for v in _walk(gateway) if isinstance(v, dict)]
    assert {"name": secret, "key": "auth_token"} in refs
    for doc in (cluster, gateway, _only("StatefulSet")):
        contexts = [v for v in _walk(doc) if isinstance(v, dict) and "runAsNonRoot" in v]
        assert contexts and all(c["runAsNonRoot"] is True for c in contexts)
