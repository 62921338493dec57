"""Who may call which route: bearer API keys mapped to the routes their scopes allow.

The check runs as a Chalice (API Gateway Lambda) authorizer, so on AWS a refused
request never reaches a view: no header → 401 from the gateway; an unknown or revoked
key, or a route outside the key's scopes → 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import AuthResponse, AuthRoute

from chalicelib.api_keys import ApiKeyRepository, Scope, token_from_header
from shared import aws
from shared.observability import logger
from shared.settings import get_settings

if TYPE_CHECKING:
    from chalice.app import AuthRequest

__all__ = ["SCOPE_ROUTES", "actor", "authorize", "routes_for"]

_READ = [
    AuthRoute("/batches", ["GET"]),
    AuthRoute("/batches/*", ["GET"]),
    AuthRoute("/datasets", ["GET"]),
    AuthRoute("/datasets/*", ["GET"]),
    AuthRoute("/usage", ["GET"]),
]
_INGEST = [AuthRoute("/batches", ["POST"]), AuthRoute("/uploads", ["POST"])]
# Acting on failures: retry, replay, redrive, discard, mark handled (and reading the DLQs).
_OPERATE = [
    AuthRoute("/batches/*", ["POST"]),
    AuthRoute("/dead-letters", ["GET", "DELETE"]),
    AuthRoute("/dead-letters/*", ["POST"]),
    AuthRoute("/failures", ["GET"]),
    AuthRoute("/audit", ["GET"]),
    AuthRoute("/failures/*", ["POST"]),
]

SCOPE_ROUTES: dict[Scope, list[AuthRoute]] = {
    Scope.READ: _READ,
    Scope.INGEST: _INGEST,
    Scope.ADMIN: _READ + _INGEST + _OPERATE,
}


def routes_for(scopes: list[Scope]) -> list[AuthRoute]:
    """Return the routes a key with these scopes may call."""
    routes: list[AuthRoute] = []
    for scope in scopes:
        routes.extend(r for r in SCOPE_ROUTES[scope] if r not in routes)
    return routes


def authorize(request: AuthRequest, keys: ApiKeyRepository | None = None) -> AuthResponse:
    """Answer API Gateway's question: which routes may this token call?"""
    token = token_from_header(request.token)
    if keys is None:
        keys = ApiKeyRepository(aws.dynamodb().Table(get_settings().api_keys_table))
    key = keys.find(token) if token else None
    if key is None:
        logger.info("api key refused")
        return AuthResponse(routes=[], principal_id="anonymous")
    return AuthResponse(
        routes=list[str | AuthRoute](routes_for(key.scopes)),
        principal_id=key.short_id,
        context={"key_id": key.short_id, "key_name": key.name, "scopes": ",".join(key.scopes)},
    )


def actor(request_context: dict[str, Any]) -> str:
    """The name of the API key a request came with (what the audit trail records)."""
    authorizer = request_context.get("authorizer") or {}
    name = authorizer.get("key_name") or authorizer.get("principalId")
    return str(name) if name else "unknown"
