"""Where a one-off command's work runs: in this process on the embedded broker, on the workers with RabbitMQ."""

from collections.abc import Callable

from cmsync.config import Settings
from cmsync.state import StateStore
from cmsync.systems import Systems
from cmsync.workers import actors
from cmsync.workers.broker import make_broker


def run_or_queue(settings: Settings, work: Callable[[Systems], int], queue: Callable[[], str] | None) -> int:
    """Do ``work`` here or, with RabbitMQ and a ``queue`` (which sends the work and says so), queue it.

    Returns the work's exit status, 0 once queued, or 1 when the installation is disconnected."""
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        if not store.connection.connected():
            print("disconnected: run `cmsync connect` first")
            return 1
        url = settings.broker.url.get_secret_value()
        if url != "embedded" and queue is not None:
            broker = make_broker(url)
            actors.bind(broker)
            try:
                print(queue())
            finally:
                broker.close()
            return 0
        systems = Systems.from_settings(settings, store)
        try:
            return work(systems)
        finally:
            systems.close()
    finally:
        store.close()
