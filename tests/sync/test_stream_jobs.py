"""A long stream goes to Salesforce as one Bulk job (a new one only at the upload limit), answered row by
row: locked rows and a key sent twice are written once more, the watermark moves once Salesforce
answered, and a stream with nothing new writes nothing. A job that answered every row is recorded from
what was spooled (its successful results are not read back); one that did not is read row by row."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.clients.salesforce import PollPolicy, RefreshTokenAuth, RetryPolicy, SalesforceClient, bulk
from cmsync.clients.salesforce.soql import literal
from cmsync.mapping.records import MEMBER
from cmsync.state import StateStore
from cmsync.sync.streams import StreamWriter
from cmsync_sandbox.salesforce import SalesforceEmulator
from cmsync_sandbox.server import SandboxServer

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.002, max_delay=0.01, limit_attempts=2, limit_delay=0.002)
FAST_POLL = PollPolicy(initial=0.01, maximum=0.05, factor=1.5, timeout=30)
EMAILS = ["josé@example.com", "田中@example.jp", "o'brien@example.org", "zoë🎉@example.org", "x" * 90 + "@example.com"]


@pytest.fixture(scope="module")
def org() -> Iterator[tuple[SalesforceEmulator, SandboxServer]]:
    emulator = SalesforceEmulator(bulk_step_seconds=0.01, bulk_chunk_size=5_000)
    with emulator.serve() as server:
        yield emulator, server
    emulator.close()


@pytest.fixture
def salesforce(org: tuple[SalesforceEmulator, SandboxServer]) -> Iterator[SalesforceClient]:
    emulator, server = org
    emulator.reset()
    auth = RefreshTokenAuth(server.url, "sandbox-client-id", "sandbox-client-secret", "sandbox-refresh-token")
    client = SalesforceClient(server.url, auth, bulk_threshold=50, retry=FAST_RETRY, poll=FAST_POLL)
    yield client
    client.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def _member(n: int, state: str = "Active") -> dict[str, object]:
    email = f"{n}.{EMAILS[n % len(EMAILS)]}"
    return {
        "CM_Member_Key__c": f"l1:{email.lower()}",
        "Name": email[:80],
        "CM_Email__c": email,
        "CM_Subscriber_Name__c": f'Ana O\'Neil, "{n}"\nsecond line' if n % 7 == 0 else None,
        "CM_State__c": state,
        "CM_Date__c": f"2026-11-{1 + n % 28:02d}T08:00:00.000Z",
    }


def _write(salesforce: SalesforceClient, store: StateStore, members: list[dict[str, object]]) -> StreamWriter:
    writer = StreamWriter(salesforce, store, None, MEMBER, "members:l1:active", digest_stream="members:l1")
    for n, member in enumerate(members):
        writer.add(member, f"2026-11-30 08:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}")
    writer.flush()
    return writer


def _jobs(emulator: SalesforceEmulator) -> list[str]:
    return [call.path for call in emulator.calls.calls() if call.method == "POST" and call.path.endswith("/ingest")]


def _held(salesforce: SalesforceClient) -> dict[str, dict[str, object]]:
    rows = salesforce.query("SELECT CM_Member_Key__c, CM_Email__c, CM_Subscriber_Name__c FROM CM_List_Member__c")
    return {str(row["CM_Member_Key__c"]): row for row in rows}


def test_a_long_stream_is_one_job_and_a_second_pass_writes_nothing(
    org: tuple[SalesforceEmulator, SandboxServer], salesforce: SalesforceClient, store: StateStore
) -> None:
    emulator = org[0]
    members = [_member(n) for n in range(12_000)]
    writer = _write(salesforce, store, members)

    assert len(_jobs(emulator)) == 1
    assert not [call for call in emulator.calls.calls() if "Results" in call.path]
    held = _held(salesforce)
    assert len(held) == 12_000 and writer.totals.created == 12_000
    for member in members[:50]:
        assert held[str(member["CM_Member_Key__c"])]["CM_Email__c"] == member["CM_Email__c"]
        assert held[str(member["CM_Member_Key__c"])]["CM_Subscriber_Name__c"] == member["CM_Subscriber_Name__c"]
    assert store.watermarks.get("members:l1:active") == "2026-11-30 08:19:59.011999"

    emulator.calls.clear()
    again = _write(salesforce, store, members)
    assert again.totals.unchanged == 12_000 and again.totals.imported == 0
    assert not [call for call in emulator.calls.calls() if "/jobs/ingest" in call.path or "/composite/" in call.path]


def test_a_stream_past_the_upload_limit_takes_a_job_per_part(
    org: tuple[SalesforceEmulator, SandboxServer],
    salesforce: SalesforceClient,
    store: StateStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "MAX_JOB_BYTES", 40_000)
    members = [_member(n) for n in range(600)]
    writer = _write(salesforce, store, members)
    assert len(_jobs(org[0])) >= 3
    assert set(_held(salesforce)) == {member["CM_Member_Key__c"] for member in members}
    assert writer.totals.created == 600 and writer.totals.rejected == 0


def test_locked_rows_and_a_key_sent_twice_are_written_once_more(
    org: tuple[SalesforceEmulator, SandboxServer], salesforce: SalesforceClient, store: StateStore
) -> None:
    emulator = org[0]
    emulator.faults.update({"lock_next": 3})
    members = [_member(n) for n in range(1_500)]
    moved = {**members[10], "CM_State__c": "Unsubscribed", "CM_Date__c": "2026-11-29T09:00:00.000Z"}
    writer = _write(salesforce, store, [*members, moved])

    assert writer.totals.rejected == 0 and not store.rejections.list("members:l1:active")
    soql = f"SELECT CM_State__c FROM CM_List_Member__c WHERE CM_Member_Key__c = {literal(moved['CM_Member_Key__c'])}"
    held = salesforce.query(soql)
    assert [row["CM_State__c"] for row in held] == ["Unsubscribed"]
    assert len(_held(salesforce)) == 1_500


def test_rows_are_recorded_from_the_spool_refused_ones_are_offered_again_and_rewrites_are_counted(
    org: tuple[SalesforceEmulator, SandboxServer], salesforce: SalesforceClient, store: StateStore
) -> None:
    emulator = org[0]
    members = [_member(n) for n in range(200)]
    members[7] = {**members[7], "Name": "x" * 81}
    first = _write(salesforce, store, members)
    assert (first.totals.created, first.totals.rejected) == (199, 1)
    refused = [rejection.key for rejection in store.rejections.list("members:l1:active")]
    assert refused == [members[7]["CM_Member_Key__c"]]
    assert [call for call in emulator.calls.calls() if call.path.endswith("/failedResults/")]

    members[7] = {**members[7], "Name": "fixed"}
    for n in range(100, 160):
        members[n] = {**members[n], "CM_State__c": "Unsubscribed"}
    emulator.calls.clear()
    second = _write(salesforce, store, members)
    assert (second.totals.created, second.totals.rewritten, second.totals.unchanged) == (1, 60, 139)
    assert second.totals.rejected == 0 and not store.rejections.list("members:l1:active")
    assert len(_jobs(emulator)) == 1 and not [call for call in emulator.calls.calls() if "Results" in call.path]
    states = list(salesforce.query("SELECT Id FROM CM_List_Member__c WHERE CM_State__c = 'Unsubscribed'"))
    assert len(states) == 60 and len(_held(salesforce)) == 200


def test_a_job_that_answers_no_row_leaves_each_refused_and_no_digest_kept(
    org: tuple[SalesforceEmulator, SandboxServer], salesforce: SalesforceClient, store: StateStore
) -> None:
    members = [{**_member(n), "CM_Not_A_Field__c": "x"} for n in range(60)]
    writer = _write(salesforce, store, members)
    assert (writer.totals.imported, writer.totals.rejected) == (0, 60)
    assert not store.digests.get("members:l1", [str(member["CM_Member_Key__c"]) for member in members])
    assert store.watermarks.get("members:l1:active") is not None
