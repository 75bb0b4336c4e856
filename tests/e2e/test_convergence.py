"""After every run Salesforce holds exactly what Campaign Monitor says it must, checked by the oracle through
both public APIs: a first run over hostile data, an incremental run after changes CM dates, a full run
after edits only a full pass can see and after drift made directly in Salesforce, and a run with nothing
new that writes nothing. Once on the embedded broker, once on RabbitMQ with ``cmsync worker`` and a Bulk API
threshold low enough that list pages go through Bulk ingest."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from tests.e2e.conftest import Convergence
from tests.e2e.hostile import (
    DOMAIN,
    add_minute_flipper,
    record_event,
    resubscribe,
    send_campaign,
    subscriber,
    update,
)
from tests.sync.cmsync_worker import Workers

NEWCOMERS = (
    ("łukasz.żółć@przykład.pl", "Łukasz Żółć"),
    (f"new.o'hara@{DOMAIN}", "Scarlett O'Hara"),
    ("🎉party@emoji.example.com", "🎉"),
)


def _changes_cm_dates(world: Convergence) -> None:
    """Adds, unsubscribes, deletes, bounces, a resubscribe, new tracking events, and the minute flipper
    unsubscribed in the CM minute the first run saw it join."""
    cm, controls, hostile = world.cm, world.cm_controls, world.hostile
    seeded = hostile.seeded
    cm.send("POST", f"subscribers/{hostile.list_id}/unsubscribe", {"EmailAddress": hostile.minute_flipper})
    for number, (email, name) in enumerate(NEWCOMERS):
        cm.send("POST", f"subscribers/{hostile.list_id}", subscriber(email, name, number))
    cm.send("POST", f"subscribers/{hostile.other_list_id}", subscriber(f"shared@{DOMAIN}", "On a second list", 3))
    for email in seeded[:2]:
        cm.send("POST", f"subscribers/{hostile.list_id}/unsubscribe", {"EmailAddress": email})
    cm.send("DELETE", f"subscribers/{hostile.list_id}", None, email=seeded[2])
    controls.call("POST", f"lists/{hostile.list_id}/state", {"email": seeded[3], "state": "Bounced"})
    again = {"EmailAddress": f"status.unsub@{DOMAIN}", "Resubscribe": True, "ConsentToTrack": "Yes"}
    cm.send("POST", f"subscribers/{hostile.list_id}", again)
    for kind, email in (("opens", "josé.garcía@ejemplo.es"), ("clicks", "田中太郎@例え.jp"), ("opens", seeded[4])):
        record_event(controls, hostile.old_campaign_id, kind, email)
    today = send_campaign(controls, hostile.client_id, hostile.list_id, "Today's news — Ünïcödé", "L'été 😀")
    for kind, email in (("opens", NEWCOMERS[0][0]), ("clicks", f"o'brien@{DOMAIN}"), ("spam", seeded[5])):
        record_event(controls, today, kind, email)


def _edits_and_drift(world: Convergence) -> None:
    """The minute flipper back to Active (still in its first minute when runs are quick), name, field and
    email edits in CM (their Date stays), and records changed directly in Salesforce."""
    cm, hostile, records = world.cm, world.hostile, world.sf_controls
    seeded, list_id = hostile.seeded, hostile.list_id
    resubscribe(cm, list_id, hostile.minute_flipper)
    fields = [{"Key": "[Tier]", "Value": "Gold"}, {"Key": "[Tags]", "Value": "B2B"}]
    update(cm, list_id, seeded[6], {"Name": "Renamed — Ærøskøbing", "CustomFields": fields})
    update(cm, list_id, seeded[7], {"EmailAddress": "corrigé.ñandú@ejemplo.es"})
    update(cm, list_id, seeded[8], {"EmailAddress": f"Fixed.Typo@{DOMAIN}"})
    records.call("DELETE", f"records/CM_List_Member__c/{world.member_id(list_id, seeded[9])}")
    drift = {"CM_State__c": "Deleted", "CM_Subscriber_Name__c": "Edited in Salesforce"}
    records.call("PATCH", f"records/CM_List_Member__c/{world.member_id(list_id, seeded[10])}", drift)
    world.earlier_links[f"edit.me@{DOMAIN}"] = {"Contact": hostile.contacts["to_edit"]}
    records.call("PATCH", f"records/Contact/{hostile.contacts['to_edit']}", {"Email": f"edited.elsewhere@{DOMAIN}"})


def converge(world: Convergence) -> None:
    """Run every step, then fail with every mismatch line of every step when any step had one."""
    add_minute_flipper(world.cm, world.cm_controls, world.hostile, world.cm_now())
    world.sync("first run")
    _changes_cm_dates(world)
    world.sync("incremental run")
    _edits_and_drift(world)
    world.sync("full run", full=True)
    before = len(world.salesforce_writes())
    world.sync("run with nothing new")
    writes = world.salesforce_writes()[before:]
    problems = [step for step in world.steps if step.mismatches or not step.output.startswith("exit 0")]
    assert not problems and not writes, (
        f"Salesforce write calls in the run with nothing new: {len(writes)} {sorted(writes)}\n{world.summary()}"
    )


def test_embedded_broker_converges(convergence: Convergence) -> None:
    converge(convergence)


@pytest.fixture
def workers(convergence: Convergence, amqp_url: str, tmp_path: Path) -> Iterator[Workers]:
    convergence.config["salesforce"]["bulk_threshold"] = 50
    convergence.use_broker(amqp_url)
    broker = make_broker(amqp_url)
    actors.bind(broker)
    broker.flush_all()
    started = Workers(convergence.config_path, tmp_path)
    started.start()
    yield started
    started.stop()
    broker.close()


@pytest.mark.rabbitmq
def test_rabbitmq_workers_converge(convergence: Convergence, workers: Workers) -> None:
    converge(convergence)
