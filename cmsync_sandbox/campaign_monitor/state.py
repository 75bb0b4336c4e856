"""The emulated account and what CM does to it: subscribe, update, unsubscribe, delete, import, send, track.

Every API call and test control goes through one ``AccountState`` under its lock. The rules follow CM: a
change of state sets the subscriber's ``Date``; a change of name, fields or email does not; unsubscribing
from a list whose setting is ``AllClientLists`` unsubscribes the email from every list of the client; a
subscription starts the list's active journeys (for imports only when asked to).
"""

import random
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cmsync_sandbox.campaign_monitor.dates import Clock
from cmsync_sandbox.campaign_monitor.errors import ApiError, error_message
from cmsync_sandbox.campaign_monitor.model import (
    FIELD_TYPES,
    INACTIVE_STATE_CODES,
    STATES,
    Campaign,
    Client,
    CustomField,
    Event,
    EventLog,
    Journey,
    JourneyEmail,
    JourneyTrigger,
    Location,
    MailingList,
    Subscriber,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
CONSENT_VALUES = {"yes": "Yes", "no": "No", "unchanged": "Unchanged"}
DEFAULT_LOCATION = Location("203.0.113.10", -27.4698, 153.0251, "Brisbane", "Queensland", "AU", "Australia")


def valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))


@dataclass(frozen=True)
class FieldValue:
    """One ``CustomFields`` entry of a request: ``Clear`` removes the field's values."""

    key: str
    value: str
    clear: bool = False


@dataclass(frozen=True)
class SubscriberInput:
    """A subscriber as a request describes it; ``name`` None keeps the current name."""

    email: str
    name: str | None
    fields: tuple[FieldValue, ...]
    consent: str


class AccountState:
    """One CM account: clients, lists, campaigns and journeys, plus the journeys subscriptions started."""

    def __init__(self, clock: Clock | None = None, seed: int = 1) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.clear(seed)

    def clear(self, seed: int = 1) -> None:
        """Forget everything (the account is empty afterwards)."""
        with self.lock:
            self.rng = random.Random(seed)
            self.clients: dict[str, Client] = {}
            self.lists: dict[str, MailingList] = {}
            self.campaigns: dict[str, Campaign] = {}
            self.journeys: dict[str, Journey] = {}
            self.journey_emails: dict[str, tuple[Journey, JourneyEmail]] = {}
            self.triggers: list[JourneyTrigger] = []

    def new_id(self) -> str:
        """A fresh CM ID: 32 lower-case hex characters."""
        return f"{self.rng.getrandbits(128):032x}"

    # Look-ups, with the error CM answers for an unknown ID.

    def client(self, client_id: str) -> Client:
        found = self.clients.get(client_id.lower())
        if found is None:
            raise ApiError(102)
        return found

    def mailing_list(self, list_id: str) -> MailingList:
        found = self.lists.get(list_id.lower())
        if found is None:
            raise ApiError(101)
        return found

    def campaign(self, campaign_id: str) -> Campaign:
        found = self.campaigns.get(campaign_id.lower())
        if found is None:
            raise ApiError(301)
        return found

    def journey(self, journey_id: str) -> Journey:
        found = self.journeys.get(journey_id.lower())
        if found is None:
            raise ApiError(3000)
        return found

    def journey_email(self, email_id: str) -> tuple[Journey, JourneyEmail]:
        found = self.journey_emails.get(email_id.lower())
        if found is None:
            raise ApiError(3002)
        return found

    def offset_of(self, client_id: str) -> int:
        """Minutes east of UTC of the client's time zone."""
        return self.clients[client_id].utc_offset_minutes

    def member(self, mailing_list: MailingList, email: str) -> Subscriber:
        if not valid_email(email.strip()):
            raise ApiError(1)
        found = mailing_list.members.get(email.strip().lower())
        if found is None:
            raise ApiError(203)
        return found

    # Building the account (seeder, controls and tests).

    def add_client(self, client: Client) -> Client:
        with self.lock:
            self.clients[client.client_id] = client
            return client

    def add_list(
        self, client_id: str, title: str, *, confirmed_opt_in: bool = False, list_id: str | None = None
    ) -> MailingList:
        with self.lock:
            client = self.client(client_id)
            mailing_list = MailingList(
                list_id or self.new_id(), client.client_id, title, confirmed_opt_in=confirmed_opt_in
            )
            client.lists.append(mailing_list)
            self.lists[mailing_list.list_id] = mailing_list
            return mailing_list

    def add_members(
        self, list_id: str, people: Iterable[tuple[str, str]], *, state: str = "Active", at: int | None = None
    ) -> int:
        """Put (email, name) pairs on a list in ``state`` directly, as an import in CM's UI does (no journeys)."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            instant = self.clock.now() if at is None else at
            added = 0
            for email, name in people:
                if email.lower() not in mailing_list.members:
                    mailing_list.insert(Subscriber(email, email.lower(), name, state, instant, instant))
                    added += 1
            return added

    def add_journey(self, client_id: str, list_id: str, name: str, email_names: Sequence[tuple[str, int]]) -> Journey:
        """An active "On Subscription" journey whose emails go out ``delay`` seconds after joining."""
        with self.lock:
            client = self.client(client_id)
            journey = Journey(self.new_id(), client.client_id, list_id, name, "Active", self.clock.now())
            for email_name, delay in email_names:
                email = JourneyEmail(self.new_id(), email_name, delay)
                journey.emails.append(email)
                self.journey_emails[email.email_id] = (journey, email)
            client.journeys.append(journey)
            self.journeys[journey.journey_id] = journey
            return journey

    def create_custom_field(
        self, list_id: str, name: str, data_type: str, options: Sequence[str] = (), visible: bool = True
    ) -> CustomField:
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            name = name.strip()
            if not name or "[" in name or "]" in name:
                raise ApiError(254)
            matching_type = next((known for known in FIELD_TYPES if known.lower() == data_type.strip().lower()), None)
            if matching_type is None:
                raise ApiError(259)
            if matching_type.startswith("MultiSelect") and not options:
                raise ApiError(257)
            key = f"[{name.replace(' ', '')}]"
            if mailing_list.field_named(key) is not None:
                raise ApiError(255)
            custom_field = CustomField(name, key, matching_type, list(options), visible)
            mailing_list.add_field(custom_field)
            return custom_field

    def delete_custom_field(self, list_id: str, key: str) -> None:
        """Remove a field and its values; ``key`` must be written ``[Key]``."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            custom_field = mailing_list.field_named(key) if key.startswith("[") and key.endswith("]") else None
            if custom_field is None:
                raise ApiError(253)
            del mailing_list.fields[custom_field.key.strip("[]").casefold()]
            for subscriber in mailing_list.members.values():
                if subscriber.fields:
                    subscriber.fields = tuple(pair for pair in subscriber.fields if pair[0] != custom_field.name)

    # Subscribers, as the API changes them.

    def add_subscriber(
        self, list_id: str, given: SubscriberInput, *, resubscribe: bool, restart_journeys: bool
    ) -> Subscriber:
        """CM's add: an upsert; inactive subscribers come back only with ``resubscribe``."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            if not valid_email(given.email):
                raise ApiError(1)
            existing = mailing_list.members.get(given.email.lower())
            if existing is None:
                return self._subscribe_new(mailing_list, given, cause="add", start_journeys=True)
            self._apply(mailing_list, existing, given)
            if resubscribe:
                self._resubscribe(mailing_list, existing, restart_journeys, cause="add")
            return existing

    def update_subscriber(
        self, list_id: str, email: str, given: SubscriberInput, *, resubscribe: bool, restart_journeys: bool
    ) -> Subscriber:
        """CM's update: may change the email; the state changes only with ``resubscribe``."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            subscriber = self.member(mailing_list, email)
            new_email = given.email.strip() or subscriber.email
            if not valid_email(new_email):
                raise ApiError(211)
            if new_email.lower() != subscriber.key:
                if new_email.lower() in mailing_list.members:
                    raise ApiError(201)
                mailing_list.rekey(subscriber, new_email)
            elif new_email != subscriber.email:
                subscriber.email = new_email
            self._apply(mailing_list, subscriber, given)
            if resubscribe:
                self._resubscribe(mailing_list, subscriber, restart_journeys, cause="update")
            return subscriber

    def unsubscribe(self, list_id: str, email: str, at: int | None = None) -> Subscriber:
        """Unsubscribe from this list, or from all the client's lists when the list says ``AllClientLists``."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            subscriber = self.member(mailing_list, email)
            instant = self.clock.now() if at is None else at
            lists = [mailing_list]
            if mailing_list.unsubscribe_setting == "AllClientLists":
                lists = self.clients[mailing_list.client_id].lists
            for each in lists:
                member = each.members.get(subscriber.key)
                if member is not None and member.state != "Deleted":
                    each.move(member, "Unsubscribed", max(instant, member.date))
            return subscriber

    def delete_subscriber(self, list_id: str, email: str) -> Subscriber:
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            subscriber = self.member(mailing_list, email)
            mailing_list.move(subscriber, "Deleted", self.clock.now())
            return subscriber

    def import_subscribers(
        self,
        list_id: str,
        given: Sequence[SubscriberInput],
        *,
        resubscribe: bool,
        queue_journeys: bool,
        restart_journeys: bool,
    ) -> dict[str, Any]:
        """CM's bulk import: at most 1000; raises code 210 with the result when some failed."""
        with self.lock:
            mailing_list = self.mailing_list(list_id)
            if not given:
                raise ApiError(212)
            if len(given) > 1000:
                raise ApiError(209)
            submitted: set[str] = set()
            duplicates: list[str] = []
            failures: list[dict[str, Any]] = []
            existing_count = new_count = 0
            for item in given:
                key = item.email.strip().lower()
                if key in submitted:
                    duplicates.append(item.email)
                    continue
                submitted.add(key)
                if not valid_email(item.email.strip()):
                    failures.append({"EmailAddress": item.email, "Code": 1, "Message": error_message(1)})
                    continue
                existing = mailing_list.members.get(key)
                if existing is None:
                    new_count += 1
                    self._subscribe_new(mailing_list, item, cause="import", start_journeys=queue_journeys, opt_in=False)
                    continue
                existing_count += 1
                if existing.state != "Active" and not resubscribe:
                    code = INACTIVE_STATE_CODES[existing.state]
                    failures.append({"EmailAddress": item.email, "Code": code, "Message": error_message(code)})
                    continue
                self._apply(mailing_list, existing, item)
                if resubscribe:
                    self._resubscribe(mailing_list, existing, queue_journeys and restart_journeys, cause="import")
            result = {
                "FailureDetails": failures,
                "TotalUniqueEmailsSubmitted": len(submitted),
                "TotalExistingSubscribers": existing_count,
                "TotalNewSubscribers": new_count,
                "DuplicateEmailsInSubmission": duplicates,
            }
            if failures:
                raise ApiError(210, result_data=result)
            return result

    def _subscribe_new(
        self,
        mailing_list: MailingList,
        given: SubscriberInput,
        *,
        cause: str,
        start_journeys: bool,
        opt_in: bool = True,
    ) -> Subscriber:
        now = self.clock.now()
        pending = opt_in and mailing_list.confirmed_opt_in
        consent = given.consent if given.consent != "Unchanged" else "No"
        subscriber = Subscriber(
            given.email.strip(),
            given.email.strip().lower(),
            given.name or "",
            "Unconfirmed" if pending else "Active",
            now,
            now,
        )
        subscriber.consent = consent
        mailing_list.insert(subscriber)
        self._apply(mailing_list, subscriber, given)
        if start_journeys and not pending:
            self._start_journeys(mailing_list, subscriber, cause)
        return subscriber

    def _resubscribe(self, mailing_list: MailingList, subscriber: Subscriber, restart: bool, cause: str) -> None:
        if subscriber.state == "Active":
            return
        mailing_list.move(subscriber, "Active", self.clock.now())
        if restart:
            self._start_journeys(mailing_list, subscriber, f"{cause} (resubscribed)")

    def _apply(self, mailing_list: MailingList, subscriber: Subscriber, given: SubscriberInput) -> None:
        """Name, custom fields and consent; none of them changes the subscriber's ``Date``."""
        if given.name is not None and given.name != subscriber.name:
            subscriber.name = given.name
            mailing_list.views[subscriber.state].changed()
        if given.consent != "Unchanged":
            subscriber.consent = given.consent
        if not given.fields:
            return
        values = [list(pair) for pair in subscriber.fields]
        replaced: set[str] = set()
        for entry in given.fields:
            custom_field = mailing_list.field_named(entry.key)
            if custom_field is None:
                continue
            name = custom_field.name
            if name not in replaced:
                values = [pair for pair in values if pair[0] != name]
                replaced.add(name)
            if not entry.clear and entry.value != "":
                values.append([name, entry.value])
        subscriber.fields = tuple((name, value) for name, value in values)

    def _start_journeys(self, mailing_list: MailingList, subscriber: Subscriber, cause: str) -> None:
        now = self.clock.now()
        for journey in self.clients[mailing_list.client_id].journeys:
            if journey.list_id != mailing_list.list_id or journey.status != "Active":
                continue
            self.triggers.append(JourneyTrigger(journey.journey_id, mailing_list.list_id, subscriber.email, now, cause))
            if journey.emails and journey.emails[0].delay == 0:
                first = Event(subscriber.email, subscriber.key, mailing_list.list_id, now)
                journey.emails[0].events["recipients"].add(first)

    # What happens in CM outside the API (the UI, campaign sends, recipients' actions).

    def change_state(self, list_id: str, email: str, state: str, at: int | None = None) -> Subscriber:
        """Set a subscriber's state as a person in CM's UI would (unsubscribing follows the list's setting)."""
        with self.lock:
            if state not in STATES:
                raise ValueError(f"{state!r} is not a subscriber state; use one of {', '.join(STATES)}")
            if state == "Unsubscribed":
                return self.unsubscribe(list_id, email, at)
            mailing_list = self.mailing_list(list_id)
            subscriber = self.member(mailing_list, email)
            mailing_list.move(subscriber, state, self.clock.now() if at is None else at)
            return subscriber

    def add_campaign(self, client_id: str, list_ids: Sequence[str], *, name: str, subject: str, sent: int) -> Campaign:
        """A campaign sent at ``sent``, without recipients yet."""
        with self.lock:
            client = self.client(client_id)
            lists = [self.mailing_list(list_id) for list_id in list_ids]
            campaign = Campaign(
                self.new_id(),
                client.client_id,
                name,
                subject,
                client.contact_name,
                client.email,
                sent,
                [each.list_id for each in lists],
            )
            client.campaigns.append(campaign)
            self.campaigns[campaign.campaign_id] = campaign
            return campaign

    def send_campaign(
        self, client_id: str, list_ids: Sequence[str], *, name: str, subject: str, sent: int | None = None
    ) -> Campaign:
        """Send a campaign now (or at ``sent``): every active member of the lists becomes a recipient, once."""
        with self.lock:
            sent = self.clock.now() if sent is None else sent
            campaign = self.add_campaign(client_id, list_ids, name=name, subject=subject, sent=sent)
            recipients = campaign.events["recipients"]
            seen: set[str] = set()
            for list_id in campaign.list_ids:
                for subscriber in self.lists[list_id].by_state["Active"].values():
                    if subscriber.key not in seen:
                        seen.add(subscriber.key)
                        recipients.events.append(Event(subscriber.email, subscriber.key, list_id, sent))
            recipients.views.changed()
            return campaign

    def record_event(
        self,
        source_id: str,
        kind: str,
        email: str,
        *,
        at: int | None = None,
        url: str = "",
        bounce_type: str = "Hard",
        reason: str = "",
        location: Location = DEFAULT_LOCATION,
    ) -> Event:
        """A recipient of a campaign or journey email opens, clicks, bounces, unsubscribes or complains.

        Unsubscribing (and a spam complaint) unsubscribes the email; a hard bounce sets it to Bounced.
        """
        with self.lock:
            logs = self._event_logs(source_id)
            if kind not in logs or kind == "recipients":
                raise ValueError(f"{kind!r} is not an event kind here; use one of {', '.join(logs)}")
            recipient = next((event for event in logs["recipients"].events if event.key == email.lower()), None)
            if recipient is None:
                raise ApiError(203)
            instant = self.clock.now() if at is None else at
            event = Event(recipient.email, recipient.key, recipient.list_id, instant)
            if kind in ("opens", "clicks", "unsubscribes"):
                event.location = location
            if kind == "clicks":
                event.url = url or "https://www.example.com/"
            elif kind == "bounces":
                event.bounce_type = bounce_type
                event.reason = reason or f"{bounce_type} Bounce"
            logs[kind].add(event)
            mailing_list = self.lists.get(recipient.list_id)
            if mailing_list is not None and recipient.key in mailing_list.members:
                if kind in ("unsubscribes", "spam"):
                    self.unsubscribe(mailing_list.list_id, recipient.email, instant)
                elif kind == "bounces" and bounce_type == "Hard":
                    mailing_list.move(mailing_list.members[recipient.key], "Bounced", instant)
            return event

    def _event_logs(self, source_id: str) -> dict[str, EventLog]:
        campaign = self.campaigns.get(source_id.lower())
        if campaign is not None:
            return campaign.events
        return self.journey_email(source_id)[1].events

    def summary(self) -> dict[str, int]:
        """How much the account holds (for the launcher and the seed control)."""
        with self.lock:
            return {
                "clients": len(self.clients),
                "lists": len(self.lists),
                "subscribers": sum(len(each.members) for each in self.lists.values()),
                "campaigns": len(self.campaigns),
                "journeys": len(self.journeys),
            }
