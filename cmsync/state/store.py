"""The state store: one handle on what cmsync remembers, grouped by what it holds.

``store.runs``, ``store.watermarks``, ``store.digests``, ``store.content_hashes``, ``store.directory``,
``store.list_pages``, ``store.rejections``, ``store.connection``, ``store.leases`` and ``store.facts``, over
SQLite or PostgreSQL (see ``database``). Every method is one short transaction, so the supervisor, worker
threads, worker processes on other hosts and ``cmsync status`` can share it.
"""

from cmsync.state.connection import Connection
from cmsync.state.content_hashes import ContentHashes
from cmsync.state.database import Database, SqliteDatabase, connect
from cmsync.state.digests import Digests
from cmsync.state.directory import Directory
from cmsync.state.fact_table import FactTable
from cmsync.state.facts import Facts
from cmsync.state.leases import Leases
from cmsync.state.list_pages import ListPages
from cmsync.state.moments import Clock, utc_now
from cmsync.state.rejections import Rejections
from cmsync.state.runs import Runs
from cmsync.state.schema import migrate
from cmsync.state.watermarks import Watermarks


class StateStore:
    """What cmsync remembers between runs and across hosts."""

    def __init__(self, database: Database, clock: Clock = utc_now) -> None:
        self.database = database
        self.clock = clock
        with database.transaction() as transaction:
            if database.dialect == "postgresql":
                transaction.execute("SELECT pg_advisory_xact_lock(7413021)")
            rewritten = migrate(transaction, database.dialect)
        if rewritten and isinstance(database, SqliteDatabase):
            database.compact()
        facts = FactTable(database, clock)
        self.runs = Runs(database, clock)
        self.watermarks = Watermarks(database, clock)
        self.digests = Digests(database)
        self.content_hashes = ContentHashes(database)
        self.directory = Directory(database)
        self.list_pages = ListPages(database, self.digests.stream_number)
        self.rejections = Rejections(database, clock)
        self.connection = Connection(facts)
        self.leases = Leases(database, clock)
        self.facts = Facts(facts)

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now) -> "StateStore":
        """Open (and create or migrate) the store ``state.url`` names."""
        return cls(connect(url), clock)

    def close(self) -> None:
        self.database.close()
