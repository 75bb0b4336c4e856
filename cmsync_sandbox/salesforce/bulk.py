"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete from one CSV upload) and query
jobs, processed asynchronously so that their state moves over time: ingest jobs one after another on a
worker thread, query jobs side by side.

Ingest: ``Open`` → one PUT of CSV → ``UploadComplete`` → ``InProgress`` (rows written in internal
batches, counts growing) → ``JobComplete``, ``Failed`` (a bad header, wrong line ending, no data) or
``Aborted``. Results are CSVs with ``sf__Id``/``sf__Created`` or ``sf__Id``/``sf__Error`` before the
original columns, and the unprocessed rows. Query: results paged by ``Sforce-Locator`` ending in ``null``.
The endpoints are in ``bulk_resources``.
"""

import csv
import gc
import io
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cmsync_sandbox.salesforce.errors import ApiError, Problem, RecordError
from cmsync_sandbox.salesforce.ids import make_id
from cmsync_sandbox.salesforce.query import CompiledQuery, QueryEngine
from cmsync_sandbox.salesforce.schema import Field
from cmsync_sandbox.salesforce.store import RecordStore, Table
from cmsync_sandbox.salesforce.values import format_datetime, now_ms
from cmsync_sandbox.salesforce.writes import Header, Outcome, Writer, duplicate_keys

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
RECORDS_PER_BATCH = 10_000
RECORDS_PER_TRANSACTION = 200
"""Salesforce saves a job's records 200 at a time, each 200 in one transaction sharing one SystemModstamp."""


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a job is written: its rows allocate a few objects each, and a
    collection after each chunk would walk the job's rows and records again and again; the collector walks
    them once after the job."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _job_not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


@dataclass
class Job:
    """What ingest and query jobs share: identity, format, state and counts."""

    id: str
    kind: str
    operation: str
    object: str
    created_by: str
    api_version: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    created: int = field(default_factory=now_ms)
    modstamp: int = field(default_factory=now_ms)
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    started: float | None = None
    finished: float | None = None

    def move(self, state: str) -> None:
        self.state = state
        self.modstamp = now_ms()
        if state == "InProgress":
            self.started = time.monotonic()
        if state in TERMINAL:
            self.finished = time.monotonic()

    def info(self) -> dict[str, Any]:
        elapsed = 0.0
        if self.started is not None:
            elapsed = (self.finished or time.monotonic()) - self.started
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.modstamp),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
            "numberRecordsProcessed": self.processed,
            "retries": 0,
            "totalProcessingTime": int(elapsed * 1000),
        }
        if self.kind == "ingest":
            info["numberRecordsFailed"] = self.failed
            info["apiActiveProcessingTime"] = int(elapsed * 1000)
            info["apexProcessingTime"] = 0
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


@dataclass
class IngestJob(Job):
    external_id_field: str | None = None
    origin: str = ""
    data: str | None = None
    header: list[str] = field(default_factory=list)
    id_column: int | None = None
    """Where the header names ``Id`` (any case), found once per job."""
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        info = super().info()
        info["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        return info


@dataclass
class QueryJob(Job):
    query: str = ""
    compiled: CompiledQuery | None = None
    ids: list[str] = field(default_factory=list)


class BulkJobs:
    """Every Bulk API 2.0 job of the org and the worker thread that processes them (a query job on a
    thread of its own)."""

    def __init__(
        self, store: RecordStore, writer: Writer, queries: QueryEngine, *, step_seconds: float, chunk_size: int
    ) -> None:
        self.store = store
        self.writer = writer
        self.queries = queries
        self.step_seconds = step_seconds
        self.chunk_size = chunk_size
        self.jobs: dict[str, Job] = {}
        self.batches_used = 0
        self.query_jobs_used = 0
        self._counter = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return make_id("750", self._counter)

    def enqueue(self, job_id: str) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._stop.clear()
                self._worker = threading.Thread(target=self._work, name="salesforce bulk jobs", daemon=True)
                self._worker.start()
        self._queue.put(job_id)

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=5)

    def clear(self) -> None:
        with self._lock:
            self.jobs.clear()
            self.batches_used = 0
            self.query_jobs_used = 0

    def job(self, job_id: str, kind: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise _job_not_found()
        return job

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            job = self.jobs.get(job_id)
            if isinstance(job, QueryJob):
                threading.Thread(
                    target=self._run, args=(job,), name=f"salesforce bulk query {job_id}", daemon=True
                ).start()
            elif job is not None:
                self._run(job)

    def _run(self, job: Job) -> None:
        """Process one job after the step it waits before starting, within which an ingest job's upload is
        parsed (as a chunk's work is within its own step); query jobs run side by side, as Salesforce runs
        them, ingest jobs one after another."""
        began = time.monotonic()
        rows = None
        if isinstance(job, IngestJob):
            with _collection_paused():
                rows = self._rows(job)
        self._pause(began)
        if job.state in TERMINAL:
            return
        if isinstance(job, IngestJob) and rows is not None:
            self._ingest(job, rows)
        elif isinstance(job, QueryJob):
            self._query(job)

    def _pause(self, began: float | None = None) -> None:
        """Wait out one step: Salesforce's time for a chunk, of which the emulator's own work since ``began``
        is a part (a chunk takes the step or the work, whichever is longer, not both)."""
        if self.step_seconds:
            spent = time.monotonic() - began if began is not None else 0.0
            self._stop.wait(max(0.0, self.step_seconds - spent))

    def _fail(self, job: Job, message: str) -> None:
        job.error_message = message
        job.move("Failed")

    def _rows(self, job: IngestJob) -> list[list[str]] | None:
        """The CSV rows (header first), or None after failing the job for a malformed upload."""
        data = job.data or ""
        if data.startswith("\ufeff"):
            data = data[1:]
        if not data or data.isspace():  # without copying the upload, as strip() would
            self._fail(job, "InvalidBatch : Unable to find any data to process. Check your data and try again.")
            return None
        first_break = data.find("\n")
        uses_crlf = first_break > 0 and data[first_break - 1] == "\r"
        if first_break > 0 and uses_crlf != (job.line_ending == "CRLF"):
            self._fail(
                job,
                f"InvalidBatch : LineEnding is invalid on user data. Current LineEnding setting is {job.line_ending}",
            )
            return None
        reader = csv.reader(io.StringIO(data, newline=""), delimiter=DELIMITERS[job.delimiter])
        return list(filter(None, reader))  # every row but empty lines

    def _check_header(self, job: IngestJob, table: Table, header: list[str]) -> bool:
        if job.operation in ("delete", "hardDelete"):
            if [name.lower() for name in header] != ["id"]:
                self._fail(job, f"InvalidBatch : The '{job.operation}' batch must contain only ids")
                return False
            return True
        for name in header:
            relationship, _, _key = name.partition(".")
            if table.sobject.field(name) is None and not (_key and table.sobject.relationship(relationship)):
                self._fail(job, f"InvalidBatch : Field name not found : {name}")
                return False
        if (
            job.operation == "upsert"
            and job.external_id_field
            and job.external_id_field.lower() not in (name.lower() for name in header)
        ):
            self._fail(job, f"InvalidBatch : Field name not found : {job.external_id_field}")
            return False
        if job.operation == "update" and "id" not in (name.lower() for name in header):
            self._fail(job, "InvalidBatch : Field name not found : Id")
            return False
        return True

    def _ingest(self, job: IngestJob, rows: list[list[str]]) -> None:
        job.move("InProgress")
        with _collection_paused():
            self._write(job, rows)
            if job.state == "InProgress":
                job.move("JobComplete")

    def _write(self, job: IngestJob, rows: list[list[str]]) -> None:
        """Write an ingest job's rows (header first) chunk by chunk, a step each, unless the job fails or is
        aborted."""
        table = self.store.table(job.object)
        assert table is not None
        job.header, body = rows[0], rows[1:]
        job.id_column = next((column for column, name in enumerate(job.header) if name.lower() == "id"), None)
        self.batches_used += max(1, -(-len(body) // RECORDS_PER_BATCH))
        if not self._check_header(job, table, job.header):
            job.unprocessed = body
            return
        key = (
            table.sobject.field(job.external_id_field) if job.operation == "upsert" and job.external_id_field else None
        )
        header = Header(self.writer, table, job.header, key)
        duplicates: set[int] = set()
        if key is not None and header.key_column is not None:
            column = header.key_column if header.picks is None else header.picks[header.key_column]
            duplicates = duplicate_keys(key, [row[column] if column < len(row) else None for row in body])
        write = self._row_writer(job, table, key, header)
        for start in range(0, len(body), self.chunk_size):
            if job.state == "Aborted":
                job.unprocessed = body[start:]
                return
            began = time.monotonic()
            with self.store.lock:
                self.store.origin = job.origin
                end = min(start + self.chunk_size, len(body))
                for first in range(start, end, RECORDS_PER_TRANSACTION):
                    with self.store.clock.held():
                        self._ingest_rows(
                            job, key, header, write, body, first, min(first + RECORDS_PER_TRANSACTION, end), duplicates
                        )
            if start + self.chunk_size < len(body):
                self._pause(began)

    def _row_writer(
        self, job: IngestJob, table: Table, key: Field | None, header: Header
    ) -> Callable[[list[str], Sequence[str]], Outcome]:
        """The write of one row (its cells under the header given too) that the job's operation makes."""
        writer, user, given_id = self.writer, job.created_by, partial(self._given_id, job)
        if job.operation == "insert":
            return lambda _row, cells: writer.insert_cells(table, header.creating, cells, user)
        if job.operation == "update":
            return lambda row, cells: writer.update_cells(table, given_id(row), header.updating, cells, user)
        if job.operation == "upsert":
            assert key is not None
            return lambda _row, cells: writer.upsert_cells(table, key, header, cells, user)
        hard = job.operation == "hardDelete"
        return lambda row, _cells: writer.delete(given_id(row), user, table=table, hard=hard)

    def _ingest_rows(
        self,
        job: IngestJob,
        key: Field | None,
        header: Header,
        write: Callable[[list[str], Sequence[str]], Outcome],
        body: list[list[str]],
        start: int,
        end: int,
        duplicates: set[int],
    ) -> None:
        """Write the rows of ``body`` from ``start`` to ``end``, noting each one's result in the job."""
        width, picks, key_column = len(job.header), header.picks, header.key_column
        successes, failures = job.successes, job.failures
        for position in range(start, end):
            row = body[position]
            try:
                if len(row) != width:
                    raise RecordError(
                        Problem("INVALID_FIELD", "the row has a different number of columns than the header")
                    )
                cells = row if picks is None else header.cells(row)
                if position in duplicates and key is not None and key_column is not None:
                    raise RecordError(
                        Problem(
                            "DUPLICATE_EXTERNAL_ID",
                            f"Duplicate external id specified: {cells[key_column]}",
                            (key.name,),
                        )
                    )
                outcome = write(row, cells)
            except RecordError as rejected:
                failures.append((self._given_id(job, row), rejected.problem.as_bulk_error(), row))
                job.failed += 1
            except ApiError as error:
                failures.append((self._given_id(job, row), f"{error.error_code}:{error.message}:--", row))
                job.failed += 1
            else:
                successes.append((outcome.id or "", bool(outcome.created), row))
            job.processed += 1

    @staticmethod
    def _given_id(job: IngestJob, row: list[str]) -> str:
        """The row's cell under the header's ``Id`` column, if it has one."""
        return row[job.id_column] if job.id_column is not None and job.id_column < len(row) else ""

    def _query(self, job: QueryJob) -> None:
        job.move("InProgress")
        assert job.compiled is not None
        with self.store.lock:
            job.ids = self.queries.run(job.compiled, include_deleted=job.operation == "queryAll")
        job.processed = len(job.ids)
        self._pause()
        if job.state != "Aborted":
            job.move("JobComplete")

    def results(self, job: IngestJob, which: str) -> str:
        """One of the result CSVs of an ingest job, in the job's column delimiter, LF line ends."""
        delimiter = DELIMITERS[job.delimiter]
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\n")
        original = delimiter.join(job.header)
        if which == "successfulResults":
            out.write(f'"sf__Id"{delimiter}"sf__Created"{delimiter}{original}\n')
            for record_id, created, row in job.successes:
                writer.writerow([record_id, "true" if created else "false", *row])
        elif which == "failedResults":
            out.write(f'"sf__Id"{delimiter}"sf__Error"{delimiter}{original}\n')
            for record_id, error, row in job.failures:
                writer.writerow([record_id, error, *row])
        else:
            out.write(f"{original}\n")
            for row in job.unprocessed:
                writer.writerow(row)
        return out.getvalue()
