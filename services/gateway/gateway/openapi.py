"""The OpenAPI 3.1 document, built from the route table and the contract types,
so a route and its documentation cannot disagree. `python -m gateway openapi`
writes it to services/gateway/gateway/openapi.json, which is kept in the repo."""

import re
from pathlib import Path
from typing import Any

import msgspec

from gateway.rest import Access, ErrorBody, Route

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
ERROR_DESCRIPTIONS = {
    400: "Bad request: the body or a parameter is invalid; `field` names it",
    401: "Missing or unknown x-api-key, or a missing, invalid or expired bearer token",
    403: "Not allowed for this user or this tenant's plan",
    404: "Not found",
    409: "Conflict with existing data",
    413: "Request body too large",
    416: "Range not satisfiable: no byte of the file is in the asked range (Content-Range gives its size)",
    429: "Too many attempts; see Retry-After",
    500: "Internal error; the message carries a trace id",
    503: "The service that answers this route is not running or did not answer in time",
}
SUCCESS_DESCRIPTIONS = {200: "OK", 201: "Created", 204: "No content"}


def openapi_path(aiohttp_path: str) -> str:
    # aiohttp's `{name:regex}` becomes OpenAPI's `{name}`
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", aiohttp_path)


def build_document(routes: list[Route], *, version: str = "0.1.0") -> dict[str, Any]:
    types: set[Any] = {ErrorBody}
    for route in routes:
        if route.body is not None:
            types.add(route.body)
        if route.query is not None:
            types.add(route.query)
        types.update(t for t in route.responses.values() if t is not None)
    (schemas_list, components) = msgspec.json.schema_components(
        sorted(types, key=lambda t: getattr(t, "__name__", str(t))), ref_template="#/components/schemas/{name}"
    )
    schema_of = dict(zip(sorted(types, key=lambda t: getattr(t, "__name__", str(t))), schemas_list, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "tags": [route.service],
            "responses": {},
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)", route.path)
        ]
        if route.query is not None:
            query_schema = components[route.query.__name__]
            parameters += [
                {"name": name, "in": "query", "required": name in query_schema.get("required", []), "schema": schema}
                for name, schema in query_schema["properties"].items()
            ]
        if parameters:
            operation["parameters"] = parameters
        if route.access is Access.PUBLIC:
            operation["security"] = []
        elif route.access is Access.USER:
            operation["security"] = [{"apiKey": [], "bearer": []}]
        elif route.room_ticket:
            operation["security"] = [{"apiKey": []}, {"roomTicket": []}]
        if route.body is not None:
            operation["requestBody"] = {
                "required": route.body_required,
                "content": {route.body_media_type: {"schema": schema_of[route.body]}},
            }
        for status, response_type in route.responses.items():
            response: dict[str, Any] = {"description": SUCCESS_DESCRIPTIONS.get(status, "OK")}
            if response_type is not None:
                response["content"] = {"application/json": {"schema": schema_of[response_type]}}
            operation["responses"][str(status)] = response
        errors = set(route.errors) | ({401, 503} if route.access is not Access.PUBLIC else set()) | {500}
        for status in sorted(errors):
            operation["responses"][str(status)] = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": schema_of[ErrorBody]}},
            }
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Webinar API",
            "version": version,
            "description": "REST API of the open webinar suite. Every route except health and this "
            "document needs an `x-api-key`; routes that act for a user also take `Authorization: Bearer`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "roomTicket": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "ticket",
                    "description": "a viewer link's room ticket (POST /room/{roomId}/viewer-link), for that room only",
                },
            },
        },
        "security": [{"apiKey": []}],
    }


def render(document: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"
