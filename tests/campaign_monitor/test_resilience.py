"""Rate limiting, server errors, connection failures and expired tokens: the client slows down, retries,
refreshes, and only then raises; credentials never reach a log line, an error or a repr."""

import io
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import structlog

from cmsync.clients.campaign_monitor import (
    ApiKey,
    CampaignMonitorClient,
    ConnectionFailedError,
    ErrorCode,
    OAuth,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    SubscriberState,
    TokenRefreshError,
    UnauthorizedError,
    token_url,
)
from cmsync.logs import configure_logging
from cmsync_sandbox.campaign_monitor import (
    DEFAULT_API_KEY,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    OAUTH_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    CampaignMonitorEmulator,
)
from tests.campaign_monitor.conftest import FAST_RETRY, new_list
from tests.waiting import wait_until


def _statuses(cm: CampaignMonitorEmulator) -> list[int]:
    return [call.status for call in cm.calls.calls()]


def _oauth_client(api_url: str, refresh_token: str = OAUTH_REFRESH_TOKEN) -> CampaignMonitorClient:
    auth = OAuth(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, refresh_token, token_url=token_url(api_url))
    return CampaignMonitorClient(api_url, auth, timeout=5.0, retry=FAST_RETRY)


def test_a_429_storm_slows_paging_down_and_loses_nothing(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    mailing_list = new_list(cm, 3500)
    cm.calls.clear()
    cm.faults.rate_limit(every=2, reset=0)
    emails = [subscriber.email for subscriber in client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)]
    assert len(set(emails)) == 3500
    counts = client.counts.snapshot()["list_subscribers"]
    assert counts["ok"] == 4 and counts["rate_limited"] >= 3
    assert _statuses(cm).count(429) == counts["rate_limited"]


def test_a_timed_storm_is_waited_out_as_x_ratelimit_reset_says(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    cm.faults.rate_limit(seconds=1.0)
    assert client.client_details(SANDBOX_CLIENT_ID).company_name == "Harbour Outfitters"
    assert client.counts.snapshot()["client_details"] == {"rate_limited": 1, "ok": 1}


def test_429_without_rate_limit_headers_backs_off(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    cm.faults.rate_limit(every=2, headers=False)
    for _ in range(4):
        client.clients()
    assert client.counts.snapshot()["clients"] == {"ok": 4, "rate_limited": 3}


def test_an_endless_rate_limit_raises_after_the_policys_patience(api_url: str, cm: CampaignMonitorEmulator) -> None:
    cm.faults.rate_limit(every=1, headers=False)
    impatient = RetryPolicy(base_delay=0.01, max_delay=0.02, rate_limit_patience=0.1)
    with (
        CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), retry=impatient) as client,
        pytest.raises(RateLimitedError) as raised,
    ):
        client.clients()
    assert (raised.value.status, raised.value.code, raised.value.message) == (429, 429, "Rate limit exceeded")


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(cm: CampaignMonitorEmulator, client: CampaignMonitorClient, status: int) -> None:
    cm.faults.server_errors(next_calls=2, status=status)
    assert len(client.clients()) == 2
    assert client.counts.snapshot()["clients"] == {"server_error": 2, "ok": 1}


def test_server_errors_on_every_attempt_raise(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    cm.faults.server_errors(rate=1.0, status=503)
    with pytest.raises(ServerError) as raised:
        client.clients()
    assert (raised.value.status, raised.value.code) == (503, None)
    assert _statuses(cm) == [503] * FAST_RETRY.attempts


def test_a_share_of_server_errors_is_absorbed(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    mailing_list = new_list(cm, 5000)
    cm.faults.server_errors(rate=0.3, status=500, seed=4)
    assert sum(1 for _ in client.subscribers(mailing_list.list_id, SubscriberState.ACTIVE)) == 5000
    assert client.counts.errors("list_subscribers") == _statuses(cm).count(500) > 0


def test_connection_refused_raises_after_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with CampaignMonitorClient(f"http://127.0.0.1:{port}/api/v3.3", ApiKey("k" * 32), retry=FAST_RETRY) as client:
        with pytest.raises(ConnectionFailedError) as raised:
            client.clients()
        assert client.counts.snapshot() == {"clients": {"connection_error": FAST_RETRY.attempts}}
    assert raised.value.status is None


def test_a_slow_answer_times_out(api_url: str, cm: CampaignMonitorEmulator) -> None:
    cm.faults.set_latency(0.5)
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    with (
        CampaignMonitorClient(api_url, ApiKey(DEFAULT_API_KEY), timeout=0.1, retry=retry) as client,
        pytest.raises(ConnectionFailedError, match="ReadTimeout"),
    ):
        client.clients()
    wait_until(lambda: _statuses(cm) == [200, 200], "both abandoned tries answered (not in the next test's calls)")


def test_latency_is_added_to_every_call(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    cm.faults.set_latency(0.05)
    client.clients()
    assert cm.calls.calls()[-1].duration >= 0.05


def test_lowering_the_latency_lets_the_calls_waiting_go(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    cm.faults.set_latency(600)
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(client.clients)
        wait_until(lambda: cm.calls.waiting == 1, "the call held")
        assert not answer.done()
        cm.faults.set_latency(0)
        assert len(answer.result(timeout=10)) == 2
    assert cm.calls.waiting == 0


def test_an_expired_token_is_refreshed_once_and_the_call_retried(api_url: str, cm: CampaignMonitorEmulator) -> None:
    with _oauth_client(api_url) as client:
        client.clients()
        cm.tokens.expire_all()
        assert len(client.clients()) == 2
        assert client.counts.snapshot()["clients"] == {"ok": 2, "token_expired": 1}
        assert client.counts.snapshot()["oauth_token"] == {"ok": 2}
    assert [(call.endpoint, call.status) for call in cm.calls.calls()] == [
        ("POST /oauth/token", 200),
        ("GET /clients", 200),
        ("GET /clients", 401),
        ("POST /oauth/token", 200),
        ("GET /clients", 200),
    ]


def test_threads_sharing_a_client_refresh_an_expired_token_once(api_url: str, cm: CampaignMonitorEmulator) -> None:
    with _oauth_client(api_url) as client:
        client.clients()
        cm.tokens.expire_all()
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: client.clients(), range(8)))
        assert all(len(answer) == 2 for answer in answers)
        assert client.counts.snapshot()["oauth_token"] == {"ok": 2}


def test_a_token_that_stays_expired_raises_121(api_url: str, cm: CampaignMonitorEmulator) -> None:
    cm.tokens.lifetime = 0
    with _oauth_client(api_url) as client, pytest.raises(UnauthorizedError) as raised:
        client.clients()
    assert (raised.value.status, raised.value.code, raised.value.message) == (401, 121, "Expired OAuth Token")
    assert raised.value.code == ErrorCode.EXPIRED_OAUTH_TOKEN


def test_a_refused_refresh_token_raises(api_url: str) -> None:
    with (
        _oauth_client(api_url, refresh_token="not-a-refresh-token") as client,
        pytest.raises(TokenRefreshError) as raised,
    ):
        client.clients()
    assert raised.value.status == 400
    assert "not-a-refresh-token" not in str(raised.value)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, as JSON lines; logging is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("json", "debug", buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_credentials_never_appear_in_logs_errors_or_reprs(
    api_url: str, cm: CampaignMonitorEmulator, log_lines: io.StringIO
) -> None:
    secret_key = "cmsync-test-key-9f8e7d6c5b4a"
    cm.api_keys.add(secret_key)
    cm.faults.rate_limit(every=2, reset=0)
    cm.faults.server_errors(next_calls=1)
    with CampaignMonitorClient(api_url, ApiKey(secret_key), retry=FAST_RETRY) as client:
        client.clients()
        client.lists(SANDBOX_CLIENT_ID)
        texts = [repr(client), repr(client.transport.auth)]
    with _oauth_client(api_url) as oauth_client:
        oauth_client.clients()
        cm.tokens.expire_all()
        oauth_client.clients()
        texts.append(repr(oauth_client.transport.auth))
    with CampaignMonitorClient(api_url, ApiKey("cmsync-wrong-key-0a1b2c3d"), retry=FAST_RETRY) as wrong:
        with pytest.raises(UnauthorizedError) as raised:
            wrong.clients()
        texts.append(str(raised.value))
    logged = log_lines.getvalue()
    assert "campaign monitor call retried" in logged and "token expired" in logged
    for secret in (
        secret_key,
        "cmsync-wrong-key-0a1b2c3d",
        OAUTH_CLIENT_SECRET,
        OAUTH_REFRESH_TOKEN,
        "sandbox-access-",
    ):
        assert secret not in logged
        assert all(secret not in text for text in texts)
