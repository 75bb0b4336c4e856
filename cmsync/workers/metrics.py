"""Prometheus metrics of the sync engine (clients, import, outbound), shared by every worker process.

Names follow Prometheus practice: ``cmsync_`` prefix, base units, ``_total`` added by the client library
to counters. Labels stay low-cardinality: systems, endpoint classes and object names, never IDs or emails.
"""

from prometheus_client import Counter, Gauge, Histogram

API_CALLS = Counter(
    "cmsync_api_calls",
    "HTTP calls made to Campaign Monitor or Salesforce, by endpoint class and outcome.",
    ["system", "endpoint", "outcome"],
)
API_CALL_SECONDS = Histogram(
    "cmsync_api_call_seconds",
    "Duration of HTTP calls to Campaign Monitor or Salesforce.",
    ["system"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_RETRIES = Counter(
    "cmsync_api_retries",
    "Calls retried, by system and reason (rate_limited, server_error, connection, lock, session_expired).",
    ["system", "reason"],
)
SALESFORCE_API_USAGE = Gauge(
    "cmsync_salesforce_api_requests",
    "Salesforce daily API requests, as reported by Sforce-Limit-Info (kind: used or limit).",
    ["kind"],
    multiprocess_mode="mostrecent",
)
RECORDS = Counter(
    "cmsync_records",
    "Records handled by the main sync, by Salesforce object and outcome (imported, unchanged, rejected).",
    ["object", "outcome"],
)
TRACKING_PURGED = Counter(
    "cmsync_tracking_purged_records",
    "CM_Email_Activity__c records the tracking purge deleted from Salesforce.",
)
TRACKING_PURGE_REFUSALS = Counter(
    "cmsync_tracking_purge_refusals",
    "Tracking purges stopped because they would delete more than tracking.purge_max_share of all records.",
)
