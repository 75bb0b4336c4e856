"""Seed data overlaps the Campaign Monitor seed's people in every shape the sync must handle."""

from collections import Counter

import requests

from cmsync_sandbox.people import people
from cmsync_sandbox.salesforce import SeedPlan


def _emails(client, sobject: str) -> Counter:
    return Counter(row["Email"].lower() for row in client.query(f"SELECT Email FROM {sobject} WHERE Email != null"))


def test_the_seed_overlaps_the_cm_people_by_the_chosen_share(client, emulator):
    cm_people = list(people(200, 4))
    plan = SeedPlan(people_count=200, people_seed=4, share=0.5, both_share=0.2, duplicate_share=0.3, extra_contacts=15)
    report = emulator.seed(plan)
    contacts, leads = _emails(client, "Contact"), _emails(client, "Lead")
    cm_emails = {person.email.lower() for person in cm_people}
    overlapping = (set(contacts) | set(leads)) & cm_emails
    assert len(overlapping) == 100
    assert len(report.contact_emails) + len(report.lead_emails) + len(report.both_emails) == 100
    assert report.both_emails and all(contacts[e.lower()] >= 1 and leads[e.lower()] == 1 for e in report.both_emails)
    assert report.duplicate_emails and all(contacts[e.lower()] == 2 for e in report.duplicate_emails)
    assert all(leads[e.lower()] == 1 and e.lower() not in contacts for e in report.lead_emails)
    assert len(report.salesforce_only_emails) == 15
    assert not {email.lower() for email in report.salesforce_only_emails} & cm_emails
    assert client.count("SELECT COUNT() FROM Account") == 10
    assert client.count("SELECT COUNT() FROM Contact WHERE AccountId = null") == 0


def test_seeded_records_are_written_by_a_person_not_the_integration_user(client, emulator):
    emulator.seed(SeedPlan(people_count=20))
    writers = {row["LastModifiedById"] for row in client.query("SELECT LastModifiedById FROM Contact")}
    assert writers == {emulator.admin_user_id} and client.user_id not in writers


def test_the_same_plan_seeds_the_same_people(emulator):
    first = emulator.seed(SeedPlan(people_count=50, people_seed=9)).as_json()
    emulator.reset()
    assert emulator.seed(SeedPlan(people_count=50, people_seed=9)).as_json() == first


def test_seeding_from_a_list_of_emails_through_the_control_api(server, client):
    emails = [person.email for person in people(40, 2)] + ["Mixed.Case@Example.com"]
    report = requests.post(
        f"{server.url}/_sandbox/seed", json={"emails": emails, "share": 1.0, "accounts": 2}, timeout=10
    ).json()
    seeded = len(report["contact_emails"]) + len(report["lead_emails"]) + len(report["both_emails"])
    assert seeded == 41
    found = set(_emails(client, "Contact")) | set(_emails(client, "Lead"))
    assert {email.lower() for email in emails} <= found
    refused = requests.post(f"{server.url}/_sandbox/seed", json={"peple_count": 3}, timeout=10)
    assert refused.status_code == 400 and "peple_count" in refused.json()[0]["message"]
