"""The Pub/Sub API's gRPC service (``eventbus.v1.PubSub``) over the org's event bus: GetTopic, GetSchema
and Subscribe, with TLS like the REST side.

Every call is signed in with the ``accesstoken``, ``instanceurl`` and ``tenantid`` metadata; a stream
whose token expires ends with UNAUTHENTICATED. Subscribe is pull-based: the server sends no more events
than the client asked for (``num_requested``, at most 100 a request), and a keepalive with the latest
replay ID while it has none to send. A replay ID outside the 72-hour retention fails the subscription
with INVALID_ARGUMENT and the error code Salesforce gives for it.
"""

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from cmsync.protocols.pubsub import pubsub_api_pb2 as messages
from cmsync.protocols.pubsub import pubsub_api_pb2_grpc as service
from cmsync_sandbox.salesforce.oauth import OAuthServer
from cmsync_sandbox.salesforce.pubsub.bus import CDC_OBJECTS, EventBus, ReplayExpiredError, StoredEvent
from cmsync_sandbox.server import _certificate_authority

MAX_REQUESTED = 100
STREAMS = 32
"""Calls served at once (each open Subscribe stream holds one)."""
REPLAY_EXPIRED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.service.topic.not.found"
_TOPICS = {f"/data/{name}ChangeEvent": name for name in CDC_OBJECTS}


def replay_bytes(replay: int) -> bytes:
    return replay.to_bytes(8, "big")


class _PubSub(service.PubSubServicer):
    def __init__(self, bus: EventBus, oauth: OAuthServer, org_id: str, stopping: threading.Event) -> None:
        self.bus = bus
        self.oauth = oauth
        self.org_id = org_id
        self.stopping = stopping

    def _signed_in(self, context: grpc.ServicerContext) -> bool:
        metadata = dict(context.invocation_metadata())
        token = str(metadata.get("accesstoken", ""))
        return self.oauth.session(f"Bearer {token}") is not None

    def _check(self, context: grpc.ServicerContext) -> None:
        if not self._signed_in(context):
            context.set_trailing_metadata((("error-code", "sfdc.platform.eventbus.grpc.service.auth.error"),))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "The access token is invalid or has expired")

    def _topic(self, name: str, context: grpc.ServicerContext) -> str:
        sobject = _TOPICS.get(name)
        if sobject is None or not self.bus.enabled(sobject):
            context.set_trailing_metadata((("error-code", TOPIC_NOT_FOUND),))
            context.abort(grpc.StatusCode.NOT_FOUND, f"The topic {name} does not exist or Change Data Capture is off")
        assert sobject is not None
        return sobject

    def GetTopic(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._check(context)
        sobject = self._topic(request.topic_name, context)
        schema_id = self.bus.schemas[sobject].schema_id
        return messages.TopicInfo(
            topic_name=request.topic_name, tenant_guid=self.org_id, can_publish=False, can_subscribe=True,
            schema_id=schema_id, rpc_id=_rpc_id(),
        )  # fmt: skip

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._check(context)
        found = self.bus.by_id.get(request.schema_id)
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"No schema has the ID {request.schema_id}")
        assert found is not None
        return messages.SchemaInfo(schema_json=found.json_text, schema_id=found.schema_id, rpc_id=_rpc_id())

    def Subscribe(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:  # noqa: N802
        self._check(context)
        first = next(requests, None)
        if first is None:
            return
        sobject = self._topic(first.topic_name, context)
        bus = self.bus
        state = {"pending": min(MAX_REQUESTED, max(0, first.num_requested)), "open": True}
        with bus.condition:
            drops = bus.controls.drops
            try:
                given = int.from_bytes(first.replay_id, "big") if first.replay_id else None
                position = bus.start_after(int(first.replay_preset), given)
            except ReplayExpiredError:
                context.set_trailing_metadata((("error-code", REPLAY_EXPIRED),))
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "The Replay ID validation failed: it is outside the 72-hour retention window or not valid",
                )
        threading.Thread(
            target=_read_requests, args=(requests, bus, state), daemon=True, name="pubsub-requests"
        ).start()
        yield from self._deliver(sobject, position, state, drops, context)

    def _deliver(
        self, sobject: str, position: int, state: dict[str, Any], drops: int, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        bus = self.bus
        last_sent = time.monotonic()
        while context.is_active() and not self.stopping.is_set():
            self._check(context)
            with bus.condition:
                if bus.controls.drops != drops:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "The stream was closed by the server; resubscribe")
                if not state["open"]:
                    return
                delay_ms = bus.controls.delay_seconds * 1000
                now = bus.clock.milliseconds()
                committed_by = int(now - delay_ms)
                events = bus.after(position, sobject, state["pending"], committed_by) if state["pending"] else []
                if not events:
                    keepalive = bus.controls.keepalive_seconds
                    if time.monotonic() - last_sent < keepalive:
                        bus.condition.wait(timeout=min(0.2, keepalive) if delay_ms else keepalive)
                        continue
                state["pending"] -= len(events)
                pending = state["pending"]
                latest = events[-1].replay if events else max(position, bus.last_replay)
            if events:
                position = events[-1].replay
            last_sent = time.monotonic()
            yield messages.FetchResponse(
                events=[_consumer_event(event) for event in events],
                latest_replay_id=replay_bytes(latest),
                rpc_id=_rpc_id(),
                pending_num_requested=pending,
            )


def _read_requests(requests: Iterator[Any], bus: EventBus, state: dict[str, Any]) -> None:
    """Add each later request's ``num_requested`` to what the stream may send. A client that closes its side
    keeps receiving what it asked for; a cancelled call ends the stream."""
    try:
        for request in requests:
            with bus.condition:
                state["pending"] = min(MAX_REQUESTED, state["pending"] + max(0, request.num_requested))
                bus.condition.notify_all()
    except grpc.RpcError:
        with bus.condition:
            state["open"] = False
            bus.condition.notify_all()


def _consumer_event(event: StoredEvent) -> Any:
    producer = messages.ProducerEvent(id=event.event_id, schema_id=event.schema_id, payload=event.payload)
    return messages.ConsumerEvent(event=producer, replay_id=replay_bytes(event.replay))


def _rpc_id() -> str:
    return str(uuid.uuid4())


class PubSubServer:
    """The gRPC server on ``host:port`` (port 0 picks one); TLS from the sandbox's CA when ``ca_file`` is given."""

    def __init__(
        self, bus: EventBus, oauth: OAuthServer, org_id: str, *, host: str, port: int, ca_file: Path | None
    ) -> None:
        self._stopping = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=STREAMS, thread_name_prefix="pubsub"))
        service.add_PubSubServicer_to_server(_PubSub(bus, oauth, org_id, self._stopping), self._server)
        self.tls = ca_file is not None
        if ca_file is not None:
            authority = _certificate_authority()
            issued = authority.issue_cert(host, "localhost")
            ca_file.parent.mkdir(parents=True, exist_ok=True)
            authority.cert_pem.write_to_path(str(ca_file))
            credentials = grpc.ssl_server_credentials(
                [(issued.private_key_pem.bytes(), b"".join(blob.bytes() for blob in issued.cert_chain_pems))]
            )
            self.port = self._server.add_secure_port(f"{host}:{port}", credentials)
        else:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        self.host = host
        self._bus = bus

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "PubSubServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._bus.condition:
            self._bus.condition.notify_all()
        self._server.stop(grace=1).wait(5)
