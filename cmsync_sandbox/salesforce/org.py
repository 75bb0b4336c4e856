"""One Salesforce org in memory: its schema, records, clock, sessions, Bulk jobs and change events, and the
Python API tests, benchmarks and the ``/_sandbox`` controls use to act on it as a person does.

It serves no calls itself: ``SalesforceEmulator`` routes the API endpoints to it.
"""

import gc
from pathlib import Path
from typing import Any

from cmsync_sandbox.calls import CallLog
from cmsync_sandbox.salesforce.api import API_VERSION
from cmsync_sandbox.salesforce.bulk import BulkJobs
from cmsync_sandbox.salesforce.clock import ServerClock
from cmsync_sandbox.salesforce.dx_source import DEFAULT_SCHEMA_DIR, load_schema
from cmsync_sandbox.salesforce.faults import Faults
from cmsync_sandbox.salesforce.ids import make_id
from cmsync_sandbox.salesforce.oauth import OAuthServer
from cmsync_sandbox.salesforce.pubsub import EventBus
from cmsync_sandbox.salesforce.query import QueryEngine
from cmsync_sandbox.salesforce.rest import Cursors, record_json
from cmsync_sandbox.salesforce.seeding import SeedPlan, SeedReport, seed
from cmsync_sandbox.salesforce.store import Clock, RecordStore
from cmsync_sandbox.salesforce.writes import Writer

DELETE_LOG_REACH_MS = 15 * 24 * 3600 * 1000
"""How far back getDeleted answers in an established org (about 15 days): the emulated org is one, so its
delete log begins that long before it starts (nothing was deleted then) until ``purge_delete_log``."""
FREEZE_FROM = 100_000
"""From this many records, a seeded org is frozen out of garbage collection: its rows live as long as the org,
and a full collection scanning a million of them would stall a call for a second."""


class Org:
    """A Salesforce org in memory, with two users: the integration user and an admin who acts as a person."""

    def __init__(
        self,
        schema_dir: Path = DEFAULT_SCHEMA_DIR,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        refresh_token: str = "sandbox-refresh-token",
        integration_username: str = "integration@cmsync.sandbox",
        jwt_certificate: bytes | None = None,
        token_ttl: float = 7200.0,
        daily_api_limit: int = 100_000,
        bulk_step_seconds: float = 0.5,
        bulk_chunk_size: int = 10_000,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        self.schema = load_schema(schema_dir)
        self.clock = ServerClock()
        self.store = RecordStore(self.schema, self.clock)
        self.events = EventBus(self.schema, self.clock)
        self.store.listen(self.events.commit, frozenset(self.events.schemas))
        self.integration_username = integration_username
        self._fault_defaults = {"token_ttl": token_ttl, "daily_api_limit": daily_api_limit}
        self.faults = Faults(token_ttl=token_ttl, daily_api_limit=daily_api_limit)
        self.writer = Writer(self.store, self.faults)
        self.queries = QueryEngine(self.store, self.clock)
        self.cursors = Cursors()
        self.calls = CallLog()
        self.org_id = make_id("00D", 1)
        self.integration_user_id = make_id("005", 1)
        self.admin_user_id = make_id("005", 2)
        self.store.delete_log_start = self.store.clock.now() - DELETE_LOG_REACH_MS
        self.oauth = OAuthServer(
            org_id=self.org_id,
            client_id=client_id,
            client_secret=client_secret,
            refresh_tokens={refresh_token: self.integration_user_id},
            user_for_username=self._user_for_username,
            token_ttl=lambda: self.faults.token_ttl,
            rotate_refresh_tokens=rotate_refresh_tokens,
            now=self.clock.seconds,
        )
        self._refresh_token = refresh_token
        if jwt_certificate is not None:
            self.oauth.trust_certificate(jwt_certificate)
        self.bulk = BulkJobs(
            self.store, self.writer, self.queries, step_seconds=bulk_step_seconds, chunk_size=bulk_chunk_size
        )
        self._add_users()

    def _add_users(self) -> None:
        users = self.store.table("User")
        assert users is not None
        for username, first, last in (
            (self.integration_username, "cmsync", "Integration"),
            ("admin@cmsync.sandbox", "Sandbox", "Admin"),
        ):
            values = {"Username": username, "FirstName": first, "LastName": last, "Email": username, "Alias": first[:8]}
            self.store.insert(users, values, self.admin_user_id)

    def _user_for_username(self, username: str) -> str | None:
        users = self.store.table("User")
        assert users is not None
        with self.store.lock:
            found = users.lookup("Username", username)
        return found[0] if found else None

    def info(self, base_url: str) -> dict[str, Any]:
        """Where to sign in and with what: the sandbox's refresh-token credentials and its users."""
        return {
            "login_url": base_url,
            "instance_url": base_url,
            "api_version": API_VERSION,
            "client_id": self.oauth.client_id,
            "client_secret": self.oauth.client_secret,
            "refresh_token": self._refresh_token,
            "integration_username": self.integration_username,
            "integration_user_id": self.integration_user_id,
            "admin_user_id": self.admin_user_id,
            "organization_id": self.org_id,
        }

    def reset(self) -> None:
        """Back to an empty org with its two users on the wall clock; faults, jobs, cursors and the call log cleared."""
        with self.store.lock:
            self.clock.reset()
            self.store.clock = Clock(self.clock)
            self.store.clear()
            self._add_users()
            self.store.delete_log_start = self.store.clock.now() - DELETE_LOG_REACH_MS
        self.bulk.clear()
        self.events.clear()
        self.cursors.clear()
        self.calls.clear()
        self.calls.latency = 0.0
        self.faults.update(
            {"lock_rate": 0, "lock_next": 0, "unavailable_rate": 0, "unavailable_next": 0, "api_used": 0}
            | self._fault_defaults
        )

    def seed(self, plan: SeedPlan, *, ago: float = 0.0) -> SeedReport:
        """Accounts, Contacts and Leads overlapping the given people (see ``SeedPlan``), written by a person,
        stamped ``ago`` seconds before now (an org's records are older than the sync that first reads them)."""
        with self.store.lock:
            clock, self.store.clock = self.store.clock, Clock(ServerClock(-ago)) if ago else self.store.clock
            try:
                report = seed(self.store, self.writer, plan, self.admin_user_id)
            finally:
                self.store.clock = clock
            if self.store.count() >= FREEZE_FROM:
                gc.freeze()
            return report

    def create(self, sobject: str, values: dict[str, Any], *, user_id: str | None = None) -> str:
        """Write a record directly, as a person edits in Salesforce (checked; RecordError when invalid)."""
        table = self.store.table(sobject)
        if table is None:
            raise KeyError(sobject)
        with self.store.lock:
            outcome = self.writer.insert(table, values, user_id or self.admin_user_id)
        assert outcome.id is not None
        return outcome.id

    def update(self, record_id: str, values: dict[str, Any], *, user_id: str | None = None) -> None:
        """Change a record directly, as a person does (SystemModstamp and LastModifiedById move)."""
        with self.store.lock:
            found = self.store.find(record_id, include_deleted=True)
            if found is None:
                raise KeyError(record_id)
            self.writer.update(found[0], record_id, values, user_id or self.admin_user_id)

    def delete(self, record_id: str, *, user_id: str | None = None) -> None:
        """Delete a record directly (to the recycle bin, logged for getDeleted)."""
        with self.store.lock:
            self.writer.delete(record_id, user_id or self.admin_user_id)

    def undelete(self, record_id: str, *, user_id: str | None = None) -> None:
        """Bring a deleted record back from the recycle bin, as a person does."""
        with self.store.lock:
            found = self.store.find(record_id, include_deleted=True)
            if found is None:
                raise KeyError(record_id)
            table, row = found
            self.store.undelete(table, str(row[table.slot["Id"]]), user_id or self.admin_user_id)

    def purge_delete_log(self) -> None:
        """Purge the delete log, as Salesforce may before its usual window: getDeleted then knows of no
        delete before now (``earliestDateAvailable``), so a reader must compare everything again."""
        with self.store.lock:
            self.store.delete_log_start = self.store.clock.now()
            for table in self.store.tables.values():
                table.delete_log.clear()

    def get(self, record_id: str) -> dict[str, Any] | None:
        """A record with every field, deleted or not, or None."""
        with self.store.lock:
            found = self.store.find(record_id, include_deleted=True)
            if found is None:
                return None
            table, row = found
            return record_json(table, row[table.slot["Id"]], API_VERSION)

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Every live record of an object, with every field."""
        table = self.store.table(sobject)
        if table is None:
            raise KeyError(sobject)
        with self.store.lock:
            return [
                record_json(table, record_id, API_VERSION)
                for record_id in table.rows
                if record_id not in table.recycle_bin
            ]

    def expire_tokens(self) -> int:
        """End every session now; each client's next call gets 401 INVALID_SESSION_ID."""
        return self.oauth.expire_all()

    def limits(self) -> dict[str, Any]:
        used, limit = self.faults.usage()
        return {
            "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)},
            "DailyBulkApiBatches": {"Max": 15_000, "Remaining": max(0, 15_000 - self.bulk.batches_used)},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": max(0, 10_000 - self.bulk.query_jobs_used)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            "DataStorageMB": {"Max": 1024, "Remaining": max(0, 1024 - self.store.count() * 2 // 1024)},
        }

    def close(self) -> None:
        """Stop the Bulk worker thread."""
        self.bulk.close()
