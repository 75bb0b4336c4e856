"""Salesforce emulator at scale: memory for 1,000,000 records and the time of the calls the sync makes.

Run: ``.venv/bin/python bench/sf_emulator_memory.py [--records N]``. Loads N CM_List_Member__c records
(each checked as an API write would be: unique key, email, picklist, list lookup, a third linked to a
Contact) on 10 lists, then prints resident memory and load time, and the time over real HTTP of: a
Collections upsert of 200, a lookup of 200 members by external ID, a selective SystemModstamp poll, a full
scan COUNT(), and 2,000-record query pages.
"""

import argparse
import gc
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from cmsync.clients.salesforce import PollPolicy, RefreshTokenAuth, SalesforceClient, literal_list
from cmsync_sandbox.salesforce import SalesforceEmulator

LISTS = 10
STATES = ("Active", "Active", "Active", "Unsubscribed", "Bounced", "Deleted", "Unconfirmed")


def resident_megabytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(action, repeat: int = 5) -> str:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return f"median {statistics.median(durations) * 1000:8.1f} ms  max {max(durations) * 1000:8.1f} ms"


def load(emulator: SalesforceEmulator, records: int) -> None:
    store, writer = emulator.store, emulator.writer
    lists = store.table("CM_List__c")
    members = store.table("CM_List_Member__c")
    contacts = store.table("Contact")
    user = emulator.admin_user_id
    with store.lock:
        list_ids = [
            writer.insert(lists, {"CM_List_ID__c": f"{n:032x}", "Name": f"List {n}"}, user).id for n in range(LISTS)
        ]
        contact_ids = [
            writer.insert(contacts, {"LastName": f"Person {n}", "Email": f"person.{n}@example.com"}, user).id
            for n in range(records // 10)
        ]
        for number in range(records):
            list_number = number % LISTS
            email = f"person.{number // LISTS}@example.com"
            values = {
                "CM_Member_Key__c": f"{list_number:032x}:{email}",
                "Name": email,
                "CM_Email__c": email,
                "CM_State__c": STATES[number % len(STATES)],
                "CM_Date__c": "2024-05-01T10:00:00Z",
                "CM_Joined_Date__c": "2023-01-15T08:30:00Z",
                "CM_Subscriber_Name__c": f"Person {number // LISTS}",
                "CM_List__c": list_ids[list_number],
            }
            if number % 3 == 0 and number // LISTS < len(contact_ids):
                values["CM_Contact__c"] = contact_ids[number // LISTS]
            writer.insert(members, values, user)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    arguments = parser.parse_args()

    emulator = SalesforceEmulator(bulk_step_seconds=0.05)
    gc.collect()
    before = resident_megabytes()
    started = time.perf_counter()
    load(emulator, arguments.records)
    loaded = time.perf_counter() - started
    gc.collect()
    gc.freeze()
    after = resident_megabytes()
    total = emulator.store.count()
    print(f"records               {total:,} ({arguments.records:,} list members, {arguments.records // 10:,} contacts)")
    print(f"load (checked writes) {loaded:.1f} s, {arguments.records / loaded:,.0f} records/s")
    per_record = (after - before) * 1024 * 1024 / total
    print(f"resident memory       {before:.0f} MB before, {after:.0f} MB after, {per_record:.0f} bytes a record")

    with emulator.serve() as server:
        auth = RefreshTokenAuth(server.url, "sandbox-client-id", "sandbox-client-secret", "sandbox-refresh-token")
        client = SalesforceClient(server.url, auth, poll=PollPolicy(initial=0.05, maximum=0.5))
        keys = [f"{n % LISTS:032x}:person.{n // LISTS}@example.com" for n in range(0, 200_000, 1000)]
        upserts = [
            {
                "CM_Member_Key__c": f"{0:032x}:new.{n}@example.com",
                "CM_Email__c": f"new.{n}@example.com",
                "CM_State__c": "Active",
            }
            for n in range(200)
        ]
        mark = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        print("over HTTP (client side, round trip included):")
        upsert = timed(lambda: client.upsert("CM_List_Member__c", "CM_Member_Key__c", upserts))
        print(f"  upsert 200 (Collections)          {upsert}")
        by_key = f"SELECT Id, CM_State__c FROM CM_List_Member__c WHERE CM_Member_Key__c IN {literal_list(keys)}"
        print(f"  200 members by external ID        {timed(lambda: list(client.query(by_key)))}")
        poll = f"SELECT Id FROM CM_List_Member__c WHERE SystemModstamp > {mark} ORDER BY SystemModstamp"
        print(f"  SystemModstamp poll (indexed)     {timed(lambda: list(client.query(poll)))}")
        scan = "SELECT COUNT() FROM CM_List_Member__c WHERE CM_State__c = 'Unsubscribed'"
        print(f"  COUNT() full scan of members      {timed(lambda: client.count(scan), repeat=3)}")
        pages = client.query("SELECT Id, CM_Email__c, CM_State__c, CM_List__r.CM_List_ID__c FROM CM_List_Member__c")
        page_times = []
        started = time.perf_counter()
        for number, _record in enumerate(pages, start=1):
            if number % 2000 == 0:
                page_times.append(time.perf_counter() - started)
                started = time.perf_counter()
            if number == 100_000:
                break
        page = statistics.median(page_times[1:]) * 1000
        print(f"  2,000-record query pages          median {page:8.1f} ms (50 pages after the first)")
    emulator.close()


if __name__ == "__main__":
    main()
