"""HTTP to Campaign Monitor: one pooled session, a timeout on every call, sign-in, retries, typed errors,
and counts of calls and errors per endpoint class (Prometheus and in-process)."""

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from cmsync import __version__
from cmsync.clients.campaign_monitor.answers import Shape, any_json, parsed_answer
from cmsync.clients.campaign_monitor.auth import Authenticator
from cmsync.clients.campaign_monitor.errors import (
    BadResponseError,
    CampaignMonitorError,
    ConnectionFailedError,
    ErrorCode,
    TokenRefreshError,
    error_for,
)
from cmsync.clients.campaign_monitor.retry import RetryPolicy
from cmsync.clients.retry import Retries
from cmsync.logs import get_logger
from cmsync.metrics import API_CALL_SECONDS, API_CALLS, API_RETRIES
from cmsync.redaction import REDACTOR

SYSTEM = "campaign_monitor"
TOKEN_ENDPOINT = "oauth_token"
_log = get_logger(__name__)
BodyCheck = Callable[[bytes], str | None]
"""Why a body read without parsing it is not the answer expected, or None."""


class CallCounts:
    """Calls per endpoint class and outcome (``ok``, ``error``, ``rate_limited``, ``server_error``,
    ``bad_response``, ``connection_error``, ``token_expired``), kept by one client for status and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, endpoint: str, outcome: str) -> None:
        with self._lock:
            self._counts[(endpoint, outcome)] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{endpoint: {outcome: calls}}``."""
        with self._lock:
            result: dict[str, dict[str, int]] = {}
            for (endpoint, outcome), count in self._counts.items():
                result.setdefault(endpoint, {})[outcome] = count
            return result

    def calls(self, endpoint: str) -> int:
        with self._lock:
            return sum(count for (name, _outcome), count in self._counts.items() if name == endpoint)

    def errors(self, endpoint: str) -> int:
        """Calls of ``endpoint`` that did not succeed (including ones retried afterwards)."""
        with self._lock:
            return sum(count for (name, outcome), count in self._counts.items() if name == endpoint and outcome != "ok")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Transport:
    """Sends one API call, retrying 429, 5xx, bad answers and connection errors, and refreshing an expired
    OAuth token."""

    def __init__(
        self,
        base_url: str,
        auth: Authenticator,
        *,
        timeout: float = 30.0,
        ca_file: Path | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.timeout = (min(10.0, timeout), timeout)
        self.verify: str | bool = str(ca_file) if ca_file is not None else True
        self.retry = retry or RetryPolicy()
        self.counts = CallCounts()
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"User-Agent": f"cmsync/{__version__}", "Accept": "application/json"})

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> requests.Response:
        """One API call; returns the successful response or raises a ``CampaignMonitorError``."""
        response, _answer = self._exchange(endpoint, method, path, params, body, None)
        return response

    def read(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        shape: Shape = any_json,
    ) -> Any:
        """One API call whose answer is JSON of ``shape``; a success whose body is not (an HTML page, a
        cut-off body) is retried like a 5xx, then raised as ``BadResponseError``."""
        _response, answer = self._exchange(endpoint, method, path, params, body, shape)
        return answer

    def read_body(self, endpoint: str, path: str, check: BodyCheck, *, params: dict[str, str] | None = None) -> bytes:
        """The body of a GET as CM sent it, not parsed (the caller parses it when it needs to); a body that
        ``check`` finds wrong is retried like a 5xx, then raised as ``BadResponseError``."""
        response, _answer = self._exchange(endpoint, "GET", path, params, None, None, check)
        return response.content

    def _exchange(
        self,
        endpoint: str,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: Any,
        shape: Shape | None,
        check: BodyCheck | None = None,
    ) -> tuple[requests.Response, Any]:
        url = f"{self.base_url}{path}"
        retries = Retries(self.retry, SYSTEM, endpoint)
        rate_limited = 0
        waited = 0.0
        refreshed = False
        while True:
            headers = {"Authorization": self.auth.authorization(self._request_token)}
            started = time.perf_counter()
            try:
                response = self.session.request(
                    method, url, params=params, json=body, headers=headers, timeout=self.timeout, verify=self.verify
                )
            except requests.RequestException as failure:
                self._count(endpoint, "connection_error", started)
                if not retries.failed():
                    raise ConnectionFailedError(
                        REDACTOR.text(f"{type(failure).__name__}: {failure}"), endpoint=endpoint
                    ) from None
                retries.wait("connection")
                continue
            status = response.status_code
            if status == 429:
                self._count(endpoint, "rate_limited", started)
                rate_limited += 1
                wait = self.retry.rate_limit_wait(response.headers.get("X-RateLimit-Reset"), rate_limited)
                if waited + wait > self.retry.rate_limit_patience:
                    raise self._error(response, endpoint)
                waited += wait
                retries.wait("rate_limited", wait)
                continue
            if status >= 500:
                self._count(endpoint, "server_error", started)
                if not retries.failed():
                    raise self._error(response, endpoint)
                retries.wait("server_error")
                continue
            if status == 401 and self.auth.refreshable and not refreshed:
                error = self._error(response, endpoint)
                if error.code == ErrorCode.EXPIRED_OAUTH_TOKEN:
                    self._count(endpoint, "token_expired", started)
                    API_RETRIES.labels(system=SYSTEM, reason="session_expired").inc()
                    _log.info("campaign monitor token expired; refreshing", endpoint=endpoint)
                    refreshed = True
                    self.auth.refresh(self._request_token, headers["Authorization"])
                    continue
            if status >= 400:
                self._count(endpoint, "error", started)
                raise self._error(response, endpoint)
            if shape is not None:
                answer, problem = parsed_answer(response, shape)
            else:
                answer, problem = None, check(response.content) if check is not None else None
            if problem is None:
                self._count(endpoint, "ok", started)
                return response, answer
            self._count(endpoint, "bad_response", started)
            if not retries.failed():
                raise BadResponseError(f"{method} {path}: {problem}", endpoint=endpoint, status=status)
            retries.wait("bad_response")

    def _request_token(self, url: str, form: dict[str, str]) -> Any:
        """Post to the OAuth token endpoint (retrying server and connection errors) and parse its answer."""
        retries = Retries(self.retry, SYSTEM, TOKEN_ENDPOINT)
        while True:
            started = time.perf_counter()
            try:
                response = self.session.post(url, data=form, timeout=self.timeout, verify=self.verify)
            except requests.RequestException as failure:
                self._count(TOKEN_ENDPOINT, "connection_error", started)
                if not retries.failed():
                    raise ConnectionFailedError(type(failure).__name__, endpoint=TOKEN_ENDPOINT) from None
                retries.wait("connection")
                continue
            if response.status_code >= 500 and retries.failed():
                self._count(TOKEN_ENDPOINT, "server_error", started)
                retries.wait("server_error")
                continue
            answer = _json_or_none(response)
            if response.ok and isinstance(answer, dict) and answer.get("access_token"):
                self._count(TOKEN_ENDPOINT, "ok", started)
                return answer
            self._count(TOKEN_ENDPOINT, "error", started)
            reason = answer.get("error_description") or answer.get("error") if isinstance(answer, dict) else None
            raise TokenRefreshError(
                str(reason or response.reason or "token refused"), endpoint=TOKEN_ENDPOINT, status=response.status_code
            )

    @staticmethod
    def _error(response: requests.Response, endpoint: str) -> CampaignMonitorError:
        return error_for(response.status_code, _json_or_none(response), REDACTOR.text(response.reason or ""), endpoint)

    def _count(self, endpoint: str, outcome: str, started: float) -> None:
        self.counts.add(endpoint, outcome)
        API_CALLS.labels(system=SYSTEM, endpoint=endpoint, outcome=outcome).inc()
        API_CALL_SECONDS.labels(system=SYSTEM).observe(time.perf_counter() - started)
