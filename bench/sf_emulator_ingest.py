"""Salesforce emulator: its own time per row of a Bulk 2.0 upsert job, against the step it models.

Run: ``.venv/bin/python bench/sf_emulator_ingest.py [--members N] [--repeats R] [--step S]``. Seeds an org as
bench/import_sync.py does (Contacts and Leads overlapping N Campaign Monitor members), then over real HTTP
uploads the first import's CSV of those members (key, email, name, state, dates, custom fields, the list by
its external ID, Contact and Lead links) to an upsert job on CM_List_Member__c, which creates every row,
and the same CSV again, which updates every row. Prints the upload's time and, per job, its duration
(start to JobComplete) and µs per row. With ``--step 0`` (the default) the duration is the emulator's work
alone; a 10,000-row chunk must take at most bench/import_sync.py's step of 0.2 s.
"""

import argparse
import csv
import io
import json
import statistics
import time
from datetime import UTC, datetime

import requests

from cmsync_sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync_sandbox.salesforce import SalesforceEmulator, SeedPlan
from cmsync_sandbox.salesforce.api import API

HEADER = [
    "CM_Member_Key__c", "Name", "CM_Email__c", "CM_Subscriber_Name__c", "CM_State__c", "CM_Date__c",
    "CM_Joined_Date__c", "CM_Custom_Fields__c", "CM_List__r.CM_List_ID__c", "CM_Contact__c", "CM_Lead__c",
]  # fmt: skip
"""The columns cmsync writes on a member, in its order."""


def _moment(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _members(members: int) -> tuple[list[str], str, list[list[str]]]:
    """The members' emails, their list's ID and their rows as cmsync's first import writes them (without links)."""
    spec = SeedSpec(clients=1, lists_per_client=1, subscribers_per_list=members, campaigns_per_client=0,
                    journeys_per_client=0, months=1)  # fmt: skip
    cm = CampaignMonitorEmulator(size=spec, seed=5)
    (list_id, mailing_list), *_ = cm.state.lists.items()
    rows, emails = [], []
    for member in mailing_list.members.values():
        emails.append(member.email)
        fields = json.dumps(dict(member.fields), sort_keys=True, ensure_ascii=False) if member.fields else "#N/A"
        rows.append([
            f"{list_id}:{member.email.lower()}", member.email[:80], member.email, member.name or "#N/A",
            member.state, _moment(member.date), _moment(member.joined), fields, list_id,
        ])  # fmt: skip
    return emails, list_id, rows


def _org(emails: list[str], list_id: str, rows: list[list[str]], step: float) -> tuple[SalesforceEmulator, str]:
    """A seeded org holding the members' list, and the upload CSV with each member's Contact and Lead."""
    org = SalesforceEmulator(bulk_step_seconds=step, bulk_chunk_size=10_000)
    org.seed(SeedPlan(emails=emails, share=0.5, lead_share=0.3, both_share=0.1, duplicate_share=0.05), ago=86_400.0)
    client = org.create("CM_Client__c", {"Name": "Bench", "CM_Client_ID__c": "b" * 32})
    org.create("CM_List__c", {"Name": "Bench", "CM_List_ID__c": list_id, "CM_Client__c": client})
    contacts, leads = org.store.table("Contact"), org.store.table("Lead")
    assert contacts is not None and leads is not None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        email = row[2]
        contact, lead = contacts.lookup("Email", email), leads.lookup("Email", email)
        writer.writerow([*row, contact[0] if contact else "#N/A", lead[0] if lead else "#N/A"])
    return org, out.getvalue()


def _job(session: requests.Session, url: str, data: bytes) -> tuple[float, float, dict]:
    """Seconds the upload took, seconds from start to JobComplete, and the job's final info."""
    base = f"{url}{API.replace('<version>', '61.0')}/jobs/ingest"
    job = session.post(base, json={"object": "CM_List_Member__c", "operation": "upsert",
                                   "externalIdFieldName": "CM_Member_Key__c"}).json()  # fmt: skip
    started = time.perf_counter()
    session.put(f"{base}/{job['id']}/batches", data=data, headers={"Content-Type": "text/csv"}).raise_for_status()
    uploaded = time.perf_counter() - started
    session.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}).raise_for_status()
    while (info := session.get(f"{base}/{job['id']}").json())["state"] not in ("JobComplete", "Failed", "Aborted"):
        time.sleep(0.02)
    return uploaded, info["totalProcessingTime"] / 1000, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", type=float, default=0.0, help="the org's Bulk step in seconds (0: work alone)")
    arguments = parser.parse_args()
    emails, list_id, rows = _members(arguments.members)
    figures: dict[str, list[float]] = {"upload": [], "created": [], "updated": [], "µs created": [], "µs updated": []}
    for _ in range(arguments.repeats):
        org, upload = _org(emails, list_id, rows, arguments.step)
        data = upload.encode()
        with org.serve() as server, requests.Session() as session:
            token = session.post(f"{server.url}/services/oauth2/token", data={
                "grant_type": "refresh_token", "client_id": "sandbox-client-id",
                "refresh_token": "sandbox-refresh-token"}).json()["access_token"]  # fmt: skip
            session.headers["Authorization"] = f"Bearer {token}"
            for kind in ("created", "updated"):
                uploaded, seconds, info = _job(session, server.url, data)
                assert info["state"] == "JobComplete" and info["numberRecordsFailed"] == 0, info
                figures["upload"].append(uploaded)
                figures[kind].append(seconds)
                figures[f"µs {kind}"].append(seconds / info["numberRecordsProcessed"] * 1e6)
        org.close()
    print(f"{len(rows):,} member rows, {len(data) / 2**20:.1f} MB, step {arguments.step} s")
    for name, unit in (("upload", "s"), ("created", "s"), ("updated", "s"), ("µs created", "µs"), ("µs updated", "µs")):
        values = figures[name]
        print(f"  {name:<12} min {min(values):8.3f}  median {statistics.median(values):8.3f} {unit}")


if __name__ == "__main__":
    main()
