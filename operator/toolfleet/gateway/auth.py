"""Who may use a catalog through the gateway: RBAC reviews (`toolfleet.runtime.access`)
at the door of `/mcp/{catalog}` and `/v1/catalogs/{catalog}/calls`.

A request is reviewed before anything about its catalog is looked up, so the
order of answers is 401 (no token, or one the API server did not accept), 403
(not allowed to call this catalog), then 404 (no such catalog, or no such tool
in it): a caller that may not call a catalog learns nothing of what it holds.
An API server that does not answer a review gets the caller 503 with
Retry-After; the gateway never serves a caller it could not review.

On /mcp a refusal is an HTTP error with a JSON-RPC error body, 401 with
`WWW-Authenticate: Bearer` (MCP 2025-11-25, Authorization, "Error Handling");
on /calls the vendor's error envelope (gateway/app.py). The authenticated
username is the `consumer` of the audit log; for MCP it rides in the ASGI scope
under CONSUMER_SCOPE_KEY to the tool call.

With TOOLFLEET_GATEWAY_AUTH=false every caller is served, as `anonymous`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import mcp_types as types
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from toolfleet.gateway.results import json_rpc_error
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.runtime import kube
from toolfleet.runtime.access import (
    ANONYMOUS,
    AccessReviewer,
    KubeReviews,
    Reviews,
    Verdict,
    review_request,
)

log = logging.getLogger(__name__)

# Where an admitted /mcp request carries its caller's username to the tool call.
CONSUMER_SCOPE_KEY = "toolfleet.consumer"


class CatalogAccess:
    """The gateway's access rule; `reviewer` None serves everyone (auth off)."""

    def __init__(self, reviewer: AccessReviewer | None) -> None:
        self.reviewer = reviewer

    async def review(self, headers: Mapping[str, str], catalog: str) -> Verdict:
        """The verdict on a request with `headers` to `catalog` (see access.Verdict)."""
        return await review_request(self.reviewer, headers.get("authorization"), catalog)

    def announce(self) -> None:
        """Say at start how callers are let in; loudly when they are not checked."""
        if self.reviewer is None:
            log.warning("authorization is OFF (--no-auth, or TOOLFLEET_GATEWAY_AUTH=false): "
                        "every caller may list and call every catalog's tools, as "
                        "'anonymous'; for local use only")
        else:
            log.info("callers are authorized by TokenReview and SubjectAccessReview (verb "
                     "'call' on toolcatalogs.toolfleet.io), answers cached for %gs",
                     self.reviewer.tokens.ttl_seconds)


def build_access(settings: GatewaySettings, reviews: Reviews | None = None) -> CatalogAccess:
    """The access rule `settings` ask for: reviews by `reviews` (default: the API server's,
    whose credentials are loaded now), or none when settings.auth is off.

    Raises kube.NoCredentials when auth is on and there is no way to the API server.
    """
    if not settings.auth:
        return CatalogAccess(None)
    if reviews is None:
        try:
            kube.load_credentials()
        except kube.NoCredentials as error:
            raise kube.NoCredentials(
                f"TOOLFLEET_GATEWAY_AUTH is true, and reviewing callers needs the API server: "
                f"{error}; for local use without a cluster set TOOLFLEET_GATEWAY_AUTH=false"
            ) from None
        reviews = KubeReviews()
    return CatalogAccess(AccessReviewer(reviews, ttl_seconds=settings.auth_cache_seconds))


def consumer_of(scope: Scope) -> str:
    """The username an admitted MCP request was sent by (`anonymous` with auth off)."""
    return str(scope.get(CONSUMER_SCOPE_KEY, ANONYMOUS))


def mcp_refusal(verdict: Verdict) -> JSONResponse:
    """A refused /mcp request: its HTTP status and a JSON-RPC error naming why and the fix."""
    code = types.INTERNAL_ERROR if verdict.status >= 500 else types.INVALID_REQUEST
    return JSONResponse(json_rpc_error(code, verdict.error, verdict.hint), verdict.status,
                        headers=dict(verdict.headers))


class McpAccess:
    """ASGI wrapper of `/mcp/{catalog}`: reviews each request before `app` sees it."""

    def __init__(self, access: CatalogAccess, app: ASGIApp) -> None:
        self.access = access
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        catalog = str(scope.get("path_params", {}).get("catalog", ""))
        verdict = await self.access.review(Headers(scope=scope), catalog)
        if not verdict.allowed:
            await mcp_refusal(verdict)(scope, receive, send)
            return
        await self.app({**scope, CONSUMER_SCOPE_KEY: verdict.consumer}, receive, send)
