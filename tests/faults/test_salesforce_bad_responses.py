"""Bad answers from Salesforce, spoilt by a proxy on the way: a 200 whose body is not JSON and a Bulk job
status in a state the API does not have are retried like a 5xx; when they persist, the error names the
call and never carries the access token."""

from collections.abc import Iterator

import pytest

from cmsync.clients.salesforce import PollPolicy, RefreshTokenAuth, RetryPolicy, SalesforceClient
from cmsync.clients.salesforce.errors import SalesforceBadResponseError
from cmsync_sandbox.salesforce import SalesforceEmulator
from tests.faults.corrupting_proxy import CorruptingProxy

RETRY = RetryPolicy(attempts=4, base_delay=0.002, max_delay=0.01)
POLL = PollPolicy(initial=0.01, maximum=0.05, factor=1.5, timeout=5)


@pytest.fixture
def proxy() -> Iterator[CorruptingProxy]:
    org = SalesforceEmulator(bulk_step_seconds=0.01)
    with org.serve() as server, CorruptingProxy(server.url) as running:
        for number in range(30):
            org.create("Contact", {"LastName": f"O'Brien {number}", "Email": f"o'brien.{number}@example.com"})
        yield running
    org.close()


def client_through(proxy: CorruptingProxy, **options: object) -> SalesforceClient:
    auth = RefreshTokenAuth(proxy.url, "sandbox-client-id", "sandbox-client-secret", "sandbox-refresh-token")
    return SalesforceClient(proxy.url, auth, retry=RETRY, poll=POLL, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["html", "truncated_json"])
def test_a_200_that_is_not_json_is_retried(proxy: CorruptingProxy, kind: str) -> None:
    client = client_through(proxy)
    proxy.spoil(kind, "/query", calls=2)
    rows = list(client.query("SELECT Id, LastName FROM Contact"))
    assert sorted(row["LastName"] for row in rows) == sorted(f"O'Brien {number}" for number in range(30))
    assert proxy.spoilt == 2


def test_a_200_that_is_never_json_raises_naming_the_call(proxy: CorruptingProxy) -> None:
    client = client_through(proxy)
    token = client.sign_in().access_token.get_secret_value()
    proxy.spoil("html", "/query", calls=-1)
    with pytest.raises(SalesforceBadResponseError) as raised:
        list(client.query("SELECT Id FROM Contact"))
    message = str(raised.value)
    assert message.startswith("Salesforce query: HTTP 200: GET /services/data/v61.0/query: the body is not JSON")
    assert "text/html" in message and token not in message
    assert proxy.spoilt == RETRY.attempts


def test_an_unknown_bulk_job_state_is_asked_again(proxy: CorruptingProxy) -> None:
    client = client_through(proxy, bulk_threshold=10)
    proxy.spoil("unknown_bulk_state", "/jobs/ingest/7", calls=2)
    records = [{"LastName": f"Bulk {number}", "Email": f"tanaka.{number}+bulk@example.jp"} for number in range(25)]
    results = client.insert("Contact", records)
    assert all(result.success for result in results) and proxy.spoilt == 2
    assert client.count("SELECT COUNT() FROM Contact WHERE LastName LIKE 'Bulk %'") == 25


def test_an_unknown_bulk_job_state_that_persists_raises_naming_the_call(proxy: CorruptingProxy) -> None:
    client = client_through(proxy, bulk_threshold=10)
    proxy.spoil("unknown_bulk_state", "/jobs/ingest/7", calls=-1)
    records = [{"LastName": f"Bulk {number}"} for number in range(25)]
    with pytest.raises(
        SalesforceBadResponseError, match=r"bulk_job: .*/jobs/ingest/7\w+: unknown Bulk job state 'Bogus'"
    ):
        client.insert("Contact", records)
