"""One attempt at a time per job of a run (docs/DESIGN.md §6).

RabbitMQ delivers a message again when the connection that held it drops, though the worker that took it
may still be working on it: after a broker cut, two attempts of one list job would run side by side, and
one attempt's bookkeeping (the page digests it forgets and saves again) would lead the other to delete
rows Campaign Monitor still has. So an attempt holds its job's lease while it runs, renewed by the
heartbeat thread; another delivery waits until the lease is released (the first attempt ended) or can be
taken over (its process is gone), and then runs only when the job is not done yet.
"""

import secrets
import threading

from cmsync.logs import get_logger
from cmsync.process_identity import provably_dead
from cmsync.state import StateStore
from cmsync.state.heartbeat import heartbeat_timeout, process_owner
from cmsync.state.leases import Lease

log = get_logger(__name__)
WAIT_SECONDS = 1.0
"""How often a waiting delivery looks whether the attempt ahead of it ended."""


def _attempt_gone(owner: str) -> bool:
    """True when the attempt signed ``owner`` (``host:pid/start#attempt``) belongs to a dead process."""
    return provably_dead(owner.partition("#")[0])


class JobAttempt:
    """This process's attempt at one job of a run, signed ``host:pid/start#attempt``."""

    def __init__(self, store: StateStore, run_id: int, job: str) -> None:
        self.lease: Lease = store.leases.job(run_id, job)
        self.owner = f"{process_owner()}#{secrets.token_hex(4)}"

    def take(self) -> bool:
        """Take the job's lease; False while another attempt holds it (alive, or not yet expired)."""
        return self.lease.take(self.owner, heartbeat_timeout(), holder_gone=_attempt_gone)

    def wait_for_turn(self) -> None:
        """Wait until this attempt holds the job's lease, saying once whom it waits for."""
        log.info("job delivered again while another attempt runs it; waiting for that attempt",
                 holder=self.lease.holder())  # fmt: skip
        while not self.take():
            threading.Event().wait(WAIT_SECONDS)

    def release(self) -> None:
        """Give the lease up, so a waiting delivery goes on at once."""
        self.lease.release(self.owner)
