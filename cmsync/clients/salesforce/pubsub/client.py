"""cmsync's Pub/Sub API client: topics, schemas and Subscribe streams, signed in as the REST client is.

Each call carries the ``accesstoken``, ``instanceurl`` and ``tenantid`` metadata of the REST client's
current sign-in. A Subscribe stream is read on a thread of its own; what it receives (responses, then the
error that ended it) goes to a queue the caller reads, tagged with the stream, so that one thread acts on
every topic's events in order. Flow control is the caller's: ``Stream.request(n)`` asks for ``n`` more.
"""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.protocols.pubsub import pubsub_api_pb2 as messages
from cmsync.protocols.pubsub import pubsub_api_pb2_grpc as service

MAX_REQUESTED = 100
"""Events one FetchRequest may ask for."""
LATEST, EARLIEST, CUSTOM = 0, 1, 2
CALL_TIMEOUT = 30.0


def topic_of(object_name: str) -> str:
    return f"/data/{object_name}ChangeEvent"


def error_code(error: grpc.RpcError) -> str:
    """The Pub/Sub API's own error code, from the trailing metadata of a failed call ('' if none)."""
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    return next((str(value) for key, value in trailers or () if key == "error-code"), "")


@dataclass(frozen=True)
class Received:
    """What a stream delivered: a FetchResponse, or the error that ended it (``response`` None then)."""

    stream: "Stream"
    response: Any = None
    error: grpc.RpcError | None = None


class Stream:
    """One Subscribe call: its requests go through a queue, its responses to the shared ``inbox``."""

    def __init__(self, client: "PubSubClient", object_name: str, first: Any, inbox: "queue.Queue[Received]") -> None:
        self.object_name = object_name
        self.responded = threading.Event()
        self._requests: queue.Queue[Any] = queue.Queue()
        self._requests.put(first)
        self._inbox = inbox
        self._call = client.stub.Subscribe(self._outgoing(), metadata=client.metadata())
        self._thread = threading.Thread(target=self._read, name=f"pubsub {object_name}", daemon=True)
        self._thread.start()

    def _outgoing(self) -> Iterator[Any]:
        while (request := self._requests.get()) is not None:
            yield request

    def _read(self) -> None:
        try:
            for response in self._call:
                self.responded.set()
                self._inbox.put(Received(self, response=response))
        except grpc.RpcError as error:
            self._inbox.put(Received(self, error=error))
        finally:
            self._requests.put(None)

    def request(self, count: int) -> None:
        """Ask for ``count`` more events (at most 100 a request)."""
        while count > 0:
            self._requests.put(messages.FetchRequest(num_requested=min(count, MAX_REQUESTED)))
            count -= MAX_REQUESTED

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()


class PubSubClient:
    """The Pub/Sub API of the org the REST client signs in to."""

    def __init__(self, endpoint: str, salesforce: SalesforceClient, *, tls: bool, ca_file: Path | None) -> None:
        self.salesforce = salesforce
        if tls:
            roots = ca_file.read_bytes() if ca_file is not None else None
            self.channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=roots))
        else:
            self.channel = grpc.insecure_channel(endpoint)
        self.stub = service.PubSubStub(self.channel)
        self._stale: Any = None

    def metadata(self) -> tuple[tuple[str, str], ...]:
        signed_in = self.salesforce.sign_in(self._stale)
        self._stale = None
        tenant = signed_in.identity_url.rstrip("/").split("/")[-2] if signed_in.identity_url else ""
        return (
            ("accesstoken", signed_in.access_token.get_secret_value()),
            ("instanceurl", signed_in.instance_url),
            ("tenantid", tenant),
        )

    def token_refused(self) -> None:
        """The token was refused (UNAUTHENTICATED): the next call signs in again."""
        self._stale = self.salesforce.sign_in()

    def topic(self, name: str) -> Any:
        return self.stub.GetTopic(
            messages.TopicRequest(topic_name=name), metadata=self.metadata(), timeout=CALL_TIMEOUT
        )

    def schema_json(self, schema_id: str) -> str:
        request = messages.SchemaRequest(schema_id=schema_id)
        return str(self.stub.GetSchema(request, metadata=self.metadata(), timeout=CALL_TIMEOUT).schema_json)

    def subscribe(self, object_name: str, replay_id: bytes | None, inbox: "queue.Queue[Received]") -> Stream:
        """A stream of the object's change events after ``replay_id`` (the newest ones when None)."""
        first = messages.FetchRequest(
            topic_name=topic_of(object_name),
            replay_preset=CUSTOM if replay_id else LATEST,
            replay_id=replay_id or b"",
            num_requested=MAX_REQUESTED,
        )
        return Stream(self, object_name, first, inbox)

    def close(self) -> None:
        self.channel.close()
