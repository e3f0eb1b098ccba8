"""The Kubernetes manifests: every overlay renders with kustomize and validates against the
Kubernetes schema (strict: an unknown or misplaced field fails), and the shared pieces (Ingress,
NATS, MongoDB, Redis, Secrets, scaling per overlay) are what docs/deploy.md says they are."""

import re
import subprocess
from collections import Counter
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deployment.manifests import (
    BASE_DIR,
    DEPLOY_DOC,
    K8S_DIR,
    OVERLAYS,
    container,
    find,
    render,
    secret_refs,
    secrets_created_in_docs,
    tool,
)

# The oldest Kubernetes the manifests support, and the newest schema the validator ships.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]


def validation_errors(docs, version):
    errors = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{where}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{where}: {error.message}")
    return errors


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_overlay_renders_with_kustomize(overlay):
    docs = render(overlay)
    names = Counter((doc["kind"], doc["metadata"]["name"]) for doc in docs)
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Ingress"} <= {kind for kind, _ in names}
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_every_manifest_validates_against_the_kubernetes_schema(overlay, version):
    assert validation_errors(render(overlay), version) == []


def test_the_schema_check_rejects_a_misspelt_field():
    deployment = find(render("base"), "Deployment", "auth")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert len(validation_errors([broken], KUBERNETES_VERSIONS[-1])) == 1


def test_every_manifest_file_is_part_of_a_kustomization():
    """A YAML file no kustomization lists would never be applied (nor validated)."""
    listed = set()
    for kustomization in K8S_DIR.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        entries = list(spec.get("resources", []))
        entries += [patch["path"] for patch in spec.get("patches", []) if "path" in patch]
        for generator in spec.get("configMapGenerator", []):
            entries += generator.get("files", []) + generator.get("envs", [])
        listed |= {(kustomization.parent / entry).resolve() for entry in entries}
    files = [
        path
        for path in K8S_DIR.rglob("*")
        if path.is_file() and path.name != "kustomization.yaml" and path.suffix != ".md"
    ]
    assert [str(path.relative_to(K8S_DIR)) for path in files if path.resolve() not in listed] == []


def hpas(overlay):
    return {doc["metadata"]["name"]: doc["spec"] for doc in render(overlay) if doc["kind"] == "HorizontalPodAutoscaler"}


def service_deployments(overlay):
    return [
        doc
        for doc in render(overlay)
        if doc["kind"] == "Deployment" and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    ]


def test_dev_runs_one_replica_of_each_service():
    for deployment in service_deployments("dev"):
        name = deployment["metadata"]["name"]
        assert deployment["spec"].get("replicas", 1) == 1, name
        assert (hpas("dev")[name]["minReplicas"], hpas("dev")[name]["maxReplicas"]) == (1, 1), name


def test_prod_keeps_two_replicas_of_each_service_on_different_nodes():
    for deployment in service_deployments("prod"):
        name = deployment["metadata"]["name"]
        bounds = hpas("prod")[name]
        assert 2 <= bounds["minReplicas"] < bounds["maxReplicas"], name
        # The HPA owns the count: a replicas field would reset it on every apply.
        assert "replicas" not in deployment["spec"], name
        spread = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        term = spread["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["matchLabelKeys"] == ["app.kubernetes.io/name"]
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "service"


@pytest.mark.parametrize("name", ["nats", "mongo"])
def test_prod_puts_quorum_members_on_distinct_nodes(name):
    statefulset = find(render("prod"), "StatefulSet", name)
    required = statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required[0]["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def test_gateway_ingress_carries_websockets_and_keeps_polling_sessions_on_one_replica():
    docs = render("prod")
    ingress = find(docs, "Ingress", "gateway")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert ingress["spec"]["tls"][0]["secretName"] == "webinar-tls"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = find(docs, "Service", backend["name"])
    assert service is not None
    port = next(port for port in service["spec"]["ports"] if port["name"] == backend["port"]["name"])
    gateway = container(find(docs, "Deployment", "gateway"), "gateway")
    assert port["targetPort"] in {declared["name"] for declared in gateway["ports"]}
    assert service["metadata"]["annotations"]["traefik.ingress.kubernetes.io/service.sticky.cookie"] == "true"


def test_nats_is_a_three_server_jetstream_cluster_on_persistent_volumes(tmp_path):
    docs = render("prod")
    statefulset = find(docs, "StatefulSet", "nats")
    assert statefulset["spec"]["replicas"] == 3
    assert [claim["metadata"]["name"] for claim in statefulset["spec"]["volumeClaimTemplates"]] == ["data"]
    config_map = next(doc for doc in docs if doc["metadata"]["name"].startswith("nats-config"))
    conf = config_map["data"]["nats.conf"]
    routes = re.findall(r"nats://(nats-\d+)\.nats-headless:6222", conf)
    assert routes == [f"nats-{index}" for index in range(statefulset["spec"]["replicas"])]
    assert "jetstream" in conf
    # The real nats-server (the version the tests run) accepts the file as the pods get it.
    path = tmp_path / "nats.conf"
    path.write_text(conf)
    checked = subprocess.run(
        [tool("nats-server"), "-t", "-c", str(path)],
        env={"POD_NAME": "nats-0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_mongo_replica_set_members_match_the_statefulset():
    docs = render("prod")
    statefulset = find(docs, "StatefulSet", "mongo")
    replicas = statefulset["spec"]["replicas"]
    init = container(statefulset, "replica-set-init")
    env = {entry["name"]: entry.get("value") for entry in init["env"]}
    assert int(env["MONGO_MEMBERS"]) == replicas
    assert env["MONGO_SERVICE"] == statefulset["spec"]["serviceName"]
    assert f"--replSet={env['MONGO_REPLICA_SET']}" in container(statefulset, "mongod")["args"]
    job = find(docs, "Job", "mongo-users")
    job_env = {entry["name"]: entry.get("value") for entry in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert job_env["MONGO_HOSTS"].split(",") == [f"mongo-{index}.mongo:27017" for index in range(replicas)]
    assert job_env["MONGO_REPLICA_SET"] == env["MONGO_REPLICA_SET"]


def test_every_secret_the_manifests_read_is_created_in_the_deploy_guide():
    created = secrets_created_in_docs(DEPLOY_DOC.read_text())
    missing = []
    for (name, key), optional in sorted(secret_refs(render("prod")).items()):
        keys = created.get(name)
        if not optional and (keys is None or (key != "*" and key not in keys)):
            missing.append(f"Secret {name}" + ("" if key == "*" else f" key {key}"))
    assert missing == [], f"docs/deploy.md does not tell the reader to create: {missing}"


def test_overlays_only_patch_resources_of_the_base():
    """A patch whose target was renamed in the base would silently apply to nothing."""
    base = {(doc["kind"], doc["metadata"]["name"]) for doc in render("base")}
    for overlay in ("dev", "prod"):
        spec = yaml.safe_load((OVERLAYS[overlay] / "kustomization.yaml").read_text())
        for patch in spec.get("patches", []):
            target = patch.get("target", {})
            if "name" in target:
                assert (target["kind"], target["name"]) in base, (overlay, target)
            elif "kind" in target:
                assert any(kind == target["kind"] for kind, _ in base), (overlay, target)


def test_base_kustomization_lists_every_folder_of_the_base():
    spec = yaml.safe_load((BASE_DIR / "kustomization.yaml").read_text())
    folders = sorted(path.name for path in BASE_DIR.iterdir() if path.is_dir())
    assert sorted(entry for entry in spec["resources"] if not Path(entry).suffix) == folders
