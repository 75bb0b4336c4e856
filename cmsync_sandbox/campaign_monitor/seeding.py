"""Seed data: clients, lists with custom fields, subscribers in every state, campaigns with months of
opens, clicks, bounces, unsubscribes and spam complaints, and journeys with their own tracking.

The same ``seed`` gives the same account. Subscribers are drawn from ``people(count, seed)``, the pool the
Salesforce seeder uses too, so the two emulators share people. Recipients' actions change their state as
they would in CM (a hard bounce sets Bounced, an unsubscribe or spam complaint sets Unsubscribed).
"""

import gc
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from cmsync_sandbox.campaign_monitor.dates import DAY, MINUTE
from cmsync_sandbox.campaign_monitor.model import Client, Event, EventLog, Location, MailingList, Subscriber
from cmsync_sandbox.campaign_monitor.state import AccountState
from cmsync_sandbox.people import people

SANDBOX_CLIENT_ID = "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"
"""The client ``config/sandbox.yaml`` syncs; every seed creates it first."""


@dataclass(frozen=True)
class SeedSpec:
    """How much to create: clients, lists per client, subscribers per list, campaigns, journeys, months."""

    clients: int = 2
    lists_per_client: int = 2
    subscribers_per_list: int = 40
    campaigns_per_client: int = 2
    journeys_per_client: int = 1
    months: int = 3


SIZES = {
    "small": SeedSpec(),
    "demo": SeedSpec(
        clients=3,
        lists_per_client=3,
        subscribers_per_list=1500,
        campaigns_per_client=8,
        journeys_per_client=2,
        months=12,
    ),
    "large": SeedSpec(
        clients=3,
        lists_per_client=4,
        subscribers_per_list=25_000,
        campaigns_per_client=6,
        journeys_per_client=2,
        months=18,
    ),
}

_CLIENTS = (
    ("Harbour Outfitters", "Mia Taylor", "Australia", "(GMT+10:00) Brisbane", 600),
    ("Lindqvist Design", "Søren Lindqvist", "United Kingdom", "(GMT) Coordinated Universal Time", 0),
    ("Kaveri Foods", "Priya Patel", "India", "(GMT+05:30) Chennai, Kolkata, Mumbai, New Delhi", 330),
    ("Andes Travel Co.", "José Fernández", "Peru", "(GMT-05:00) Bogota, Lima, Quito", -300),
)
_LIST_TITLES = ("Newsletter", "Customers", "Events & Webinars", "Product Updates", "VIP Offers", "Partners")
_CAMPAIGN_THEMES = (
    "Spring collection",
    "Monthly newsletter",
    "Members' weekend",
    "Product update",
    "Last chance: 20% off",
    "Winter warmers",
    "Customer stories",
    "Événements à venir",
)
_JOURNEY_EMAILS = (("Welcome", 0), ("Getting started", 3 * DAY), ("We'd love your feedback", 14 * DAY))
_READERS = ("Gmail", "Apple Mail", "Outlook", "", "Yahoo! Mail")
_CITIES = ("Brisbane", "London", "Mumbai", "Lima", "Zürich", "São Paulo", "Montréal", "Kraków", "Ōsaka", "Dublin")
_PLANS = ("Free", "Plus", "Pro")
_INTERESTS = ("News", "Events", "Offers")
_LOCATIONS = (
    Location("203.0.113.10", -27.4698, 153.0251, "Brisbane", "Queensland", "AU", "Australia"),
    Location("198.51.100.7", 51.5072, -0.1276, "London", "England", "GB", "United Kingdom"),
    Location("192.0.2.44", 19.0760, 72.8777, "Mumbai", "Maharashtra", "IN", "India"),
    Location("203.0.113.99", -12.0464, -77.0428, "Lima", "Lima", "PE", "Peru"),
    Location("198.51.100.23", 47.3769, 8.5417, "Zürich", "Zurich", "CH", "Switzerland"),
    Location("192.0.2.180", 40.7128, -74.0060, "New York", "New York", "US", "United States"),
)


def spec_for(size: str | SeedSpec) -> SeedSpec:
    """The spec of a named size (``small``, ``demo``, ``large``), or the spec itself."""
    if isinstance(size, SeedSpec):
        return size
    try:
        return SIZES[size.lower()]
    except KeyError:
        raise ValueError(f"unknown seed size {size!r}; use one of {', '.join(SIZES)} or explicit counts") from None


def people_pool_size(spec: SeedSpec) -> int:
    """How many of ``people(count, seed)`` the lists draw their subscribers from (the Salesforce seed overlaps them)."""
    slots = spec.clients * spec.lists_per_client * spec.subscribers_per_list
    return max(spec.subscribers_per_list, slots * 3 // 5)


FREEZE_FROM = 100_000
"""From this many subscribers, seeded records are frozen out of garbage collection: they live as long as the
account, and a full collection scanning a million of them would pause a page for ~300 ms."""


def seed_account(state: AccountState, size: str | SeedSpec = "small", seed: int = 1) -> dict[str, int]:
    """Replace the account's data with a seeded one; returns how much it holds."""
    spec = spec_for(size)
    with state.lock:
        gc.unfreeze()
        state.clear(seed)
        _Seeder(state, spec, seed).run()
        summary = state.summary()
        if summary["subscribers"] >= FREEZE_FROM:
            gc.collect()
            gc.freeze()
        return summary


def _field_values(rng: random.Random) -> tuple[tuple[str, str], ...]:
    values: list[tuple[str, str]] = []
    if rng.random() < 0.8:
        values.append(("City", rng.choice(_CITIES)))
    values.append(("Plan", rng.choice(_PLANS)))
    values.extend(("Interests", interest) for interest in _INTERESTS if rng.random() < 0.4)
    if rng.random() < 0.6:
        values.append(("Loyalty Points", str(rng.randrange(0, 5000, 10))))
    return tuple(values)


class _Seeder:
    def __init__(self, state: AccountState, spec: SeedSpec, seed: int) -> None:
        self.state = state
        self.spec = spec
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = state.clock.now()
        self.start = self.now - spec.months * 30 * DAY
        self.field_sets = [_field_values(self.rng) for _ in range(256)]
        self.joined_order: dict[str, list[Subscriber]] = {}

    def run(self) -> None:
        spec = self.spec
        pool_size = people_pool_size(spec)
        emails: list[str] = []
        names: list[str] = []
        for person in people(pool_size, self.seed):
            emails.append(person.email)
            names.append(person.name)
        for number in range(spec.clients):
            client = self._client(number)
            for list_number in range(spec.lists_per_client):
                mailing_list = self._list(client, list_number)
                self._members(mailing_list, emails, names)
            self._journeys(client)
            self._campaigns(client)
            for mailing_list in client.lists:
                self._leavers(mailing_list)

    def _client(self, number: int) -> Client:
        name, contact, country, timezone, offset = _CLIENTS[number % len(_CLIENTS)]
        if number >= len(_CLIENTS):
            name = f"{name} {number // len(_CLIENTS) + 1}"
        client_id = SANDBOX_CLIENT_ID if number == 0 else self.state.new_id()
        domain = name.lower().replace(" ", "").replace(".", "").replace("&", "and")
        api_key = f"{self.rng.getrandbits(192):048x}"
        return self.state.add_client(
            Client(client_id, name, contact, f"hello@{domain}.example.com", country, timezone, offset, api_key)
        )

    def _list(self, client: Client, number: int) -> MailingList:
        title = _LIST_TITLES[number % len(_LIST_TITLES)]
        if number >= len(_LIST_TITLES):
            title = f"{title} {number // len(_LIST_TITLES) + 1}"
        mailing_list = self.state.add_list(client.client_id, title, confirmed_opt_in=number % 3 == 1)
        if number % 4 == 3:
            mailing_list.unsubscribe_setting = "OnlyThisList"
        state = self.state
        state.create_custom_field(mailing_list.list_id, "City", "Text")
        state.create_custom_field(mailing_list.list_id, "Plan", "MultiSelectOne", _PLANS)
        state.create_custom_field(mailing_list.list_id, "Interests", "MultiSelectMany", _INTERESTS)
        state.create_custom_field(mailing_list.list_id, "Loyalty Points", "Number")
        return mailing_list

    def _members(self, mailing_list: MailingList, emails: Sequence[str], names: Sequence[str]) -> None:
        rng = self.rng
        count = min(self.spec.subscribers_per_list, len(emails))
        chosen: Sequence[int] = range(count) if count == len(emails) else rng.sample(range(len(emails)), count)
        span = max(1, (self.now - DAY - self.start) // MINUTE)
        pending_share = 0.04 if mailing_list.confirmed_opt_in else 0.0
        field_sets, readers, start = self.field_sets, _READERS, self.start
        members, by_state = mailing_list.members, mailing_list.by_state
        joined_order: list[Subscriber] = []
        for index in chosen:
            email = emails[index]
            key = email if email.islower() else email.lower()
            early = rng.random() < 0.4
            joined = start + rng.randrange(7 * 24 * 60 if early else span) * MINUTE
            state = "Unconfirmed" if pending_share and rng.random() < pending_share else "Active"
            subscriber = Subscriber(
                email,
                key,
                names[index],
                state,
                joined,
                joined,
                field_sets[rng.randrange(256)],
                readers[rng.randrange(5)],
                "Yes" if rng.random() < 0.9 else "No",
            )
            members[key] = subscriber
            by_state[state][key] = subscriber
            joined_order.append(subscriber)
        for view in mailing_list.views.values():
            view.changed()
        joined_order.sort(key=lambda subscriber: subscriber.joined)
        self.joined_order[mailing_list.list_id] = joined_order

    def _campaigns(self, client: Client) -> None:
        rng = self.rng
        first, last = self.start + 7 * DAY, self.now - DAY // 24
        if last <= first or not client.lists:
            return
        sent_dates = sorted(
            first + rng.randrange((last - first) // MINUTE) * MINUTE for _ in range(self.spec.campaigns_per_client)
        )
        for number, sent in enumerate(sent_dates):
            lists = [client.lists[number % len(client.lists)]]
            if number % 4 == 3 and len(client.lists) > 1:
                lists.append(client.lists[(number + 1) % len(client.lists)])
            theme = _CAMPAIGN_THEMES[number % len(_CAMPAIGN_THEMES)]
            campaign = self.state.add_campaign(
                client.client_id,
                [each.list_id for each in lists],
                name=f"{theme} #{number + 1}",
                subject=f"{theme} from {client.name}",
                sent=sent,
            )
            campaign.tags = [theme.split()[0].lower()]
            links = [
                f"https://www.example.com/{client.client_id[:6]}/{number}/{page}" for page in ("shop", "blog", "events")
            ]
            recipients = campaign.events["recipients"]
            seen: set[str] = set()
            for mailing_list in lists:
                for subscriber in self._received(mailing_list, sent):
                    if subscriber.key in seen:
                        continue
                    seen.add(subscriber.key)
                    recipients.add(Event(subscriber.email, subscriber.key, mailing_list.list_id, sent))
                    self._reactions(mailing_list, subscriber, sent, campaign.events, links)

    def _received(self, mailing_list: MailingList, sent: int) -> list[Subscriber]:
        """Members who had joined by ``sent`` and were active then."""
        joined_order = self.joined_order[mailing_list.list_id]
        joined_by_then = joined_order[: bisect_right(joined_order, sent, key=lambda subscriber: subscriber.joined)]
        return [
            subscriber
            for subscriber in joined_by_then
            if subscriber.state == "Active" or (subscriber.state != "Unconfirmed" and subscriber.date > sent)
        ]

    def _reactions(
        self, mailing_list: MailingList, subscriber: Subscriber, sent: int, logs: dict[str, EventLog], links: list[str]
    ) -> None:
        """What one recipient does with one email: bounce, or open, click, unsubscribe, complain."""
        rng, now = self.rng, self.now
        roll = rng.random()
        if roll < 0.02:
            hard = rng.random() < 0.4
            at = sent + rng.randrange(1, 30) * MINUTE
            if at < now and "bounces" in logs:
                bounce_type = "Hard" if hard else "Soft"
                reason = (
                    "Hard Bounce" if hard else rng.choice(("Soft Bounce - Mailbox Full", "Soft Bounce - Dns Failure"))
                )
                logs["bounces"].add(
                    Event(
                        subscriber.email,
                        subscriber.key,
                        mailing_list.list_id,
                        at,
                        bounce_type=bounce_type,
                        reason=reason,
                    )
                )
                if hard and subscriber.state == "Active":
                    mailing_list.move(subscriber, "Bounced", at)
            return
        if roll > 0.32:
            return
        opened = sent + rng.randrange(5, 3 * 24 * 60) * MINUTE
        location = _LOCATIONS[rng.randrange(len(_LOCATIONS))]
        for repeat in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            at = opened + repeat * rng.randrange(60, 2 * 24 * 60) * MINUTE
            if at < now:
                logs["opens"].add(Event(subscriber.email, subscriber.key, mailing_list.list_id, at, location))
        if rng.random() < 0.35 and opened + 2 * MINUTE < now:
            url = links[rng.randrange(len(links))]
            logs["clicks"].add(
                Event(subscriber.email, subscriber.key, mailing_list.list_id, opened + 2 * MINUTE, location, url)
            )
        left = opened + 3 * MINUTE
        if left >= now or subscriber.state != "Active":
            return
        if rng.random() < 0.02:
            logs["unsubscribes"].add(Event(subscriber.email, subscriber.key, mailing_list.list_id, left, location))
            self.state.unsubscribe(mailing_list.list_id, subscriber.email, left)
        elif rng.random() < 0.003 and "spam" in logs:
            logs["spam"].add(Event(subscriber.email, subscriber.key, mailing_list.list_id, left))
            self.state.unsubscribe(mailing_list.list_id, subscriber.email, left)

    def _journeys(self, client: Client) -> None:
        created = self.start + (self.now - self.start) // 5 // MINUTE * MINUTE
        for number in range(self.spec.journeys_per_client):
            if not client.lists:
                return
            mailing_list = client.lists[number % len(client.lists)]
            name = "Welcome series" if number == 0 else f"Onboarding {number + 1}"
            journey = self.state.add_journey(client.client_id, mailing_list.list_id, name, _JOURNEY_EMAILS)
            journey.created = created
            for subscriber in self.joined_order[mailing_list.list_id]:
                if subscriber.joined < created or subscriber.state == "Unconfirmed":
                    continue
                for email in journey.emails:
                    sent = subscriber.joined + email.delay
                    if sent >= self.now or subscriber.state != "Active":
                        break
                    email.events["recipients"].add(Event(subscriber.email, subscriber.key, mailing_list.list_id, sent))
                    self._reactions(mailing_list, subscriber, sent, email.events, ["https://www.example.com/welcome"])

    def _leavers(self, mailing_list: MailingList) -> None:
        """Some members leave through the preference centre or are deleted in the UI, in the last two months."""
        rng = self.rng
        recent = max(self.start, self.now - 60 * DAY)
        for subscriber in self.joined_order[mailing_list.list_id]:
            roll = rng.random()
            if roll >= 0.05 or subscriber.state != "Active":
                continue
            at = max(subscriber.date, recent) + rng.randrange(1, 50 * 24 * 60) * MINUTE
            if at < self.now:
                mailing_list.move(subscriber, "Deleted" if roll < 0.02 else "Unsubscribed", at)
