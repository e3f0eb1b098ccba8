"""Choose the address this media node announces to browsers, and write it for the media container.

The media pods' init container runs this (python from the media image, no other package)
before the SFU starts; the SFU's container reads the file into MEDIA_ANNOUNCED_IP. In order:

1. the Node's annotation `webinar/media-announced-ip`, an address the operator sets per node
   (a 1:1 NAT's public address the cloud does not report, an address for clients on a VPN);
2. the Node's ExternalIP (the public address clouds report for nodes behind their NAT);
3. HOST_IP, the node's own address (`status.hostIP`): nodes whose interface has the address
   clients reach (bare metal, a LAN, kind).

The Node is read with the pod's service account (`get` on nodes, k8s/base/media/rbac.yaml).
If it cannot be read, or the annotation is not an IP address, the container fails and
Kubernetes retries it: a node announcing an address browsers cannot reach would fail quietly.

    python announced_ip.py /run/media/announced-ip      # with NODE_NAME and HOST_IP set
"""

import ipaddress
import json
import os
import ssl
import sys
import urllib.request
from typing import Any

ANNOTATION = "webinar/media-announced-ip"
ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def read_node(name: str) -> dict[str, Any]:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:
        host = f"[{host}]"
    with open(f"{ACCOUNT}/token") as token:
        headers = {"Authorization": f"Bearer {token.read().strip()}", "Accept": "application/json"}
    request = urllib.request.Request(f"https://{host}:{port}/api/v1/nodes/{name}", headers=headers)
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        node: dict[str, Any] = json.load(response)
    return node


def choose(node: dict[str, Any], host_ip: str) -> tuple[str, str]:
    """The address to announce, and where it came from."""
    configured = node.get("metadata", {}).get("annotations", {}).get(ANNOTATION, "").strip()
    if configured:
        try:
            return str(ipaddress.ip_address(configured)), f"the node's annotation {ANNOTATION}"
        except ValueError:
            raise SystemExit(f"annotation {ANNOTATION}={configured!r} on this node is not an IP address") from None
    for address in node.get("status", {}).get("addresses", []):
        if address.get("type") == "ExternalIP" and address.get("address"):
            return str(ipaddress.ip_address(address["address"])), "the node's ExternalIP"
    return str(ipaddress.ip_address(host_ip)), "the node's own address (status.hostIP)"


def main() -> None:
    target = sys.argv[1]
    node_name = os.environ["NODE_NAME"]
    try:
        node = read_node(node_name)
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read Node {node_name} to choose the announced address: {error}") from None
    address, source = choose(node, os.environ["HOST_IP"])
    with open(target, "w") as out:
        out.write(address)
    print(f"media node on {node_name} announces {address}, {source}")


if __name__ == "__main__":
    main()
