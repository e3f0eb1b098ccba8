"""The kept API document matches the routes the gateway actually serves."""

import json

from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.openapi import DOCUMENT_PATH, build_document, openapi_path, render
from gateway.routes import ROUTES
from webinar_runtime.bus import Bus


def test_kept_document_is_up_to_date_with_the_route_table():
    generated = render(build_document(ROUTES))
    assert DOCUMENT_PATH.read_bytes() == generated, (
        "run `make openapi` and commit services/gateway/gateway/openapi.json"
    )


async def test_every_served_route_is_documented_and_every_documented_route_is_served(nats_url):
    bus = await Bus.connect(nats_url, service="gateway", instance="doc-test")
    try:
        app = build_app(bus, GatewayConfig(port=8080))
        served = {
            (route.method.lower(), openapi_path(route.resource.canonical))
            for route in app.router.routes()
            if route.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
            and not route.resource.canonical.startswith(
                ("/socket.io", "/erizocontroller/socket.io", "/recording/socket.io")
            )
        }
    finally:
        await bus.close()
    document = json.loads(DOCUMENT_PATH.read_bytes())
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert served == documented


def test_document_is_openapi_3_1_with_schemas_for_every_body():
    document = build_document(ROUTES)
    assert document["openapi"] == "3.1.0"
    register = document["paths"]["/auth/register"]["post"]
    schema_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert {"email", "fName", "lName", "phoneNumber", "country", "password"} <= set(schema["required"])
    assert {"201", "400", "401", "409"} <= set(register["responses"])
    assert document["paths"]["/healthz"]["get"]["security"] == []
