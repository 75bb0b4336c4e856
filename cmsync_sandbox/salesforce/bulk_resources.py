"""The Bulk API 2.0 endpoints: create, upload to, close, abort, list and delete ingest and query jobs, and
read their results (``bulk`` holds the jobs and processes them)."""

import base64
import csv
import io
from functools import partial
from typing import Any

from werkzeug.wrappers import Response

from cmsync_sandbox.routing import Route
from cmsync_sandbox.salesforce.api import API, Call, json_response, no_content
from cmsync_sandbox.salesforce.bulk import DELIMITERS, TERMINAL, BulkJobs, IngestJob, QueryJob
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.query import QueryEngine
from cmsync_sandbox.salesforce.store import RecordStore, Table

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
DEFAULT_MAX_RECORDS = 50_000
RESULTS = ("successfulResults", "failedResults", "unprocessedrecords")


def _invalid_job(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", f"InvalidJob : {message}")


def _locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def _formats(body: dict[str, Any]) -> tuple[str, str]:
    """A job's column delimiter and line ending (CSV only), checked as Salesforce checks them."""
    if body.get("contentType", "CSV") != "CSV":
        raise _invalid_job(f"contentType {body.get('contentType')} is not supported; use CSV")
    delimiter, line_ending = body.get("columnDelimiter", "COMMA"), body.get("lineEnding", "LF")
    if delimiter not in DELIMITERS:
        raise _invalid_job(f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise _invalid_job(f"Invalid line ending: {line_ending}")
    return delimiter, line_ending


def _upsert_key(table: Table, external_id: Any) -> str:
    """The name of the field an upsert job matches on: an External ID field, or Id."""
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
    return key.name


def _page_size(call: Call) -> int:
    """``maxRecords`` of a query results read, or the default page size."""
    wanted = call.request.args.get("maxRecords", "")
    return int(wanted) if wanted.isdigit() and int(wanted) > 0 else DEFAULT_MAX_RECORDS


class BulkResources:
    """The Bulk API 2.0 endpoints of one org, one handler per endpoint (``kind`` is ingest or query)."""

    def __init__(self, jobs: BulkJobs, store: RecordStore, queries: QueryEngine) -> None:
        self.jobs = jobs
        self.store = store
        self.queries = queries

    def routes(self) -> list[Route]:
        """The Bulk API 2.0 routes, under /services/data/vXX.X."""
        ingest, query = f"{API}/jobs/ingest", f"{API}/jobs/query"
        return [
            Route(ingest, ("POST",), "POST /jobs/ingest", "bulk", self.create_ingest),
            *self._job_routes("ingest"),
            Route(f"{ingest}/<job_id>/batches", ("PUT",), "PUT /jobs/ingest/{id}/batches", "bulk", self.upload),
            *(
                Route(
                    f"{ingest}/<job_id>/{which}",
                    ("GET",),
                    f"GET /jobs/ingest/{{id}}/{which}",
                    "bulk",
                    partial(self.result_csv, which),
                )
                for which in RESULTS
            ),
            Route(query, ("POST",), "POST /jobs/query", "bulk", self.create_query),
            *self._job_routes("query"),
            Route(f"{query}/<job_id>/results", ("GET",), "GET /jobs/query/{id}/results", "bulk", self.query_results),
        ]

    def _job_routes(self, kind: str) -> list[Route]:
        """Listing, reading, changing the state of and deleting jobs of one kind."""
        jobs, job = f"{API}/jobs/{kind}", f"{API}/jobs/{kind}/<job_id>"
        return [
            Route(jobs, ("GET",), f"GET /jobs/{kind}", "bulk", partial(self.listing, kind)),
            Route(job, ("GET",), f"GET /jobs/{kind}/{{id}}", "bulk", partial(self.info, kind)),
            Route(job, ("PATCH",), f"PATCH /jobs/{kind}/{{id}}", "bulk", partial(self.change_state, kind)),
            Route(job, ("DELETE",), f"DELETE /jobs/{kind}/{{id}}", "bulk", partial(self.delete, kind)),
        ]

    def _ingest_job(self, job_id: str) -> IngestJob:
        job = self.jobs.job(job_id, "ingest")
        assert isinstance(job, IngestJob)
        return job

    def create_ingest(self, call: Call) -> Response:
        body = call.json_object()
        table = self.store.table(str(body.get("object", "")))
        if table is None:
            raise _invalid_job(f"Unable to find object: {body.get('object')}")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise _invalid_job(f"Invalid operation: {operation}")
        external_id = _upsert_key(table, body.get("externalIdFieldName")) if operation == "upsert" else None
        delimiter, line_ending = _formats(body)
        job = IngestJob(
            self.jobs.new_id(),
            "ingest",
            operation,
            table.sobject.name,
            call.user_id,
            call.version,
            delimiter,
            line_ending,
            external_id_field=external_id,
            origin=self.store.origin.replace("/api/rest/", "/api/bulk/"),
        )
        self.jobs.jobs[job.id] = job
        return json_response(job.info(), 200)

    def upload(self, call: Call, job_id: str) -> Response:
        job = self._ingest_job(job_id)
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

    def change_state(self, kind: str, call: Call, job_id: str) -> Response:
        job = self.jobs.job(job_id, kind)
        wanted = call.json_object().get("state")
        if wanted == "UploadComplete" and kind == "ingest" and job.state == "Open":
            job.move("UploadComplete")
            self.jobs.enqueue(job.id)
        elif wanted == "Aborted" and job.state not in TERMINAL:
            job.move("Aborted")
        else:
            raise ApiError(
                400, "INVALIDJOBSTATE", f"InvalidJobState : cannot change state from {job.state} to {wanted}"
            )
        return json_response(job.info())

    def info(self, kind: str, call: Call, job_id: str) -> Response:
        return json_response(self.jobs.job(job_id, kind).info())

    def delete(self, kind: str, call: Call, job_id: str) -> Response:
        job = self.jobs.job(job_id, kind)
        if job.state in ("Open", "InProgress"):
            raise ApiError(400, "INVALIDJOBSTATE", f"InvalidJobState : cannot delete a job that is {job.state}")
        del self.jobs.jobs[job.id]
        return no_content()

    def listing(self, kind: str, call: Call) -> Response:
        records = [job.info() for job in self.jobs.jobs.values() if job.kind == kind]
        return json_response({"done": True, "records": records, "nextRecordsUrl": None})

    def result_csv(self, which: str, call: Call, job_id: str) -> Response:
        job = self._ingest_job(job_id)
        if job.state in ("Open", "UploadComplete"):
            raise ApiError(400, "INVALIDJOBSTATE", f"InvalidJobState : job {job.id} has not been processed yet")
        return Response(self.jobs.results(job, which), content_type="text/csv")

    def create_query(self, call: Call) -> Response:
        body = call.json_object()
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise _invalid_job(f"Invalid operation: {operation}")
        delimiter, line_ending = _formats(body)
        compiled = self.queries.compile(str(body.get("query", "")))
        if compiled.count:
            raise ApiError(400, "API_ERROR", "COUNT() is not supported in a Bulk API query")
        if compiled.children:
            name = compiled.children[0].name
            raise ApiError(400, "API_ERROR", f"FeatureNotEnabled : Cannot serialize value for '{name}' in CSV format")
        job = QueryJob(
            self.jobs.new_id(),
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
        self.jobs.jobs[job.id] = job
        self.jobs.query_jobs_used += 1
        self.jobs.enqueue(job.id)
        return json_response(job.info(), 200)

    def query_results(self, call: Call, job_id: str) -> Response:
        job = self.jobs.job(job_id, "query")
        assert isinstance(job, QueryJob)
        if job.state != "JobComplete":
            raise ApiError(412, "JOB_NOT_COMPLETE", f"The job {job.id} is not complete; its state is {job.state}")
        offset = _offset(call.request.args["locator"]) if call.request.args.get("locator") else 0
        chunk = job.ids[offset : offset + _page_size(call)]
        following = offset + len(chunk)
        headers = {
            "Sforce-Locator": _locator(following) if following < len(job.ids) else "null",
            "Sforce-NumberOfRecords": str(len(chunk)),
        }
        return Response(self._results_csv(job, chunk), content_type="text/csv", headers=headers)

    def _results_csv(self, job: QueryJob, chunk: list[str]) -> str:
        """One page of a query job's results: the header, then each record of ``chunk`` still in the org."""
        assert job.compiled is not None
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
                writer.writerow(self.queries.csv_row(job.compiled, record_id))
        return out.getvalue()
