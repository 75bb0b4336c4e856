"""The Campaign Monitor API v3.3 as a WSGI app: routing, authentication, faults and the call log.

Paths are matched in any case under ``/api/v3.3`` (with the ``.json`` suffix), plus CM's OAuth token
endpoint ``/oauth/token``; ``resources`` serves them. Test controls live under ``/_sandbox/`` and are handed
to ``controls``.
"""

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from cmsync_sandbox.calls import CLASS_KEY, ENDPOINT_KEY, WsgiApp
from cmsync_sandbox.campaign_monitor.bad_responses import spoiled
from cmsync_sandbox.campaign_monitor.errors import ApiError
from cmsync_sandbox.campaign_monitor.faults import Faults
from cmsync_sandbox.campaign_monitor.oauth import OAuthGrantError, TokenStore
from cmsync_sandbox.campaign_monitor.resources import Resources
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.routing import Route, Router

_log = structlog.stdlib.get_logger(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON; ``bytes`` are JSON text already."""
    if isinstance(body, bytes):
        data = body
    else:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(data, status=status, headers=headers, content_type="application/json; charset=utf-8")


class CampaignMonitorApp:
    """The emulator's WSGI entry point: the API under ``/api/v3.3``, OAuth, and the test controls."""

    def __init__(
        self, state: AccountState, faults: Faults, tokens: TokenStore, api_keys: set[str], controls: WsgiApp
    ) -> None:
        self.faults = faults
        self.tokens = tokens
        self.api_keys = api_keys
        self.controls = controls
        token = Route("/oauth/token", ("POST",), "POST /oauth/token", "oauth", self.token, api=False)
        self._router = Router([*Resources(state).routes(), token], strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self.controls(environ, start_response)
        started = time.perf_counter()
        request = Request(environ)
        response = self._respond(request, environ)
        _log.info(
            "campaign monitor call",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response(environ, start_response)

    def _respond(self, request: Request, environ: dict[str, Any]) -> Response:
        try:
            route, values = self._router.match(environ, request.path.lower())
        except HTTPException:
            environ[ENDPOINT_KEY] = "unknown"
            error = ApiError(404)
            return _json_response(error.status, error.body())
        environ[ENDPOINT_KEY] = route.name
        environ[CLASS_KEY] = route.call_class
        if not route.api:
            return _json_response(*route.handler(request, **values))
        return self._serve(route, request, values)

    def _serve(self, route: Route, request: Request, values: dict[str, Any]) -> Response:
        """An API call: an injected fault, or signed in and answered (its body maybe patched or spoiled)."""
        fault = self.faults.next_fault()
        if fault is not None:
            if isinstance(fault.body, str):
                return Response(fault.body, status=fault.status, headers=fault.headers)
            return _json_response(fault.status, fault.body, fault.headers)
        try:
            self._authenticate(request)
            status, body = route.handler(request, **values)
        except ApiError as error:
            headers = {"WWW-Authenticate": 'Basic realm="api"'} if error.status == 401 else None
            return _json_response(error.status, error.body(), headers)
        response = _json_response(status, self.faults.patched(body))
        bad = self.faults.next_bad_response(route.name)
        return response if bad is None else spoiled(response, bad)

    def _authenticate(self, request: Request) -> None:
        """API key as the Basic user name (any password), or an OAuth bearer token."""
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            self.tokens.check(credentials.strip())
            return
        if scheme.lower() != "basic":
            raise ApiError(50)
        try:
            user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(50) from None
        if user not in self.api_keys:
            raise ApiError(100)

    def token(self, request: Request) -> tuple[int, Any]:
        """CM's OAuth token endpoint: an access token for a refresh-token grant, or the OAuth error."""
        try:
            return 200, self.tokens.grant(dict(request.form.items()))
        except OAuthGrantError as error:
            return 400, {"error": error.error, "error_description": error.description}
