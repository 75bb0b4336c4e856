"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete from one CSV upload) and query
jobs, processed asynchronously on a worker thread so that their state moves over time.

Ingest: ``Open`` → one PUT of CSV → ``UploadComplete`` → ``InProgress`` (rows written in internal
batches, counts growing) → ``JobComplete``, ``Failed`` (a bad header, wrong line ending, no data) or
``Aborted``. Results are CSVs with ``sf__Id``/``sf__Created`` or ``sf__Id``/``sf__Error`` before the
original columns, and the unprocessed rows. Query: results paged by ``Sforce-Locator`` ending in ``null``.
"""

import base64
import csv
import io
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from cmsync_sandbox.salesforce.api import Call, Route, json_response, no_content
from cmsync_sandbox.salesforce.errors import ApiError, Problem, RecordError
from cmsync_sandbox.salesforce.ids import make_id
from cmsync_sandbox.salesforce.query import CompiledQuery
from cmsync_sandbox.salesforce.schema import Field
from cmsync_sandbox.salesforce.store import Table
from cmsync_sandbox.salesforce.values import format_datetime, now_ms
from cmsync_sandbox.salesforce.writes import Outcome, duplicate_keys

if TYPE_CHECKING:
    from cmsync_sandbox.salesforce.emulator import SalesforceEmulator

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
RECORDS_PER_BATCH = 10_000
RECORDS_PER_TRANSACTION = 200
"""Salesforce saves a job's records 200 at a time, each 200 in one transaction sharing one SystemModstamp."""
DEFAULT_MAX_RECORDS = 50_000


def _invalid_job(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", f"InvalidJob : {message}")


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
    """Every Bulk API 2.0 job of the org and the worker thread that processes them."""

    def __init__(self, org: "SalesforceEmulator", *, step_seconds: float, chunk_size: int) -> None:
        self.org = org
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

    def _new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return make_id("750", self._counter)

    def _enqueue(self, job_id: str) -> None:
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
            if job is None:
                continue
            self._pause()
            if job.state in TERMINAL:
                continue
            if isinstance(job, IngestJob):
                self._ingest(job)
            elif isinstance(job, QueryJob):
                self._query(job)

    def _pause(self) -> None:
        if self.step_seconds:
            self._stop.wait(self.step_seconds)

    def _fail(self, job: Job, message: str) -> None:
        job.error_message = message
        job.move("Failed")

    def _rows(self, job: IngestJob) -> list[list[str]] | None:
        """The CSV rows (header first), or None after failing the job for a malformed upload."""
        data = job.data or ""
        if data.startswith("\ufeff"):
            data = data[1:]
        if not data.strip():
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
        return [row for row in reader if row]

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

    def _ingest(self, job: IngestJob) -> None:
        job.move("InProgress")
        table = self.org.store.table(job.object)
        assert table is not None
        rows = self._rows(job)
        if rows is None:
            return
        job.header, body = rows[0], rows[1:]
        self.batches_used += max(1, -(-len(body) // RECORDS_PER_BATCH))
        if not self._check_header(job, table, job.header):
            job.unprocessed = body
            return
        key = (
            table.sobject.field(job.external_id_field) if job.operation == "upsert" and job.external_id_field else None
        )
        duplicates: set[int] = set()
        if key is not None:
            column = [name.lower() for name in job.header].index(key.name.lower())
            duplicates = duplicate_keys(key, [row[column] if column < len(row) else None for row in body])
        for start in range(0, len(body), self.chunk_size):
            if job.state == "Aborted":
                job.unprocessed = body[start:]
                return
            with self.org.store.lock:
                self.org.store.origin = job.origin
                end = min(start + self.chunk_size, len(body))
                for first in range(start, end, RECORDS_PER_TRANSACTION):
                    with self.org.store.clock.held():
                        for position in range(first, min(first + RECORDS_PER_TRANSACTION, end)):
                            self._ingest_row(job, table, key, body[position], position in duplicates)
            if start + self.chunk_size < len(body):
                self._pause()
        if job.state != "Aborted":
            job.move("JobComplete")

    def _ingest_row(self, job: IngestJob, table: Table, key: Field | None, row: list[str], duplicate: bool) -> None:
        writer, user = self.org.writer, job.created_by
        given_id = next((value for name, value in zip(job.header, row, strict=False) if name.lower() == "id"), "")
        try:
            if len(row) != len(job.header):
                raise RecordError(Problem("INVALID_FIELD", "the row has a different number of columns than the header"))
            payload = dict(zip(job.header, row, strict=True))
            if duplicate and key is not None:
                raise RecordError(
                    Problem(
                        "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {payload[key.name]}", (key.name,)
                    )
                )
            outcome: Outcome
            if job.operation == "insert":
                outcome = writer.insert(table, payload, user, csv=True)
            elif job.operation == "update":
                outcome = writer.update(table, given_id, payload, user, csv=True)
            elif job.operation == "upsert":
                assert key is not None
                outcome = writer.upsert(table, key, payload, user, csv=True)
            else:
                outcome = writer.delete(given_id, user, table=table, hard=job.operation == "hardDelete")
        except RecordError as rejected:
            job.failures.append((given_id, rejected.problem.as_bulk_error(), row))
            job.failed += 1
        except ApiError as error:
            job.failures.append((given_id, f"{error.error_code}:{error.message}:--", row))
            job.failed += 1
        else:
            job.successes.append((outcome.id or "", bool(outcome.created), row))
        job.processed += 1

    def _query(self, job: QueryJob) -> None:
        job.move("InProgress")
        assert job.compiled is not None
        with self.org.store.lock:
            job.ids = self.org.queries.run(job.compiled, include_deleted=job.operation == "queryAll")
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


def _locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def routes(org: "SalesforceEmulator") -> list[Route]:
    """The Bulk API 2.0 routes, relative to /services/data/vXX.X."""
    jobs = org.bulk

    def body_of(call: Call) -> dict[str, Any]:
        body = call.json()
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return body

    def formats(body: dict[str, Any]) -> tuple[str, str]:
        if body.get("contentType", "CSV") != "CSV":
            raise _invalid_job(f"contentType {body.get('contentType')} is not supported; use CSV")
        delimiter, line_ending = body.get("columnDelimiter", "COMMA"), body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS:
            raise _invalid_job(f"Invalid column delimiter: {delimiter}")
        if line_ending not in LINE_ENDINGS:
            raise _invalid_job(f"Invalid line ending: {line_ending}")
        return delimiter, line_ending

    def create_ingest(call: Call) -> Response:
        body = body_of(call)
        table = org.store.table(str(body.get("object", "")))
        if table is None:
            raise _invalid_job(f"Unable to find object: {body.get('object')}")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise _invalid_job(f"Invalid operation: {operation}")
        external_id = body.get("externalIdFieldName")
        if operation == "upsert":
            if not external_id:
                raise _invalid_job(
                    f"External ID was blank for {table.sobject.name}. An External ID must be specified for upsert."
                )
            key = table.sobject.field(str(external_id))
            if key is None or not (key.external_id or key.name == "Id"):
                raise _invalid_job(
                    f"Field name provided, {external_id} does not match an External ID, Salesforce Id, or indexed "
                    f"field for {table.sobject.name}"
                )
            external_id = key.name
        delimiter, line_ending = formats(body)
        job = IngestJob(
            jobs._new_id(),
            "ingest",
            operation,
            table.sobject.name,
            call.user_id,
            call.version,
            delimiter,
            line_ending,
            external_id_field=external_id if operation == "upsert" else None,
            origin=org.store.origin.replace("/api/rest/", "/api/bulk/"),
        )
        jobs.jobs[job.id] = job
        return json_response(job.info(), 200)

    def ingest(job_id: str) -> IngestJob:
        job = jobs.job(job_id, "ingest")
        assert isinstance(job, IngestJob)
        return job

    def upload(call: Call, job_id: str) -> Response:
        job = ingest(job_id)
        if job.data is not None:
            raise ApiError(
                400,
                "BULK_API_ERROR",
                f"Found multipe contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then "
                "create a new Job and make sure you only do 'PUT' once on a given Job.",
            )
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOBSTATE", f"InvalidJobState : Job {job.id} is not Open")
        data = call.request.get_data()
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(400, "BULK_API_ERROR", "The uploaded data exceeds 150 MB")
        job.data = data.decode("utf-8", "replace")
        return Response(status=201)

    def change_state(call: Call, job_id: str, kind: str) -> Response:
        job = jobs.job(job_id, kind)
        wanted = body_of(call).get("state")
        if wanted == "UploadComplete" and kind == "ingest" and job.state == "Open":
            job.move("UploadComplete")
            jobs._enqueue(job.id)
        elif wanted == "Aborted" and job.state not in TERMINAL:
            job.move("Aborted")
        else:
            raise ApiError(
                400, "INVALIDJOBSTATE", f"InvalidJobState : cannot change state from {job.state} to {wanted}"
            )
        return json_response(job.info())

    def info(call: Call, job_id: str, kind: str) -> Response:
        return json_response(jobs.job(job_id, kind).info())

    def delete(call: Call, job_id: str, kind: str) -> Response:
        job = jobs.job(job_id, kind)
        if job.state in ("Open", "InProgress"):
            raise ApiError(400, "INVALIDJOBSTATE", f"InvalidJobState : cannot delete a job that is {job.state}")
        del jobs.jobs[job.id]
        return no_content()

    def listing(call: Call, kind: str) -> Response:
        records = [job.info() for job in jobs.jobs.values() if job.kind == kind]
        return json_response({"done": True, "records": records, "nextRecordsUrl": None})

    def result_csv(call: Call, job_id: str, which: str) -> Response:
        job = ingest(job_id)
        if job.state in ("Open", "UploadComplete"):
            raise ApiError(400, "INVALIDJOBSTATE", f"InvalidJobState : job {job.id} has not been processed yet")
        return Response(jobs.results(job, which), content_type="text/csv")

    def create_query(call: Call) -> Response:
        body = body_of(call)
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise _invalid_job(f"Invalid operation: {operation}")
        delimiter, line_ending = formats(body)
        compiled = org.queries.compile(str(body.get("query", "")))
        if compiled.count:
            raise ApiError(400, "API_ERROR", "COUNT() is not supported in a Bulk API query")
        if compiled.children:
            name = compiled.children[0].name
            raise ApiError(400, "API_ERROR", f"FeatureNotEnabled : Cannot serialize value for '{name}' in CSV format")
        job = QueryJob(
            jobs._new_id(),
            "query",
            operation,
            compiled.table.sobject.name,
            call.user_id,
            call.version,
            delimiter,
            line_ending,
            state="UploadComplete",
            query=str(body.get("query")),
            compiled=compiled,
        )
        jobs.jobs[job.id] = job
        jobs.query_jobs_used += 1
        jobs._enqueue(job.id)
        return json_response(job.info(), 200)

    def query_results(call: Call, job_id: str) -> Response:
        job = jobs.job(job_id, "query")
        assert isinstance(job, QueryJob) and job.compiled is not None
        if job.state != "JobComplete":
            raise ApiError(412, "JOB_NOT_COMPLETE", f"The job {job.id} is not complete; its state is {job.state}")
        offset = _offset(call.request.args["locator"]) if call.request.args.get("locator") else 0
        wanted = call.request.args.get("maxRecords", "")
        count = int(wanted) if wanted.isdigit() and int(wanted) > 0 else DEFAULT_MAX_RECORDS
        chunk = job.ids[offset : offset + count]
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=DELIMITERS[job.delimiter],
            quoting=csv.QUOTE_ALL,
            lineterminator=LINE_ENDINGS[job.line_ending],
        )
        writer.writerow([column.header for column in job.compiled.columns])
        for record_id in chunk:
            if record_id in job.compiled.table.rows:
                writer.writerow(org.queries.csv_row(job.compiled, record_id))
        following = offset + len(chunk)
        headers = {
            "Sforce-Locator": _locator(following) if following < len(job.ids) else "null",
            "Sforce-NumberOfRecords": str(len(chunk)),
        }
        return Response(out.getvalue(), content_type="text/csv", headers=headers)

    return [
        Route("/jobs/ingest", ("POST",), "POST /jobs/ingest", "bulk", create_ingest),
        Route("/jobs/ingest", ("GET",), "GET /jobs/ingest", "bulk", lambda call: listing(call, "ingest")),
        Route(
            "/jobs/ingest/<job_id>",
            ("GET",),
            "GET /jobs/ingest/{id}",
            "bulk",
            lambda call, job_id: info(call, job_id, "ingest"),
        ),
        Route(
            "/jobs/ingest/<job_id>",
            ("PATCH",),
            "PATCH /jobs/ingest/{id}",
            "bulk",
            lambda call, job_id: change_state(call, job_id, "ingest"),
        ),
        Route(
            "/jobs/ingest/<job_id>",
            ("DELETE",),
            "DELETE /jobs/ingest/{id}",
            "bulk",
            lambda call, job_id: delete(call, job_id, "ingest"),
        ),
        Route("/jobs/ingest/<job_id>/batches", ("PUT",), "PUT /jobs/ingest/{id}/batches", "bulk", upload),
        *(
            Route(
                f"/jobs/ingest/<job_id>/{which}",
                ("GET",),
                f"GET /jobs/ingest/{{id}}/{which}",
                "bulk",
                lambda call, job_id, which=which: result_csv(call, job_id, which),
            )
            for which in ("successfulResults", "failedResults", "unprocessedrecords")
        ),
        Route("/jobs/query", ("POST",), "POST /jobs/query", "bulk", create_query),
        Route("/jobs/query", ("GET",), "GET /jobs/query", "bulk", lambda call: listing(call, "query")),
        Route(
            "/jobs/query/<job_id>",
            ("GET",),
            "GET /jobs/query/{id}",
            "bulk",
            lambda call, job_id: info(call, job_id, "query"),
        ),
        Route(
            "/jobs/query/<job_id>",
            ("PATCH",),
            "PATCH /jobs/query/{id}",
            "bulk",
            lambda call, job_id: change_state(call, job_id, "query"),
        ),
        Route(
            "/jobs/query/<job_id>",
            ("DELETE",),
            "DELETE /jobs/query/{id}",
            "bulk",
            lambda call, job_id: delete(call, job_id, "query"),
        ),
        Route("/jobs/query/<job_id>/results", ("GET",), "GET /jobs/query/{id}/results", "bulk", query_results),
    ]
