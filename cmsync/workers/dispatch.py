"""Where a one-off command's work runs: in this process when the jobs run here, else on the workers."""

from collections.abc import Callable

from cmsync.config import Settings
from cmsync.state import StateStore
from cmsync.systems import Systems
from cmsync.workers.placement import Placement


def run_or_queue(settings: Settings, work: Callable[[Systems], int], queue: Callable[[], str] | None) -> int:
    """Do ``work`` here or, when the jobs run on workers elsewhere and there is a ``queue`` (which sends the
    work and says so), queue it.

    Returns the work's exit status, 0 once queued, or 1 when the installation is disconnected."""
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        if not store.connection.connected():
            print("disconnected: run `cmsync connect` first")
            return 1
        placement = Placement(settings.broker)
        try:
            if not placement.in_process and queue is not None:
                placement.bind_actors()
                print(queue())
                return 0
        finally:
            placement.close()
        systems = Systems.from_settings(settings, store)
        try:
            return work(systems)
        finally:
            systems.close()
    finally:
        store.close()
