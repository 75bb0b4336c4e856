"""The message broker the actors run on: RabbitMQ in production, or embedded in the calling process.

RabbitMQ is used with publisher confirms (a send returns only once the broker has the message), and
with heartbeats and a blocked-connection timeout in the URL so an idle or blocked connection fails fast
instead of hanging. ``embedded`` is Dramatiq's in-memory broker with a worker on threads of this
process: the same actors, for the one-command demo and small installs. One RabbitMQ virtual host per
installation keeps its queues its own (``cmsync disconnect`` purges them). An outage of RabbitMQ is
logged once when it starts and once when it ends (see ``broker_outage``).
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

from cmsync.config.model import names_embedded_broker
from cmsync.workers import skipped_job_log, transient_job_log  # noqa: F401 - install the log filters for jobs

QUEUE = "cmsync"
"""The queue of every cmsync actor."""

_CONNECTION_DEFAULTS = {"heartbeat": "60", "blocked_connection_timeout": "300", "connection_attempts": "3"}


def rabbitmq_url(url: str) -> str:
    """``url`` with cmsync's connection defaults added where the operator did not set them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=urlencode({**_CONNECTION_DEFAULTS, **query})))


def purge_queued(broker: dramatiq.Broker) -> int:
    """Drop every message waiting in cmsync's queue and in its delay queue (retries and delayed sends);
    return how many were dropped. Dead letters stay for inspection; a message a worker already holds is
    not in a queue, and its actor checks the connection before it writes."""
    import pika.exceptions
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    assert isinstance(broker, RabbitmqBroker), "only RabbitMQ keeps queued messages outside a process"
    purged = 0
    for name in (QUEUE, dq_name(QUEUE)):
        try:
            purged += broker.channel.queue_purge(name).method.message_count
        except pika.exceptions.ChannelClosedByBroker as error:
            del broker.channel
            if error.reply_code != 404:
                raise
    return purged


def make_broker(url: str) -> dramatiq.Broker:
    """The broker ``broker.url`` names; ``embedded`` gives an in-process broker. pika and the outage log are
    loaded only for RabbitMQ, so that an embedded broker starts without them."""
    if names_embedded_broker(url):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from cmsync.workers.broker_outage import BROKER_OUTAGES

    BROKER_OUTAGES.watch(rabbitmq_url(url))
    return RabbitmqBroker(url=rabbitmq_url(url), confirm_delivery=True)


class EmbeddedWorkers:
    """Runs the actors on ``threads`` worker threads inside this process (``broker.url: embedded``)."""

    def __init__(self, broker: dramatiq.Broker, threads: int = 4) -> None:
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout_ms: int = 30_000) -> None:
        self.worker.stop(timeout=timeout_ms)
