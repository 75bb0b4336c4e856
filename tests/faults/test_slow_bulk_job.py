"""A Bulk job that runs long is reported while it runs, at growing intervals, rather than polled in silence."""

from itertools import pairwise

import pytest
from structlog.testing import capture_logs

from cmsync.clients.salesforce import PollPolicy
from cmsync_sandbox.salesforce import SalesforceEmulator
from tests.salesforce.conftest import make_client


@pytest.fixture
def slow_org():
    """Bulk jobs of 0.2 s per step of two rows: ten rows take about a second."""
    org = SalesforceEmulator(bulk_step_seconds=0.2, bulk_chunk_size=2)
    with org.serve() as server:
        yield server
    org.close()


def test_a_slow_job_is_reported_at_growing_intervals(slow_org) -> None:
    poll = PollPolicy(initial=0.02, maximum=0.05, timeout=30, report_after=0.15)
    client = make_client(slow_org.url, bulk_threshold=2, poll=poll)
    clients = [{"CM_Client_ID__c": f"{n:032x}"} for n in range(10)]
    with capture_logs() as logged:
        results = client.upsert("CM_Client__c", "CM_Client_ID__c", clients)
    assert all(result.success for result in results)
    still = [line for line in logged if line["event"].startswith("salesforce bulk job still InProgress after")]
    assert len(still) >= 2
    running = [line["running_seconds"] for line in still]
    assert running[0] >= 0.15 and all(later >= 2 * earlier * 0.9 for earlier, later in pairwise(running))
    finished = {line["job"] for line in logged if line["event"] == "salesforce bulk job finished"}
    assert {line["job"] for line in still} == finished
