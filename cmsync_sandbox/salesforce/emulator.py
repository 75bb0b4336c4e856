"""The Salesforce emulator: one org (schema from ``salesforce/``, records in memory) behind the REST, Bulk
API 2.0 and OAuth endpoints cmsync uses, with faults and a control API for tests and the demo.

Every call under /services/data/vXX.X is signed in (401 INVALID_SESSION_ID otherwise), counted against
the daily allowance (403 REQUEST_LIMIT_EXCEEDED once spent), may meet an injected 503, and carries
``Sforce-Limit-Info``. Endpoint names and API-call classes (rest, bulk, auth) go to the call log.
"""

import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from cmsync_sandbox.calls import CLASS_KEY, ENDPOINT_KEY
from cmsync_sandbox.routing import Route, Router
from cmsync_sandbox.salesforce.api import API_VERSION, Call, error_response
from cmsync_sandbox.salesforce.bulk_resources import BulkResources
from cmsync_sandbox.salesforce.composite import Collections
from cmsync_sandbox.salesforce.composite_resource import CompositeResource
from cmsync_sandbox.salesforce.controls import SandboxControls
from cmsync_sandbox.salesforce.dx_source import DEFAULT_SCHEMA_DIR
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.org import Org
from cmsync_sandbox.salesforce.pubsub import PubSubServer, change_origin
from cmsync_sandbox.salesforce.rest import RestResources
from cmsync_sandbox.salesforce.sign_in import SignIn
from cmsync_sandbox.server import SandboxServer

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its per-request lines would drown the sandbox's own
_VERSION = re.compile(r"^\d{2}\.\d$")
StartResponse = Callable[..., Any]


class SalesforceEmulator(Org):
    """A Salesforce org in memory. ``app`` is its WSGI application; ``serve()`` puts it on a port."""

    def __init__(self, schema_dir: Path = DEFAULT_SCHEMA_DIR, **settings: Any) -> None:
        """The org (``settings`` as ``Org`` takes them) behind the REST, Bulk, sign-in and control routes."""
        super().__init__(schema_dir, **settings)
        routes = [
            *RestResources(self.store, self.queries, self.writer, self.cursors, self.clock, self.limits).routes(),
            *Collections(self.store, self.writer).routes(),
            *CompositeResource(self.store, self.dispatch).routes(),
            *BulkResources(self.bulk, self.store, self.queries).routes(),
            *SignIn(self.oauth, self.store, self.org_id).routes(),
            *SandboxControls(self).routes(),
        ]
        self._router = Router(routes, strict_slashes=False, merge_slashes=False)

    # The WSGI application.

    def app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        matched = self._match(environ)
        if isinstance(matched, Response):
            response = matched
        else:
            route, arguments = matched
            environ[ENDPOINT_KEY] = route.name
            environ[CLASS_KEY] = route.call_class
            response = self._serve(route, request, arguments)
        return response(environ, start_response)

    def _match(self, environ: dict[str, Any]) -> tuple[Route, dict[str, Any]] | Response:
        """The route of a request and its path arguments, or the 404/405 error response."""
        try:
            return self._router.match(environ)
        except MethodNotAllowed as refused:
            allowed = ",".join(sorted(refused.valid_methods or ()))
            method = environ.get("REQUEST_METHOD", "")
            return error_response(
                ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")
            )
        except NotFound:
            return error_response(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))

    def dispatch(
        self,
        call: Call,
        method: str,
        url: str,
        body: Any,
        headers: dict[str, str],
        accept: Callable[[Route], bool],
    ) -> Response:
        """Serve one subrequest of ``call`` (a Composite) in-process, as its caller: it reuses the API routes but
        is not signed in, counted or faulted again. A route ``accept`` refuses is a 400 INVALID_API_INPUT."""
        path, _, query = url.partition("?")
        builder = EnvironBuilder(
            path=path,
            method=method,
            query_string=query,
            headers=headers,
            base_url=call.request.host_url,
            json=body,
        )
        environ = builder.get_environ()
        matched = self._match(environ)
        if isinstance(matched, Response):
            return matched
        route, arguments = matched
        version = arguments.pop("version", None)
        if version is None or not _VERSION.match(version) or not accept(route):
            return error_response(
                ApiError(400, "INVALID_API_INPUT", f"{method} {path} is not a resource a composite request can call")
            )
        return self._handle(route, Call(Request(environ), version, call.user_id), arguments)

    def _serve(self, route: Route, request: Request, arguments: dict[str, Any]) -> Response:
        if not route.api:
            return self._handle(route, Call(request, API_VERSION, self.admin_user_id), arguments)
        version = arguments.pop("version")
        if not _VERSION.match(version):
            response = error_response(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
        elif self.faults.take_unavailable():
            response = error_response(ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, try again"))
        elif (session := self.oauth.session(request.headers.get("Authorization"))) is None:
            response = error_response(ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid"))
        elif not self.faults.spend_api_call():
            response = error_response(ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        else:
            with self.store.lock:
                self.store.origin = change_origin(version, request.headers.get("Sforce-Call-Options"))
                try:
                    response = self._handle(route, Call(request, version, session.user_id), arguments)
                finally:
                    self.store.origin = ""
        used, limit = self.faults.usage()
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{limit}"
        return response

    def _handle(self, route: Route, call: Call, arguments: dict[str, Any]) -> Response:
        try:
            with self.store.lock:
                return route.handler(call, **arguments)
        except ApiError as error:
            return error_response(error)

    def serve(self, *, host: str = "127.0.0.1", port: int = 0, ca_file: Path | None = None) -> SandboxServer:
        """A server for this org (start it, or use it as a context manager); HTTPS when ``ca_file`` is given."""
        return SandboxServer(self.app, self.calls, host=host, port=port, ca_file=ca_file)

    def serve_pubsub(self, *, host: str = "127.0.0.1", port: int = 0, ca_file: Path | None = None) -> PubSubServer:
        """The Pub/Sub API (gRPC) for this org's change events; TLS when ``ca_file`` is given. Start it."""
        return PubSubServer(self.events, self.oauth, self.org_id, host=host, port=port, ca_file=ca_file)
