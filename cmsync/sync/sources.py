"""What a run remembers about the things it fans out to: clients' time zones and tracking sources.

A list or tracking job receives only IDs; the plan step stores what the job needs to know about them
(the client's UTC offset, a campaign's sent date) as facts in the state store.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from cmsync.state import StateStore


@dataclass(frozen=True)
class ClientFacts:
    client_id: str
    name: str
    timezone: str
    offset_minutes: int | None

    @property
    def offset(self) -> timedelta | None:
        return timedelta(minutes=self.offset_minutes) if self.offset_minutes is not None else None


@dataclass(frozen=True)
class SourceFacts:
    """A campaign or a journey email whose tracking events a job imports."""

    kind: str
    source_id: str
    client_id: str
    name: str
    sent_date: str | None

    @property
    def sent(self) -> datetime | None:
        return datetime.fromisoformat(self.sent_date) if self.sent_date else None


def save_client(store: StateStore, facts: ClientFacts) -> None:
    store.facts.client(facts.client_id).set(asdict(facts))


def client(store: StateStore, client_id: str) -> ClientFacts | None:
    data = store.facts.client(client_id).get()
    return ClientFacts(**data) if data else None


def save_source(store: StateStore, facts: SourceFacts) -> None:
    store.facts.source(facts.source_id).set(asdict(facts))


def source(store: StateStore, source_id: str) -> SourceFacts | None:
    data = store.facts.source(source_id).get()
    return SourceFacts(**data) if data else None
