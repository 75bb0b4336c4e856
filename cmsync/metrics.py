"""Prometheus metrics of the sync systems (clients, import, outbound), shared by every worker process.

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
    "Calls retried, by system and reason "
    "(rate_limited, server_error, bad_response, connection, lock, session_expired).",
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
    "Records handled by the main sync, by Salesforce object and outcome "
    "(created, rewritten, unchanged, rejected, deleted).",
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
OUTBOUND_CHANGES = Counter(
    "cmsync_outbound_changes",
    "Salesforce changes the outbound poller read, by object (Contact, Lead, Account).",
    ["object"],
)
OUTBOUND_PUSHES = Counter(
    "cmsync_outbound_pushes",
    "Subscriber pushes to Campaign Monitor, by kind (add, update, email_change, unsubscribe, delete) and result "
    "(ok, not_member, rejected).",
    ["kind", "result"],
)
OUTBOUND_SKIPPED = Counter(
    "cmsync_outbound_skipped",
    "Changes or pushes the outbound poller left out, by reason (own_write, bulk, opted_out, unchanged, no_email, "
    "converted).",
    ["reason"],
)
OUTBOUND_POLLS = Counter(
    "cmsync_outbound_polls",
    "Outbound polls, by outcome (ok; failed: stopped part way, retried by the next poll; not_run: disabled, "
    "disconnected or another poller holds the lease).",
    ["outcome"],
)
OUTBOUND_LAG = Histogram(
    "cmsync_outbound_lag_seconds",
    "Time from a record's SystemModstamp in Salesforce to the Campaign Monitor call that pushed it.",
    buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 120, 300, 900),
)
OUTBOUND_SOURCE = Gauge(
    "cmsync_outbound_source",
    "1 for the outbound source in use (cdc: Change Data Capture over the Pub/Sub API; poll), 0 for the other.",
    ["source"],
)
OUTBOUND_SOURCE_LAG = Gauge(
    "cmsync_outbound_source_lag_seconds",
    "From the commit of the last Salesforce change acted on to when the pushes for it were done (change events; "
    "0 while there is nothing waiting).",
)
OUTBOUND_FALLBACKS = Counter(
    "cmsync_outbound_fallbacks",
    "Times change events handed over to polling, by reason (replay_expired: a catch-up poll, then change events "
    "again; cdc_unavailable: polls, trying change events again after 10 minutes or a reload).",
    ["reason"],
)
