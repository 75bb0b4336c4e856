"""What every Salesforce emulator handler shares: the call it serves (request, API version, user), the path
prefix of the versioned API, and JSON and error responses shaped as Salesforce shapes them."""

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from cmsync_sandbox.salesforce.errors import ApiError

JSON = "application/json;charset=UTF-8"
API_VERSION = "61.0"
"""The version the sandbox reports itself at, and serves calls outside the versioned API with."""
API = "/services/data/v<version>"
"""The rule prefix of every versioned API route (REST, Composite, Bulk)."""


@dataclass(frozen=True)
class Call:
    """One API call being served: the request, the API version in its URL and the signed-in user."""

    request: Request
    version: str
    user_id: str

    @property
    def base_url(self) -> str:
        return self.request.host_url.rstrip("/")

    def json(self) -> Any:
        """The request's JSON body; malformed JSON is 400 JSON_PARSER_ERROR."""
        try:
            return json.loads(self.request.get_data(as_text=True) or "null")
        except ValueError as error:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in JSON body: {error}") from None

    def json_object(self) -> dict[str, Any]:
        """The request's JSON body, which must be an object (400 JSON_PARSER_ERROR otherwise)."""
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, content_type=JSON, headers=headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def no_content() -> Response:
    return Response(status=204)
