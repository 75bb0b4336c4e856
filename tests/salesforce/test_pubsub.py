"""The sandbox's Pub/Sub API over real gRPC: topics and Avro schemas, the ChangeEventHeader as Salesforce
fills it, pull-based flow control with keepalives, replay within the 72-hour retention and a clear error
outside it, UNAUTHENTICATED once the token expires, CDC turned off for an object, and TLS."""

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import grpc
import pytest
import requests

from cmsync.protocols.pubsub import pubsub_api_pb2 as messages
from cmsync.protocols.pubsub import pubsub_api_pb2_grpc as service
from cmsync_sandbox.salesforce import SalesforceEmulator
from cmsync_sandbox.salesforce.pubsub import PubSubServer
from cmsync_sandbox.server import SandboxServer

CONTACTS = "/data/ContactChangeEvent"
LATEST, EARLIEST, CUSTOM = 0, 1, 2


@pytest.fixture
def pubsub(emulator: SalesforceEmulator) -> Iterator[PubSubServer]:
    emulator.events.controls.keepalive_seconds = 0.3
    server = emulator.serve_pubsub().start()
    yield server
    server.stop()


@pytest.fixture
def stub(pubsub: PubSubServer) -> Iterator[Any]:
    with grpc.insecure_channel(pubsub.address) as channel:
        yield service.PubSubStub(channel)


def _metadata(emulator: SalesforceEmulator, token: str, server: SandboxServer) -> tuple[tuple[str, str], ...]:
    return (("accesstoken", token), ("instanceurl", server.url), ("tenantid", emulator.org_id))


def _decode(stub: Any, metadata: Any, event: Any) -> dict[str, Any]:
    schema = stub.GetSchema(messages.SchemaRequest(schema_id=event.event.schema_id), metadata=metadata)
    parsed = fastavro.parse_schema(json.loads(schema.schema_json))
    record = fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed, None)
    assert isinstance(record, dict)
    return record


def _subscribe(stub: Any, metadata: Any, *requests_: Any) -> Iterator[Any]:
    return stub.Subscribe(iter(requests_), metadata=metadata, timeout=10)


def _fields_in(bitmap: list[str], schema_json: str) -> set[str]:
    """The top-level field names a ``0x…`` bitmap names."""
    names = [field["name"] for field in json.loads(schema_json)["fields"]]
    bits = int(bitmap[0], 16) if bitmap else 0
    return {name for position, name in enumerate(names) if bits >> position & 1}


def test_events_carry_the_change_event_header_salesforce_fills(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, stub: Any
) -> None:
    metadata = _metadata(emulator, token, server)
    topic = stub.GetTopic(messages.TopicRequest(topic_name=CONTACTS), metadata=metadata)
    assert topic.can_subscribe and topic.schema_id and topic.tenant_guid == emulator.org_id
    person = emulator.create("Contact", {"LastName": "García", "Email": "g@cdc.example", "Title": "Chef"})
    headers = {"Authorization": f"Bearer {token}", "Sforce-Call-Options": "client=cmsync, defaultNamespace=x"}
    base = f"{server.url}/services/data/v61.0"
    ids = [emulator.create("Contact", {"LastName": f"O'Neil {n}"}) for n in range(3)]
    body = {"allOrNone": True, "records": [{"attributes": {"type": "Contact"}, "Id": i, "Title": "Same"} for i in ids]}
    assert requests.patch(f"{base}/composite/sobjects", json=body, headers=headers, timeout=10).ok
    answer = requests.patch(f"{base}/sobjects/Contact/{person}", json={"Title": None}, headers=headers, timeout=10)
    assert answer.status_code == 204
    stream = _subscribe(stub, metadata, messages.FetchRequest(topic_name=CONTACTS, replay_preset=EARLIEST,
                                                              num_requested=10))  # fmt: skip
    events: list[Any] = []
    while len(events) < 6:
        events.extend(next(stream).events)
    stream.cancel()
    created, *_, together, nulled = [_decode(stub, metadata, event) for event in events]
    schema_json = stub.GetSchema(messages.SchemaRequest(schema_id=topic.schema_id), metadata=metadata).schema_json
    header = created["ChangeEventHeader"]
    assert (header["changeType"], header["recordIds"], header["changeOrigin"]) == ("CREATE", [person], "")
    assert header["commitUser"] == emulator.admin_user_id and created["Title"] == "Chef"
    header = together["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE" and sorted(header["recordIds"]) == sorted(ids)
    assert header["changeOrigin"] == "com/salesforce/api/rest/61.0;client=cmsync"
    assert header["commitUser"] == emulator.integration_user_id and together["Title"] == "Same"
    assert _fields_in(header["changedFields"], schema_json) == {"Title", "LastModifiedDate", "LastModifiedById"}
    header = nulled["ChangeEventHeader"]
    assert _fields_in(header["nulledFields"], schema_json) == {"Title"}
    assert header["transactionKey"] != together["ChangeEventHeader"]["transactionKey"]


def test_flow_control_sends_what_was_asked_for_and_keepalives_between(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, stub: Any
) -> None:
    metadata = _metadata(emulator, token, server)
    for n in range(3):
        emulator.create("Contact", {"LastName": f"Flow {n}"})
    more = messages.FetchRequest(num_requested=2)
    requests_: list[Any] = [messages.FetchRequest(topic_name=CONTACTS, replay_preset=EARLIEST, num_requested=1)]
    stop = threading.Event()
    stream = stub.Subscribe(_later(requests_, stop), metadata=metadata, timeout=10)
    first = next(stream)
    assert len(first.events) == 1 and first.pending_num_requested == 0
    keepalive = next(stream)
    assert not keepalive.events and keepalive.latest_replay_id
    requests_.append(more)
    delivered = 0
    while delivered < 2:
        delivered += len(next(stream).events)
    stop.set()
    stream.cancel()
    assert delivered == 2


def _later(requests_: list[Any], stop: threading.Event) -> Iterator[Any]:
    """Requests sent as the test appends them, until ``stop``."""
    sent = 0
    while not stop.is_set():
        if sent < len(requests_):
            yield requests_[sent]
            sent += 1
        else:
            stop.wait(0.02)


def test_replay_within_the_retention_and_a_clear_error_outside_it(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, stub: Any
) -> None:
    metadata = _metadata(emulator, token, server)
    for n in range(3):
        emulator.create("Contact", {"LastName": f"Replay {n}"})
    earliest = messages.FetchRequest(topic_name=CONTACTS, replay_preset=EARLIEST, num_requested=1)
    stream = _subscribe(stub, metadata, earliest)
    stored = next(stream).events[0].replay_id
    stream.cancel()
    resumed = _subscribe(stub, metadata, messages.FetchRequest(topic_name=CONTACTS, replay_preset=CUSTOM,
                                                               replay_id=stored, num_requested=5))  # fmt: skip
    names = []
    while len(names) < 2:
        names.extend(_decode(stub, metadata, event)["LastName"] for event in next(resumed).events)
    resumed.cancel()
    assert names == ["Replay 1", "Replay 2"]
    emulator.clock.advance(73 * 3600)
    emulator.create("Contact", {"LastName": "Later"})
    fresh = stub_token(emulator, server)
    expired = _subscribe(stub, _metadata(emulator, fresh, server), messages.FetchRequest(
        topic_name=CONTACTS, replay_preset=CUSTOM, replay_id=stored, num_requested=5))  # fmt: skip
    with pytest.raises(grpc.RpcError) as failure:
        next(expired)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "72-hour retention" in failure.value.details()
    trailers = dict(failure.value.trailing_metadata())
    assert trailers["error-code"] == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"


def stub_token(emulator: SalesforceEmulator, server: SandboxServer) -> str:
    """A token signed in now (the org's clock may have moved past an earlier one's life)."""
    form = {"grant_type": "refresh_token", "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret",
            "refresh_token": "sandbox-refresh-token"}  # fmt: skip
    answer = requests.post(f"{server.url}/services/oauth2/token", data=form, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def test_an_expired_token_ends_the_stream_unauthenticated(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, stub: Any
) -> None:
    metadata = _metadata(emulator, token, server)
    stream = _subscribe(stub, metadata, messages.FetchRequest(topic_name=CONTACTS, num_requested=5))
    assert not next(stream).events
    emulator.expire_tokens()
    with pytest.raises(grpc.RpcError) as failure:
        next(stream)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetTopic(messages.TopicRequest(topic_name=CONTACTS), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_topic_without_cdc_is_not_found(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, stub: Any
) -> None:
    answer = requests.post(f"{server.url}/_sandbox/pubsub", json={"disabled": ["Lead"]}, timeout=10)
    assert answer.ok and answer.json()["disabled"] == ["Lead"]
    with pytest.raises(grpc.RpcError) as failure:
        leads = messages.TopicRequest(topic_name="/data/LeadChangeEvent")
        stub.GetTopic(leads, metadata=_metadata(emulator, token, server))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Change Data Capture is off" in failure.value.details()


def test_tls_like_the_rest_side(
    emulator: SalesforceEmulator, server: SandboxServer, token: str, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    secure = emulator.serve_pubsub(ca_file=ca_file).start()
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca_file.read_bytes())
        with grpc.secure_channel(f"localhost:{secure.port}", credentials) as channel:
            topic = service.PubSubStub(channel).GetTopic(
                messages.TopicRequest(topic_name=CONTACTS), metadata=_metadata(emulator, token, server), timeout=10
            )
        assert topic.can_subscribe
    finally:
        secure.stop()
