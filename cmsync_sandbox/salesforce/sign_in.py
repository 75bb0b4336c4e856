"""The endpoints outside the versioned API: the OAuth token endpoint, userinfo, the identity URL, and the
list of API versions a client reads before its first call."""

from typing import Any

import structlog
from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route
from cmsync_sandbox.salesforce.api import API_VERSION, Call, error_response, json_response
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.oauth import OAuthError, OAuthServer
from cmsync_sandbox.salesforce.rest import record_json
from cmsync_sandbox.salesforce.store import RecordStore

LOG = structlog.stdlib.get_logger(__name__)
VERSIONS = range(55, 63)
"""The major API versions ``GET /services/data`` lists."""


def _bad_token() -> Response:
    return Response("Bad_OAuth_Token", status=403, content_type="text/plain")


class SignIn:
    """Sign-in and discovery endpoints of one org (not API calls: never counted or faulted)."""

    def __init__(self, oauth: OAuthServer, store: RecordStore, org_id: str) -> None:
        self.oauth = oauth
        self.store = store
        self.org_id = org_id

    def routes(self) -> list[Route]:
        return [
            Route("/services/oauth2/token", ("POST",), "POST /services/oauth2/token", "auth", self.token, api=False),
            Route(
                "/services/oauth2/userinfo", ("GET",), "GET /services/oauth2/userinfo", "auth", self.userinfo, api=False
            ),
            Route("/id/<org_id>/<user_id>", ("GET",), "GET /id/{org}/{user}", "auth", self.identity_url, api=False),
            Route("/services/data", ("GET",), "GET /services/data", "rest", self.versions, api=False),
        ]

    def token(self, call: Call) -> Response:
        form = {name: value for name, value in call.request.form.items()}
        try:
            return json_response(self.oauth.token(form, call.base_url))
        except OAuthError as error:
            LOG.info("salesforce sandbox refused a token request", error=error.error)
            return json_response(error.body(), error.status)

    def userinfo(self, call: Call) -> Response:
        user_id = self._signed_in(call)
        if user_id is None:
            return _bad_token()
        about = self._identity(call, user_id)
        return json_response(
            {
                "sub": about["id"],
                "user_id": user_id,
                "organization_id": self.org_id,
                "preferred_username": about["username"],
                "name": about["display_name"],
                "email": about["email"],
                "active": True,
            }
        )

    def identity_url(self, call: Call, org_id: str, user_id: str) -> Response:
        if self._signed_in(call) is None:
            return _bad_token()
        if org_id != self.org_id or self.store.find(user_id) is None:
            return error_response(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
        return json_response(self._identity(call, user_id))

    def versions(self, call: Call) -> Response:
        return json_response(
            [
                {"label": f"Version {number}", "url": f"/services/data/v{number}.0", "version": f"{number}.0"}
                for number in VERSIONS
            ]
        )

    def _signed_in(self, call: Call) -> str | None:
        session = self.oauth.session(call.request.headers.get("Authorization"))
        return session.user_id if session else None

    def _identity(self, call: Call, user_id: str) -> dict[str, Any]:
        """The identity URL's answer for ``user_id``."""
        users = self.store.table("User")
        assert users is not None
        user = record_json(users, user_id, API_VERSION)
        base = call.base_url
        return {
            "id": self.oauth.identity_url(base, user_id),
            "user_id": user_id,
            "organization_id": self.org_id,
            "username": user["Username"],
            "display_name": user["Name"],
            "email": user["Email"],
            "active": True,
            "urls": {
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "query": f"{base}/services/data/v{{version}}/query/",
            },
        }
