"""A big Bulk job is polled a few times, at the pace it shows, rather than once per growing step of the
poll policy; a later job is first polled when the pace of the one before says it may be done."""

import re

import pytest

from cmsync.clients.salesforce import PollPolicy
from cmsync.state import StateStore
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


@pytest.fixture
def slow_org():
    """Jobs of 0.25 s per step of 500 rows: 500 µs a row, ten times what a client expects before it has seen
    a job end, so 2,000 rows take over a second."""
    org = SalesforceEmulator(bulk_step_seconds=0.25, bulk_chunk_size=500)
    with org.serve() as server:
        yield org, server
    org.close()


def test_a_new_process_polls_its_first_job_when_the_kept_pace_says_it_is_done(slow_org, tmp_path) -> None:
    org, server = slow_org
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    poll = PollPolicy(initial=0.05, maximum=5.0, factor=1.5, timeout=60)
    polls = []
    for process in range(2):
        client = make_client(server.url, bulk_threshold=2, poll=poll, paces=store.facts.bulk_pace)
        clients = [{"CM_Client_ID__c": f"{process:02x}{n:030x}", "Name": f"Client {n}"} for n in range(2_000)]
        org.calls.clear()
        results = client.upsert("CM_Client__c", "CM_Client_ID__c", clients)
        client.close()
        assert len(results) == 2_000 and all(result.success and result.created for result in results)
        polls.append(_polls(org))
    store.close()
    assert polls[0] >= 3, f"without a kept pace the first job is polled early and again: {polls}"
    assert polls[1] <= 2, f"the next process's first job was polled {polls[1]} times"


def test_a_job_whose_end_a_measured_pace_puts_past_the_longest_wait_is_polled_once_at_its_end(steady_org) -> None:
    org, server = steady_org
    poll = PollPolicy(initial=0.05, maximum=0.2, factor=1.5, timeout=60)
    client = make_client(server.url, bulk_threshold=2, poll=poll)
    polls = []
    for job in range(2):
        clients = [{"CM_Client_ID__c": f"{job:02x}{n:030x}", "Name": f"Client {n}"} for n in range(2_000)]
        org.calls.clear()
        results = client.upsert("CM_Client__c", "CM_Client_ID__c", clients)
        assert len(results) == 2_000 and all(result.success and result.created for result in results)
        polls.append(_polls(org))
    assert polls[1] <= 2, f"the second job, its end over a second away, was polled {polls[1]} times"
