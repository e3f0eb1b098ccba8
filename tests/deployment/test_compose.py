"""deploy/compose.yaml, checked without Docker (none runs here): the backing servers are
there with pinned images and health checks, every service entry builds a service of this
repository, and the gateway is published on the port it listens on. What each service's own
entry needs is part of test_services.py's checklist."""

import re

from deployment.manifests import REPO_ROOT, compose, compose_settings, service_names

BACKING = {"nats", "mongo", "redis"}


def test_backing_servers_have_pinned_images_health_checks_and_volumes():
    spec = compose()
    for name in sorted(BACKING):
        server = spec["services"][name]
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", server["image"]), server["image"]
        assert server["healthcheck"]["test"], name
        for volume in server.get("volumes", []):
            assert volume.split(":")[0] in spec["volumes"], (name, volume)
    assert "--jetstream" in spec["services"]["nats"]["command"]
    assert "--replSet" in spec["services"]["mongo"]["command"]


def test_every_other_entry_builds_a_service_of_the_repository():
    spec = compose()
    built = {name: service for name, service in spec["services"].items() if name not in BACKING}
    assert sorted(set(built) - set(service_names())) == []
    for name, service in built.items():
        assert (REPO_ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        assert service.get("read_only") is True, f"{name}: the image runs on a read-only root filesystem"


def test_gateway_is_published_on_the_port_it_listens_on():
    gateway = compose()["services"]["gateway"]
    settings = compose_settings(gateway)
    assert settings["HOST"].value == "0.0.0.0"
    assert f"{settings['PORT'].value}:{settings['PORT'].value}" in gateway["ports"]


def test_secrets_come_from_the_shell_not_the_file():
    auth = compose_settings(compose()["services"]["auth"])
    assert auth["AUTH_SIGNING_KEY"].from_secret
    assert auth["WEBINAR_API_KEY"].from_secret
