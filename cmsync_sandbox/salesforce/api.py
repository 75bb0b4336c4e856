"""What every emulator route shares: its description (path, endpoint name, API-call class) and the call
context a handler receives, with JSON and error responses shaped as Salesforce shapes them."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from cmsync_sandbox.salesforce.errors import ApiError

JSON = "application/json;charset=UTF-8"


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


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """One endpoint. ``api`` routes live under /services/data/vXX.X: signed in, counted, limit-reported."""

    path: str
    methods: tuple[str, ...]
    name: str
    call_class: str
    handler: Handler
    api: bool = True


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, content_type=JSON, headers=headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def no_content() -> Response:
    return Response(status=204)
