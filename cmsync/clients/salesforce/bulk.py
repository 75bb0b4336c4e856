"""Bulk API 2.0 from the client side: one ingest job per chunk (create, one PUT of CSV, UploadComplete,
poll, read the result CSVs) mapped back to per-record results, and query jobs read page by page, each
page row by row as it arrives.

A long stream of rows goes through an ``IngestSpool``: its CSV is written to a temporary file as rows
come (memory stays flat), one job takes the whole file (a new one only at the upload limit), the upload
is streamed from the file and the result CSVs are read line by line, only when asked for: the failed
results only when the job counted failures, the successful ones only by a caller that does not know what
it sent (the stream writer records a job that answered every row from what it spooled).

Polling re-reads the session on every request, so a token that expires while a job runs is renewed.
Result rows come back in any order; each is matched to its input by the upsert key, the Id, or (for
inserts) the whole row as sent.
"""

import codecs
import csv
import io
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any, Protocol

import requests

from cmsync.clients.salesforce.errors import SalesforceBulkError
from cmsync.clients.salesforce.results import NOT_PROCESSED, RecordError, RecordResult, bulk_error
from cmsync.clients.salesforce.retry import PollPolicy
from cmsync.clients.salesforce.soql import literal
from cmsync.clients.salesforce.transport import Transport
from cmsync.config.names import check_salesforce_field_path
from cmsync.logs import get_logger

TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
MAX_JOB_BYTES = 100 * 1024 * 1024
RESULT_PAGE = 250_000
"""Rows asked for per results call of a query job (``maxRecords``). A page is read as a stream, so a big one
costs no memory; at 50,000 the directory's first load of a million-member org took twelve calls."""
NULL = "#N/A"
FIRST_PACE = 1 / 100_000
"""Seconds per row an ingest job is expected to take before the client has seen one end: shorter than any
org's pace, so a first job is polled early rather than waited on after it ended; the progress it shows then
says when to poll next."""
QUERY_FIRST_POLL = 0.25
"""Seconds before a query job is first polled: Salesforce queues it before it runs, and none is done sooner
(polled from the policy's first delay, a query job of half a second was polled four times)."""
LATE = 1.05
"""A poll at a job's predicted end aims this much past it (as a share of the wait), so that the poll finding
the job done is seldom one that came a moment too early."""
STAMP = "%Y-%m-%dT%H:%M:%S.%f%z"
"""How Salesforce spells a job's ``systemModstamp`` (``2024-05-01T12:00:00.000+0000``)."""
_log = get_logger(__name__)
_ABSENT = object()
"""A field a record does not name (its cell is left empty: the field is left as it is)."""


def csv_value(value: Any) -> str:
    """A record value as Bulk CSV text; None is ``#N/A`` (set the field empty)."""
    if type(value) is str:
        return value
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | Decimal | int | float):
        return literal(value)
    return str(value)


def csv_text(body: bytes) -> str:
    """A Bulk result or query CSV as text: always UTF-8, whatever charset the response names or omits
    (``requests`` would read a ``text/csv`` without one as ISO-8859-1)."""
    return body.decode("utf-8")


def columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every field named by any record, in order of first use; a parent by external ID is ``Rel__r.Key__c``."""
    seen: dict[str, None] = {}
    for record in records:
        for name, value in record.items():
            if name == "attributes":
                continue
            if isinstance(value, Mapping):
                for key in value:
                    if key != "attributes":
                        seen[f"{name}.{key}"] = None
            else:
                seen[name] = None
    for name in seen:
        check_salesforce_field_path(name)
    return list(seen)


def row_of(record: Mapping[str, Any], header: Sequence[str]) -> list[str]:
    """The CSV cells of ``record`` under ``header``; a field the record does not name is left empty (unchanged)."""
    return _cells(record, [name.partition(".") for name in header])


def _cells(record: Mapping[str, Any], paths: Sequence[tuple[str, str, str]]) -> list[str]:
    """``row_of`` with the header's names already split at their dot (``Rel__r``, ``.``, ``Key__c``)."""
    cells = []
    for name, _, key in paths:
        value = record.get(name, _ABSENT)
        if key:
            value = value.get(key, _ABSENT) if isinstance(value, Mapping) else _ABSENT
        if type(value) is str:
            cells.append(value)
        else:
            cells.append("" if value is _ABSENT else csv_value(value))
    return cells


def csv_line(cells: Sequence[str]) -> str:
    """One CSV row with its line end, each cell quoted only when it must be (what ``csv.writer`` writes, but a
    carriage return is quoted too, so the row reads back whole); a row of cells with no quote, comma or
    line break is joined at once, in a tenth of the time ``csv.writer`` takes. ``in`` finds a character
    with ``memchr``, several times faster than a regular expression's character class; a row without line
    breaks (most rows that need quotes) looks for quotes and commas only."""
    line = ",".join(cells)
    breaks = "\n" in line or "\r" in line
    if not breaks and '"' not in line and line.count(",") == len(cells) - 1:
        return line + "\n" if line or len(cells) != 1 else '""\n'
    quoted = [
        '"' + cell.replace('"', '""') + '"'
        if '"' in cell or "," in cell or (breaks and ("\n" in cell or "\r" in cell))
        else cell
        for cell in cells
    ]
    return ",".join(quoted) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    return "".join([csv_line(header), *(csv_line(row) for row in rows)]).encode()


def _chunks(rows: list[list[str]], header: Sequence[str]) -> Iterator[range]:
    """Ranges of rows whose CSV stays under the upload limit."""
    start, size = 0, len(",".join(header)) + 1
    for position, row in enumerate(rows):
        row_size = sum(len(cell.encode()) + 3 for cell in row) + 1
        if position > start and size + row_size > MAX_JOB_BYTES:
            yield range(start, position)
            start, size = position, len(",".join(header)) + 1
        size += row_size
    if start < len(rows) or not rows:
        yield range(start, len(rows))


class KeptPace(Protocol):
    """Where the ingest pace of one object (seconds per row) is kept from one process to the next."""

    def get(self) -> float | None: ...

    def set(self, value: float | None) -> None: ...


class BulkRunner:
    """Runs Bulk API 2.0 jobs through one client's transport."""

    def __init__(self, client: Transport, paces: Callable[[str], KeptPace] | None = None) -> None:
        self.client = client
        self.paces = paces
        """Where each object's pace is kept for the next process (none: this process learns its own)."""
        self._pace = FIRST_PACE
        """Seconds per row the client's last finished ingest job took, of any object."""
        self._paces: dict[str, float] = {}
        """Seconds per row the last finished ingest job of each object took, here or in an earlier process."""

    def _path(self, resource: str) -> str:
        return self.client.data_path(resource)

    def ingest(
        self,
        operation: str,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None = None,
    ) -> list[RecordResult]:
        """Write ``records`` in as many jobs as their size needs; one result per record, in input order."""
        header = columns(records)
        rows = [row_of(record, header) for record in records]
        key_column = _key_column(operation, header, external_id_field)
        results: list[RecordResult] = []
        for part in _chunks(rows, header):
            part_rows = rows[part.start : part.stop]
            results.extend(self._job(operation, sobject, header, part_rows, key_column, external_id_field, part.start))
        return results

    def _job(
        self,
        operation: str,
        sobject: str,
        header: list[str],
        rows: list[list[str]],
        key_column: int | None,
        external_id_field: str | None,
        first_index: int,
    ) -> list[RecordResult]:
        job_path, info = self._ingest(operation, sobject, external_id_field, _csv(header, rows), len(rows))

        def key(cells: Sequence[str]) -> Any:
            return tuple(cells) if key_column is None else cells[key_column].lower()

        waiting: dict[Any, deque[int]] = defaultdict(deque)
        for position, row in enumerate(rows):
            waiting[key(row)].append(position)
        results: dict[int, RecordResult] = {}

        def claim(cells: list[str]) -> int | None:
            queue = waiting.get(key(cells))
            return queue.popleft() if queue else None

        for record in self._results(f"{job_path}/successfulResults/"):
            position = claim(record[2:])
            if position is not None:
                results[position] = RecordResult(
                    first_index + position, record[0] or None, True, record[1].lower() == "true"
                )
        for record in self._results(f"{job_path}/failedResults/") if _failures(info) else ():
            position = claim(record[2:])
            if position is not None:
                results[position] = bulk_error(first_index + position, record[0], record[1])
        reason = info.get("errorMessage") or f"the Bulk job ended {info['state']} before reaching this record"
        return [
            results.get(position)
            or RecordResult(first_index + position, None, False, None, (RecordError(NOT_PROCESSED, reason),))
            for position in range(len(rows))
        ]

    def _ingest(
        self, operation: str, sobject: str, external_id_field: str | None, data: Any, rows: int
    ) -> tuple[str, dict[str, Any]]:
        """Create an ingest job, upload ``data`` (CSV text or a file of ``rows`` rows), close it and wait for
        it to end; the job's path and its final state."""
        spec: dict[str, Any] = {"object": sobject, "operation": operation, "contentType": "CSV", "lineEnding": "LF"}
        if external_id_field:
            spec["externalIdFieldName"] = external_id_field
        job = self.client.call("bulk_job", "POST", self._path("jobs/ingest"), json=spec, idempotent=False).json()
        job_path = self._path(f"jobs/ingest/{job['id']}")
        self.client.call(
            "bulk_job",
            "PUT",
            f"{job_path}/batches",
            data=data,
            headers={"Content-Type": "text/csv"},
            idempotent=False,
        )
        closed = self.client.call("bulk_job", "PATCH", job_path, json={"state": "UploadComplete"})
        info = self._wait(job_path, "bulk_job", rows, sobject, _closed_at(closed))
        _log.info(
            "salesforce bulk job finished",
            job=job["id"],
            sobject=sobject,
            operation=operation,
            state=info["state"],
            processed=info.get("numberRecordsProcessed"),
            failed=info.get("numberRecordsFailed"),
        )
        return job_path, info

    def _results(self, path: str) -> list[list[str]]:
        response = self.client.call("bulk_job", "GET", path, headers={"Accept": "text/csv"})
        rows = list(csv.reader(io.StringIO(csv_text(response.content), newline="")))
        return [row for row in rows[1:] if row]

    def send_spool(
        self, operation: str, sobject: str, spool: "IngestSpool", external_id_field: str | None = None
    ) -> "SpoolJob":
        """Run one job over ``spool`` to its end; its result CSVs are read only when asked for."""
        job_path, info = self._ingest(operation, sobject, external_id_field, spool.upload(), spool.rows)
        return SpoolJob(self, job_path, info, spool)

    def _streamed_results(self, path: str) -> Iterator[list[str]]:
        """The rows of a result CSV after its header, read line by line as they arrive."""
        response = self.client.call("bulk_job", "GET", path, headers={"Accept": "text/csv"}, stream=True)
        with response:
            rows = csv.reader(_text_lines(response))
            next(rows, None)
            yield from (row for row in rows if row)

    def _wait(
        self, job_path: str, endpoint: str, rows: int = 0, sobject: str = "", closed: datetime | None = None
    ) -> dict[str, Any]:
        """Poll a job until it ends (every request signs in again if the session expired meanwhile). An
        ingest job of ``rows`` is first polled when the pace of the last job of its object (in this process
        or kept from an earlier one) says it may be done, then when the pace it shows between two polls says
        so (the pace since its close, which a slow start makes look slower, only bounds the next wait); a job
        without progress to go by is polled at growing intervals, a query job first after
        ``QUERY_FIRST_POLL``. A wait by a measured pace stays within the policy's ``measured_maximum`` (a big
        job is polled once at its end), any other within its ``maximum`` (a job that ends early is not
        waited on long); none runs past the next report of a job still running."""
        policy = self.client.poll
        started = time.monotonic()
        pace, measured = self._expected_pace(sobject)
        delay = _between(policy, rows * pace * LATE, measured) if rows else max(policy.initial, QUERY_FIRST_POLL)
        deadline, report_at, unfinished_at = started + policy.timeout, policy.report_after, 0.0
        progress: tuple[float, int] | None = None
        while True:
            time.sleep(max(0.0, min(delay, report_at - (time.monotonic() - started))))
            info = self.client.bulk_job_info(endpoint, job_path)
            running = time.monotonic() - started
            processed = int(info.get("numberRecordsProcessed") or 0)
            if info["state"] in TERMINAL:
                if rows and info["state"] == "JobComplete":
                    self._learn(sobject, _took(closed, info, unfinished_at, running) / rows)
                return info
            unfinished_at = running
            if progress is not None and progress[1] < processed < rows:
                rate = (processed - progress[1]) / (running - progress[0])
                delay = _between(policy, (rows - processed) / rate * LATE, measured=True)
            elif 0 < processed < rows:
                at_most = _between(policy, running * (rows - processed) / processed * LATE, measured=False)
                delay = min(policy.after(delay), at_most)
            else:
                delay = policy.after(delay)
            if processed:
                progress = (running, processed)
            if running >= report_at:
                _report_slow_job(job_path, info, running, policy.timeout)
                report_at *= 2
            if time.monotonic() > deadline:
                self.client.call(endpoint, "PATCH", job_path, json={"state": "Aborted"})
                info = self.client.bulk_job_info(endpoint, job_path)
                if info["state"] in TERMINAL:
                    return info
                raise SalesforceBulkError(f"job still {info['state']} after {policy.timeout:.0f} s", endpoint=endpoint)

    def _expected_pace(self, sobject: str) -> tuple[float, bool]:
        """Seconds per row a job of ``sobject`` is expected to take: what its last job took, here or in an
        earlier process, else what the last job of any object took; and whether a job was seen to take it
        (False for ``FIRST_PACE``, before any job ended)."""
        pace = self._paces.get(sobject)
        if pace is None and self.paces is not None:
            kept = self.paces(sobject).get()
            if isinstance(kept, int | float) and kept > 0:
                pace = self._paces[sobject] = float(kept)
        if pace is None:
            pace = self._pace
        return pace, pace != FIRST_PACE

    def _learn(self, sobject: str, pace: float) -> None:
        """Remember the pace of a job of ``sobject`` that ended, for the next one here and in later processes."""
        self._pace = self._paces[sobject] = pace
        if self.paces is not None:
            self.paces(sobject).set(pace)

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, str]]:
        """Rows of a query job as ``{column: text}``, read page by page after the job completes."""
        spec = {"operation": "queryAll" if include_deleted else "query", "query": soql}
        job = self.client.call("bulk_query", "POST", self._path("jobs/query"), json=spec, idempotent=False).json()
        job_path = self._path(f"jobs/query/{job['id']}")
        info = self._wait(job_path, "bulk_query")
        if info["state"] != "JobComplete":
            raise SalesforceBulkError(
                f"query job {job['id']} ended {info['state']}: {info.get('errorMessage', '')}", endpoint="bulk_query"
            )
        locator: str | None = None
        while True:
            params = {"maxRecords": str(RESULT_PAGE)}
            if locator:
                params["locator"] = locator
            response = self.client.call(
                "bulk_query", "GET", f"{job_path}/results", params=params, headers={"Accept": "text/csv"}, stream=True
            )
            with response:
                locator = response.headers.get("Sforce-Locator")
                yield from csv.DictReader(_text_lines(response))
            if not locator or locator == "null":
                return


def _closed_at(response: requests.Response) -> datetime | None:
    """When the server closed a job, from its answer to the close (None when the answer does not say)."""
    try:
        info = response.json()
    except ValueError:
        return None
    return _stamp(info) if isinstance(info, dict) else None


def _stamp(info: Mapping[str, Any]) -> datetime | None:
    """A job's ``systemModstamp`` (when it last changed state, by the server's clock), or None."""
    try:
        return datetime.strptime(str(info.get("systemModstamp")), STAMP)
    except ValueError:
        return None


def _took(closed: datetime | None, info: Mapping[str, Any], unfinished_at: float, running: float) -> float:
    """Seconds a job took from being closed to its end: by the server's stamps of the two, else halfway
    between the last poll that found it running (or its close) and the poll that found it done; never
    outside those two."""
    ended = _stamp(info)
    if closed is None or ended is None:
        return (unfinished_at + running) / 2
    return min(running, max(unfinished_at, (ended - closed).total_seconds()))


def _between(policy: PollPolicy, seconds: float, measured: bool) -> float:
    """``seconds`` as a delay between two polls: no shorter than the first, no longer than the longest (for an
    end predicted from a ``measured`` pace, the longest such wait)."""
    longest = policy.measured_maximum if measured else policy.maximum
    return min(longest, max(policy.initial, seconds))


def _report_slow_job(job_path: str, info: Mapping[str, Any], running: float, timeout: float) -> None:
    """One line about a job still running (at growing intervals), so a slow job is not an hour of silence."""
    _log.warning(
        f"salesforce bulk job still {info['state']} after {_duration(running)}",
        job=job_path.rstrip("/").rsplit("/", 1)[-1],
        state=info["state"],
        running_seconds=round(running, 1),
        processed=info.get("numberRecordsProcessed"),
        aborted_after=_duration(timeout),
    )


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.1f} s"


def _failures(info: Mapping[str, Any]) -> bool:
    """Whether a finished job may have failed rows to read (the count is missing on a job that failed whole)."""
    return info["state"] != "JobComplete" or int(info.get("numberRecordsFailed") or 0) > 0


def _text_lines(response: requests.Response) -> Iterator[str]:
    """The lines of a streamed CSV body as they arrive, read as UTF-8 whatever charset it names (see ``csv_text``)."""
    return _lines(codecs.iterdecode(response.iter_content(chunk_size=1 << 16), "utf-8"))


def _lines(chunks: Iterable[str]) -> Iterator[str]:
    """Text chunks cut into lines with their line ends (what ``csv.reader`` reads, quoted line breaks included)."""
    rest = ""
    for chunk in chunks:
        rest += chunk
        *whole, rest = rest.split("\n")
        for line in whole:
            yield line + "\n"
    if rest:
        yield rest


@dataclass(frozen=True)
class RowResult:
    """What Salesforce answered for one spooled row: the row as sent (header → CSV text) and the outcome."""

    row: dict[str, str]
    success: bool
    record_id: str | None
    created: bool | None
    errors: tuple[RecordError, ...] = ()


@dataclass(frozen=True)
class SpoolJob:
    """An ingest job that ran over a spool to its end: its final state; its result CSVs are read only when
    asked for (a caller that knows what it sent need not read the successful ones back)."""

    runner: BulkRunner
    path: str
    info: dict[str, Any]
    spool: "IngestSpool"

    @property
    def complete(self) -> bool:
        """Whether the job answered every row: each row not among the failures was written."""
        processed = int(self.info.get("numberRecordsProcessed") or 0)
        return self.info["state"] == "JobComplete" and processed >= self.spool.rows

    def failures(self) -> Iterator[RowResult]:
        """The rows Salesforce refused, as it lists them (read only when the job counted failures)."""
        return (self._failure(cells) for cells in self._failed_cells())

    def results(self) -> Iterator[RowResult]:
        """A result per row, in the order Salesforce lists them; rows the job never reached come last, as not
        processed."""
        answered: set[tuple[str, ...]] | None = None if self.complete else set()
        for cells in self.runner._streamed_results(f"{self.path}/successfulResults/"):
            if answered is not None:
                answered.add(tuple(cells[2:]))
            yield RowResult(self._row(cells[2:]), True, cells[0] or None, cells[1] == "true")
        for cells in self._failed_cells():
            if answered is not None:
                answered.add(tuple(cells[2:]))
            yield self._failure(cells)
        if answered is None:
            return
        info = self.info
        reason = info.get("errorMessage") or f"the Bulk job ended {info['state']} before reaching this record"
        for cells in self.spool.read():
            if tuple(cells) not in answered:
                yield RowResult(self._row(cells), False, None, None, (RecordError(NOT_PROCESSED, reason),))

    def _failed_cells(self) -> Iterator[list[str]]:
        if _failures(self.info):
            yield from self.runner._streamed_results(f"{self.path}/failedResults/")

    def _row(self, cells: Sequence[str]) -> dict[str, str]:
        return dict(zip(self.spool.header, cells, strict=False))

    def _failure(self, cells: list[str]) -> RowResult:
        return RowResult(self._row(cells[2:]), False, None, None, bulk_error(0, cells[0], cells[1]).errors)


class IngestSpool:
    """The CSV of one job, written row by row to a temporary file that stays under the upload limit: ``row``
    (or ``row_of`` a record) makes a row's bytes once, ``fits`` says whether they keep the file under
    ``MAX_JOB_BYTES``, ``add`` writes them."""

    def __init__(self, header: Sequence[str]) -> None:
        self.header = list(header)
        self.rows = 0
        self._paths = [name.partition(".") for name in self.header]
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (kept open until the job is answered)
        self._size = self._file.write(self.row(self.header))

    @staticmethod
    def row(cells: Sequence[str]) -> bytes:
        return csv_line(cells).encode()

    def row_of(self, record: Mapping[str, Any]) -> bytes:
        """``record``'s row under the spool's header (``row_of``), as bytes to add."""
        return csv_line(_cells(record, self._paths)).encode()

    def fits(self, row: bytes) -> bool:
        """Whether ``row`` keeps the file under ``MAX_JOB_BYTES`` (an empty spool takes any row)."""
        return not self.rows or self._size + len(row) <= MAX_JOB_BYTES

    def add(self, row: bytes) -> None:
        self._size += self._file.write(row)
        self.rows += 1

    def upload(self) -> IO[bytes]:
        """The file, rewound, for a streamed upload."""
        self._file.flush()
        self._file.seek(0)
        return self._file

    def read(self) -> Iterator[list[str]]:
        """The rows as written, header left out."""
        self._file.flush()
        self._file.seek(0)
        chunks = iter(lambda: self._file.read(1 << 16), b"")
        rows = csv.reader(_lines(codecs.iterdecode(chunks, "utf-8")))
        next(rows, None)
        yield from rows

    def close(self) -> None:
        self._file.close()


def _key_column(operation: str, header: list[str], external_id_field: str | None) -> int | None:
    """The column that identifies a row in the results: the upsert key, the Id, or none (inserts)."""
    wanted = external_id_field if operation == "upsert" else None if operation == "insert" else "Id"
    if wanted is None:
        return None
    lowered = [name.lower() for name in header]
    return lowered.index(wanted.lower()) if wanted.lower() in lowered else None
