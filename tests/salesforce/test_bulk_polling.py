"""A big Bulk job is polled a few times, at the pace it shows, rather than once per growing step of the
poll policy; a later job is first polled when the pace of the one before says it may be done."""

import re

import pytest

from cmsync.clients.salesforce import PollPolicy
from cmsync_sandbox.salesforce import SalesforceEmulator
from tests.salesforce.conftest import make_client

JOB_STATUS = re.compile(r"/jobs/ingest/[^/]+/?$")


@pytest.fixture
def steady_org():
    """Jobs of 0.1 s per step of 200 rows: 2,000 rows take over a second."""
    org = SalesforceEmulator(bulk_step_seconds=0.1, bulk_chunk_size=200)
    with org.serve() as server:
        yield org, server
    org.close()


def _polls(org: SalesforceEmulator) -> int:
    return sum(call.method == "GET" and bool(JOB_STATUS.search(call.path)) for call in org.calls.calls())


def test_a_big_job_is_polled_at_its_own_pace(steady_org) -> None:
    org, server = steady_org
    poll = PollPolicy(initial=0.05, maximum=5.0, factor=1.5, timeout=60)
    client = make_client(server.url, bulk_threshold=2, poll=poll)
    for job in range(2):
        clients = [{"CM_Client_ID__c": f"{job:02x}{n:030x}", "Name": f"Client {n}"} for n in range(2_000)]
        org.calls.clear()
        results = client.upsert("CM_Client__c", "CM_Client_ID__c", clients)
        assert len(results) == 2_000 and all(result.success and result.created for result in results)
        assert _polls(org) <= 4, f"job {job} was polled {_polls(org)} times"
