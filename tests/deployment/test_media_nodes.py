"""What media nodes need beyond the checklist every service meets (test_services.py): a pod on
its node's network still resolves cluster names and has that node to itself; it runs one
worker per core it requests; compose publishes exactly the UDP ports the SFU binds; and the
init container announces the address browsers can reach (k8s/base/media/announced_ip.py)."""

import importlib.util

import pytest

from deployment.manifests import BASE_DIR, OVERLAYS, compose, compose_settings, container, container_settings, render


def host_network_workloads(overlay):
    return [
        doc
        for doc in render(overlay)
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}
        and doc["spec"]["template"]["spec"].get("hostNetwork")
    ]


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_host_network_pods_resolve_cluster_names_and_keep_their_node_to_themselves(overlay):
    """On the node's network a pod would use the node's DNS (no `nats`) unless it asks for the
    cluster's, and two such pods on one node would fight over the same ports."""
    workloads = host_network_workloads(overlay)
    assert [doc["metadata"]["name"] for doc in workloads] == ["media"]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod.get("dnsPolicy") == "ClusterFirstWithHostNet", workload["metadata"]["name"]
        required = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        own_labels = workload["spec"]["selector"]["matchLabels"]
        assert {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": own_labels}} in required


def test_prod_runs_media_pods_only_on_the_nodes_labelled_and_tainted_for_them():
    (media,) = host_network_workloads("prod")
    pod = media["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "webinar/media", "operator": "In", "values": ["true"]}]}]
    assert {"key": "webinar/media", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_media_pods_run_one_worker_per_core_they_request(overlay):
    """A worker forwards on one core: more workers than the CPU request starve each other (and
    keep the HPA scaling out), fewer leave requested cores idle. MEDIA_WORKERS=0 would follow
    the node's CPU count, which no request can."""
    (media,) = host_network_workloads(overlay)
    spec = container(media, "media")
    settings, _ = container_settings(render(overlay), spec)
    cpu = str(spec["resources"]["requests"]["cpu"])
    cores = float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    assert int(settings["MEDIA_WORKERS"].value) == cores


def test_compose_publishes_the_udp_ports_the_media_node_binds():
    media = compose()["services"]["media"]
    settings = compose_settings(media)
    low, high = settings["MEDIA_RTC_MIN_PORT"].value, settings["MEDIA_RTC_MAX_PORT"].value
    assert f"{low}-{high}:{low}-{high}/udp" in media["ports"]
    # Browsers must be told an address they reach: the operator's, or the laptop itself.
    assert settings["MEDIA_LISTEN_IP"].value == "0.0.0.0"
    assert media["environment"]["MEDIA_ANNOUNCED_IP"] == "${MEDIA_ANNOUNCED_IP:-127.0.0.1}"


@pytest.fixture(scope="module")
def announced_ip():
    spec = importlib.util.spec_from_file_location("announced_ip", BASE_DIR / "media" / "announced_ip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node(annotation=None, **addresses):
    return {
        "metadata": {"annotations": {"webinar/media-announced-ip": annotation} if annotation else {}},
        "status": {"addresses": [{"type": kind, "address": value} for kind, value in addresses.items()]},
    }


@pytest.mark.parametrize(
    ("found", "announced"),
    [
        (node("198.51.100.7", ExternalIP="203.0.113.5", InternalIP="10.0.0.4"), "198.51.100.7"),
        (node(ExternalIP="203.0.113.5", InternalIP="10.0.0.4"), "203.0.113.5"),
        (node(InternalIP="10.0.0.4"), "10.0.0.9"),
        ({}, "10.0.0.9"),
    ],
)
def test_a_node_announces_its_configured_then_external_then_own_address(announced_ip, found, announced):
    address, _ = announced_ip.choose(found, "10.0.0.9")
    assert address == announced


def test_a_configured_address_that_is_not_an_ip_stops_the_pod(announced_ip):
    with pytest.raises(SystemExit, match="not an IP address"):
        announced_ip.choose(node("media.example.com"), "10.0.0.9")
