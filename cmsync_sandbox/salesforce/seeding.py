"""Seed data: Accounts, Contacts and Leads whose emails overlap a Campaign Monitor seed by a chosen share.

The overlap is what the sync has to get right, so it comes in every shape: people who are a Contact, a
Lead, or both; some with a duplicate Contact (same email in other letter case, modified later); some
opted out; plus Salesforce-only people no CM list has. The choice is deterministic for a given plan.
"""

import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cmsync_sandbox.people import Person, people
from cmsync_sandbox.salesforce.standard_objects import INDUSTRIES, LEAD_SOURCES
from cmsync_sandbox.salesforce.store import RecordStore
from cmsync_sandbox.salesforce.writes import Writer

COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent")


@dataclass(frozen=True)
class SeedPlan:
    """What to seed. The people to overlap with are ``emails`` (addresses or Person) or ``people(count, seed)``."""

    emails: Sequence[str | Person] = ()
    people_count: int = 0
    people_seed: int = 1
    share: float = 0.6
    lead_share: float = 0.25
    both_share: float = 0.1
    duplicate_share: float = 0.05
    opted_out_share: float = 0.05
    extra_contacts: int = 0
    extra_leads: int = 0
    accounts: int = 10
    random_seed: int = 7

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "SeedPlan":
        """A plan from the control API's JSON (unknown keys are a ValueError)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown seed settings: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(body)
        values["emails"] = tuple(str(email) for email in values.get("emails", ()))
        return cls(**values)


@dataclass
class SeedReport:
    """What was seeded, with the overlapping emails by kind so a test can check the sync against them."""

    accounts: int = 0
    contacts: int = 0
    leads: int = 0
    contact_emails: list[str] = field(default_factory=list)
    lead_emails: list[str] = field(default_factory=list)
    both_emails: list[str] = field(default_factory=list)
    duplicate_emails: list[str] = field(default_factory=list)
    salesforce_only_emails: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _person(entry: str | Person) -> Person:
    if isinstance(entry, Person):
        return entry
    local = entry.split("@", 1)[0].split("+", 1)[0]
    parts = [part for part in local.replace("_", ".").replace("-", ".").split(".") if part and not part.isdigit()]
    first = parts[0].capitalize() if len(parts) > 1 else ""
    last = (parts[-1] if parts else "Unknown").capitalize()
    return Person(first, last, entry)


def _overlap_people(plan: SeedPlan) -> list[Person]:
    if plan.emails:
        return [_person(entry) for entry in plan.emails]
    return list(people(plan.people_count, plan.people_seed))


def _salesforce_only(count: int, seed: int) -> Iterable[Person]:
    for person in people(count, seed + 100):
        yield Person(person.first_name, person.last_name, f"sf-only.{person.email}")


def seed(store: RecordStore, writer: Writer, plan: SeedPlan, user_id: str) -> SeedReport:
    """Write the plan's records as ``user_id`` (a person, not the integration user); caller holds the lock."""
    rng = random.Random(plan.random_seed)
    report = SeedReport()
    account_table, contact_table, lead_table = store.table("Account"), store.table("Contact"), store.table("Lead")
    assert account_table is not None and contact_table is not None and lead_table is not None
    account_ids = []
    for number in range(plan.accounts):
        values = {
            "Name": f"{COMPANIES[number % len(COMPANIES)]} {number + 1}",
            "Industry": INDUSTRIES[number % len(INDUSTRIES)],
        }
        account_ids.append(writer.insert(account_table, values, user_id).id)
    report.accounts = len(account_ids)

    def contact(person: Person, email: str) -> None:
        values: dict[str, Any] = {
            "FirstName": person.first_name or None,
            "LastName": person.last_name,
            "Email": email,
            "HasOptedOutOfEmail": rng.random() < plan.opted_out_share,
            "LeadSource": rng.choice(LEAD_SOURCES),
        }
        if account_ids:
            values["AccountId"] = rng.choice(account_ids)
        writer.insert(contact_table, values, user_id)
        report.contacts += 1

    def lead(person: Person) -> None:
        values = {
            "FirstName": person.first_name or None,
            "LastName": person.last_name,
            "Email": person.email,
            "Company": rng.choice(COMPANIES),
            "Industry": rng.choice(INDUSTRIES),
            "HasOptedOutOfEmail": rng.random() < plan.opted_out_share,
        }
        writer.insert(lead_table, values, user_id)
        report.leads += 1

    candidates = _overlap_people(plan)
    chosen = rng.sample(candidates, round(len(candidates) * plan.share))
    for person in chosen:
        draw = rng.random()
        if draw < plan.both_share:
            contact(person, person.email)
            lead(person)
            report.both_emails.append(person.email)
        elif draw < plan.both_share + plan.lead_share:
            lead(person)
            report.lead_emails.append(person.email)
        else:
            contact(person, person.email)
            report.contact_emails.append(person.email)
            if rng.random() < plan.duplicate_share:
                contact(person, person.email.upper())
                report.duplicate_emails.append(person.email)
    for person in _salesforce_only(plan.extra_contacts, plan.people_seed):
        contact(person, person.email)
        report.salesforce_only_emails.append(person.email)
    for person in _salesforce_only(plan.extra_leads, plan.people_seed + 1):
        lead(person)
        report.salesforce_only_emails.append(person.email)
    return report
