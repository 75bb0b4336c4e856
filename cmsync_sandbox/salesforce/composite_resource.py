"""The Composite resource (``POST /composite``): up to 25 subrequests (at most 5 of them queries or sObject
Collections) run in order through the emulator's sObject, Query, QueryAll and Collections routes, later
ones reading earlier results through ``@{referenceId.field}`` references, answered with one result per
subrequest, and the whole call counted as one API call.

With ``allOrNone`` the subrequests are one transaction: when one fails, every write is rolled back, the
failed one keeps its error and every other answers 400 PROCESSING_HALTED. Without it, a subrequest whose
reference cannot be resolved (its subrequest failed, or has no such field) answers 400 PROCESSING_HALTED.
"""

import json
import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route
from cmsync_sandbox.salesforce.api import API, Call, json_response
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.store import RecordStore

LIMIT = 25
HEAVY_LIMIT = 5
"""Of the subrequests, at most this many may be queries (Query, QueryAll, their next pages) or Collections."""
_HEAVY = re.compile(r"^/services/data/v[^/]+/(query|queryAll|composite/sobjects)(/|\?|$)")
_CALLABLE = tuple(f"{API}{path}" for path in ("/sobjects", "/query", "/queryAll", "/composite/sobjects"))
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
Dispatch = Callable[[Call, str, str, Any, dict[str, str], Callable[[Route], bool]], Response]
"""Serves one subrequest in-process as its caller: call, method, URL, body, headers, and which routes it may reach."""
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")
_KEPT_HEADERS = ("Location",)
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."


@dataclass(frozen=True)
class Subrequest:
    method: str
    url: str
    reference_id: str
    body: Any
    headers: dict[str, str]


class UnresolvedReferenceError(Exception):
    """A ``@{…}`` reference to a result that does not exist, failed, or lacks the field."""

    def __init__(self, reference_id: str, path: str) -> None:
        super().__init__(
            f"Invalid reference specified. No value for {reference_id}{path} found in {reference_id}. "
            f"Provided referenceId ('{reference_id}') names no earlier successful subrequest with that value."
        )


def _refused(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)


def _subrequest(where: str, item: Any, seen: set[str]) -> Subrequest:
    """One item of ``compositeRequest`` (at ``where``), its reference ID added to ``seen`` (which must not hold it)."""
    if not isinstance(item, dict):
        raise _refused(f"{where} must be an object")
    method, url, reference_id = item.get("method"), item.get("url"), item.get("referenceId")
    if not isinstance(method, str) or method not in METHODS:
        raise _refused(f"{where}.method must be one of {', '.join(sorted(METHODS))}")
    if not isinstance(url, str) or not url.startswith("/services/data/"):
        raise _refused(f"{where}.url must be a /services/data/vXX.X/… path")
    if not isinstance(reference_id, str) or not _REFERENCE_ID.match(reference_id):
        raise _refused(f"{where}.referenceId {reference_id!r} may hold only letters, digits and underscores")
    if reference_id in seen:
        raise _refused(f"{where}.referenceId {reference_id!r} is used twice; each must be unique")
    seen.add(reference_id)
    headers = item.get("httpHeaders") or {}
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise _refused(f"{where}.httpHeaders must be an object of strings")
    return Subrequest(method, url, reference_id, item.get("body"), headers)


def _subrequests(body: Any) -> tuple[list[Subrequest], bool]:
    """The subrequests and ``allOrNone`` of a request body; ApiError for a body Salesforce would refuse whole."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise _refused("The request body must be an object with a compositeRequest array")
    items = body["compositeRequest"]
    if not items:
        raise _refused("compositeRequest must hold at least one subrequest")
    if len(items) > LIMIT:
        raise ApiError(400, "LIMIT_EXCEEDED", f"A composite request can hold at most {LIMIT} subrequests")
    seen: set[str] = set()
    subrequests = [_subrequest(f"compositeRequest[{position}]", item, seen) for position, item in enumerate(items)]
    if sum(1 for subrequest in subrequests if _HEAVY.match(subrequest.url)) > HEAVY_LIMIT:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can hold at most {HEAVY_LIMIT} query or sObject Collections subrequests",
        )
    for option in ("allOrNone", "collateSubrequests"):
        if not isinstance(body.get(option, False), bool):
            raise _refused(f"{option} must be true or false")
    return subrequests, body.get("allOrNone", False)


def _lookup(results: dict[str, Any], reference_id: str, path: str) -> Any:
    if reference_id not in results:
        raise UnresolvedReferenceError(reference_id, path)
    value = results[reference_id]
    for name, index in _STEP.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise UnresolvedReferenceError(reference_id, path)
    if value is None or isinstance(value, dict | list):
        raise UnresolvedReferenceError(reference_id, path)
    return value


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """``value`` with every reference replaced by the value it names (a string holding only a reference takes
    the value with its JSON type)."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(results, whole.group(1), whole.group(2))
        return _REFERENCE.sub(lambda found: _text(_lookup(results, found.group(1), found.group(2))), value)
    if isinstance(value, dict):
        return {name: _resolve(item, results) for name, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    return value


def _result(reference_id: str, status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers or {}, "httpStatusCode": status, "referenceId": reference_id}


def _halted(reference_id: str, message: str) -> dict[str, Any]:
    return _result(reference_id, 400, [{"errorCode": "PROCESSING_HALTED", "message": message}])


def _callable(route: Route) -> bool:
    """What a subrequest may call: the sObject, Query, QueryAll and Collections resources."""
    return route.call_class == "rest" and route.path.startswith(_CALLABLE)


def _rolled_back(answers: list[dict[str, Any]], subrequests: list[Subrequest]) -> list[dict[str, Any]]:
    """The answers of an ``allOrNone`` request whose last answer failed: that one keeps its error, every
    other subrequest (answered or not) is PROCESSING_HALTED."""
    failed = answers[-1]["referenceId"]
    halted = [
        answer if answer["referenceId"] == failed else _halted(answer["referenceId"], ROLLED_BACK) for answer in answers
    ]
    return halted + [_halted(rest.reference_id, ROLLED_BACK) for rest in subrequests[len(answers) :]]


class CompositeResource:
    """``POST /composite`` of one org."""

    def __init__(self, store: RecordStore, dispatch: Dispatch) -> None:
        self.store = store
        self.dispatch = dispatch

    def routes(self) -> list[Route]:
        """The Composite route, under /services/data/vXX.X."""
        return [Route(f"{API}/composite", ("POST",), "POST /composite", "rest", self.composite)]

    def composite(self, call: Call) -> Response:
        subrequests, all_or_none = _subrequests(call.json())
        results: dict[str, Any] = {}
        answers: list[dict[str, Any]] = []
        with ExitStack() as stack:
            transaction = None
            if all_or_none:
                stack.enter_context(self.store.clock.held())
                transaction = stack.enter_context(self.store.transaction())
            for subrequest in subrequests:
                answers.append(self._run(call, subrequest, results))
                if transaction is not None and answers[-1]["httpStatusCode"] >= 400:
                    transaction.rollback()
                    answers = _rolled_back(answers, subrequests)
                    break
        return json_response({"compositeResponse": answers})

    def _run(self, call: Call, subrequest: Subrequest, results: dict[str, Any]) -> dict[str, Any]:
        """One subrequest, its references resolved from ``results`` (which its success adds to)."""
        try:
            url = str(_resolve(subrequest.url, results))
            body = _resolve(subrequest.body, results)
        except UnresolvedReferenceError as missing:
            return _halted(subrequest.reference_id, str(missing))
        response = self.dispatch(call, subrequest.method, url, body, subrequest.headers, _callable)
        data = response.get_data(as_text=True)
        answer = json.loads(data) if data else None
        if response.status_code < 400:
            results[subrequest.reference_id] = answer
        headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
        return _result(subrequest.reference_id, response.status_code, answer, headers)
